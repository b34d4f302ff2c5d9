// SPDX-License-Identifier: MIT

package linkem

import (
	"errors"
	"fmt"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// vnetHdrLen is the size of struct virtio_net_hdr, which precedes every
// frame read from or written to a socket with PACKET_VNET_HDR.
const vnetHdrLen = 10

// batch is the number of frames per recvmmsg / sendmmsg.
const batch = 64

// packetSock is an AF_PACKET SOCK_RAW socket bound to one interface, for
// all protocols, ignoring frames the host itself sends on it (so frames the
// emulator writes are not read back), with virtio-net headers.
type packetSock struct {
	fd      int
	ifindex int
	mtu     int
	name    string
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openPacket opens the socket for the interface name in the calling
// thread's network namespace.
func openPacket(name string) (*packetSock, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", name, err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("packet socket on %s: %w", name, err)
	}
	fail := func(what string, err error) (*packetSock, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("packet socket on %s: %s: %w", name, what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fail("PACKET_IGNORE_OUTGOING", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		return fail("PACKET_VNET_HDR", err)
	}
	// Deep socket buffers: the emulator reads in bursts between releases.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20); err != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 16<<20)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20); err != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	// Frames queued before the bind belong to no direction yet; they are
	// harmless, so they are not drained.
	return &packetSock{fd: fd, ifindex: ifi.Index, mtu: ifi.MTU, name: name}, nil
}

func (s *packetSock) close() error { return unix.Close(s.fd) }

// kernelDrops returns the frames the kernel dropped for this socket since
// the last call (PACKET_STATISTICS resets on read).
func (s *packetSock) kernelDrops() uint64 {
	var st unix.TpacketStats
	l := uint32(unsafe.Sizeof(st))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s.fd), unix.SOL_PACKET, unix.PACKET_STATISTICS,
		uintptr(unsafe.Pointer(&st)), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return 0
	}
	return uint64(st.Drops)
}

// EthtoolArgs returns the ethtool arguments that make dev, an interface
// sending into the emulator, hand it MTU-sized frames: hardware TCP and UDP
// segmentation off (software GSO and checksum offload stay on). Run them
// in dev's namespace: ip netns exec NS ethtool <args>.
func EthtoolArgs(dev string) []string {
	return []string{"-K", dev, "tso", "off", "tx-udp-segmentation", "off"}
}

// mmsg is a reusable recvmmsg/sendmmsg vector.
type mmsg struct {
	hdrs [batch]unix.Mmsghdr
	iovs [batch]unix.Iovec
}

func (m *mmsg) set(i int, b []byte) {
	m.iovs[i].Base = unsafe.SliceData(b)
	m.iovs[i].SetLen(len(b))
	m.hdrs[i].Hdr = unix.Msghdr{Iov: &m.iovs[i], Iovlen: 1}
	m.hdrs[i].Len = 0
}

// recv reads up to n frames without blocking into the buffers set with
// set. It returns the number read; msg i's length is m.hdrs[i].Len, which
// exceeds the buffer when the frame was truncated (MSG_TRUNC).
func (s *packetSock) recv(m *mmsg, n int) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&m.hdrs[0])), uintptr(n),
		unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// send writes frames off..off+n-1 of m; it returns how many the kernel
// took. On an error for the first of them it returns 0 and the error.
func (s *packetSock) send(m *mmsg, off, n int) (int, error) {
	r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&m.hdrs[off])), uintptr(n), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// rawPpoll is ppoll(2) without telling the Go scheduler: the calling
// goroutine keeps its P while it waits. The direction loops run on locked
// threads and wait often and briefly; a normal syscall would hand the P
// off and take it back on every wake, which costs more than the
// forwarding. A signal (Go's preemption, SIGURG) interrupts the wait with
// EINTR; the caller must then yield (runtime.Gosched), which is how the
// scheduler and the GC get the goroutine back promptly.
func rawPpoll(fds []unix.PollFd, ts *unix.Timespec) error {
	_, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)),
		uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// transient reports errors a direction survives: the interface going down
// or away, buffer pressure, signals.
func transient(err error) bool {
	return errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENETDOWN) ||
		errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.ENXIO) || errors.Is(err, unix.ENODEV) ||
		errors.Is(err, unix.EMSGSIZE) || errors.Is(err, unix.ENOMEM)
}
