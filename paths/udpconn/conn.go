// SPDX-License-Identifier: MIT

package udpconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"monami/paths"
)

// DefaultSocketBuffer is the SO_RCVBUF/SO_SNDBUF size Open and Listen ask
// for when Options.SocketBuffer is 0.
const DefaultSocketBuffer = 4 << 20

// ErrEndpoint is returned by Write for an endpoint that is invalid or not of
// the socket's address family (the socket family follows Options.Source).
var ErrEndpoint = errors.New("udpconn: endpoint not of the socket's address family")

// Limits of one batch and of one GSO message.
const (
	batchSize    = 128                      // messages per recvmmsg/sendmmsg; BatchSize
	maxSegments  = 64                       // datagrams per GSO message and per GRO read (kernel UDP_MAX_SEGMENTS, UDP_GRO_CNT_MAX)
	maxGSOBytes  = 65507                    // payload bytes per GSO message (65535 - IPv4 and UDP headers)
	cmsgWords    = 8                        // control buffer per message, in 8-byte words (room for UDP_GRO/UDP_SEGMENT)
	sockaddrSize = unix.SizeofSockaddrInet6 // room for either family's socket address
)

// Options configures Open. The zero value is valid: an unbound IPv4 socket
// on an ephemeral port with offloads on.
type Options struct {
	// Interface is the device the socket is bound to (SO_BINDTODEVICE);
	// empty means unbound (home agent, loopback tests).
	Interface string
	// Source is the local address and port to bind. An unspecified address
	// (0.0.0.0 or ::) binds all addresses, on Interface if set; the zero
	// AddrPort means 0.0.0.0:0. The socket's family follows Source: an IPv6
	// Source gives an IPv6-only socket.
	Source netip.AddrPort
	// DisableGSO and DisableGRO turn the UDP send and receive offloads off
	// (for tests and for comparison); they are otherwise used when the
	// kernel supports them.
	DisableGSO, DisableGRO bool
	// SocketBuffer is the send and receive buffer size in bytes; 0 means
	// DefaultSocketBuffer and a negative value keeps the kernel default. As
	// root the size may exceed net.core.rmem_max/wmem_max.
	SocketBuffer int
	// Logger receives lifecycle logs; nil discards them.
	Logger *slog.Logger
}

// Conn is one path's UDP socket. It implements paths.Conn; see the package
// doc for the batching, offload and error contract.
type Conn struct {
	// immutable after Open
	pc    *net.UDPConn
	rc    syscall.RawConn
	laddr netip.AddrPort
	is6   bool
	gro   bool
	log   *slog.Logger

	// atomic
	gso   atomic.Bool // cleared for good by a GSO fallback
	stats Stats

	closeOnce sync.Once
	closeErr  error

	// owned by the goroutine in Read
	r reader
	// owned by the goroutine in Write
	w writer
}

var _ paths.Conn = (*Conn)(nil)

// Open creates, binds and configures the socket described by opts.
func Open(opts Options) (*Conn, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pc, err := listen(opts.Interface, opts.Source, opts.SocketBuffer)
	if err != nil {
		return nil, err
	}
	c := &Conn{pc: pc}
	c.laddr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	c.laddr = netip.AddrPortFrom(c.laddr.Addr().Unmap(), c.laddr.Port())
	c.is6 = c.laddr.Addr().Is6()
	c.log = log.With("component", "udpconn", "iface", opts.Interface, "laddr", c.laddr)
	if c.rc, err = pc.SyscallConn(); err != nil {
		pc.Close()
		return nil, fmt.Errorf("udpconn %s: %w", c.laddr, err)
	}
	var gso, gro bool
	err = c.rc.Control(func(fd uintptr) {
		if !opts.DisableGSO {
			_, e := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
			gso = e == nil
		}
		if !opts.DisableGRO {
			gro = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil
		}
	})
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("udpconn %s: probe offloads: %w", c.laddr, err)
	}
	c.gso.Store(gso)
	c.gro = gro
	c.r.init(gro)
	c.w.init()
	c.log.Info("socket open", "gso", gso, "gro", gro)
	return c, nil
}

// Listen returns a plain UDP socket bound to iface (none if empty) and
// laddr, with the same binding and buffer sizing as Open (the default
// buffer size). It is for users that need a net.PacketConn, such as the
// QUIC signaling connection of an uplink.
func Listen(iface string, laddr netip.AddrPort) (*net.UDPConn, error) {
	return listen(iface, laddr, 0)
}

// listen opens a UDP socket of laddr's family, bound to iface before
// bind(2), with send and receive buffers of bufSize (see
// Options.SocketBuffer).
func listen(iface string, laddr netip.AddrPort, bufSize int) (*net.UDPConn, error) {
	if !laddr.IsValid() {
		laddr = netip.AddrPortFrom(netip.IPv4Unspecified(), laddr.Port())
	}
	a := laddr.Addr()
	if a.Is4In6() {
		a = a.Unmap()
	}
	network := "udp4"
	if a.Is6() {
		network = "udp6"
	}
	laddr = netip.AddrPortFrom(a, laddr.Port())
	if bufSize == 0 {
		bufSize = DefaultSocketBuffer
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = setupSocket(int(fd), iface, a.Is6(), bufSize) }); err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), network, laddr.String())
	if err != nil {
		if iface != "" {
			return nil, fmt.Errorf("udpconn: listen on %s %s: %w", iface, laddr, err)
		}
		return nil, fmt.Errorf("udpconn: listen on %s: %w", laddr, err)
	}
	return pc.(*net.UDPConn), nil
}

// setupSocket runs before bind(2): IPv6-only for IPv6 sockets, the device
// binding and the buffer sizes (the privileged FORCE variants first, which
// ignore the rmem_max/wmem_max caps; buffer failures are not fatal).
func setupSocket(fd int, iface string, is6 bool, bufSize int) error {
	if is6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return fmt.Errorf("set IPV6_V6ONLY: %w", err)
		}
	}
	if iface != "" {
		if err := unix.BindToDevice(fd, iface); err != nil {
			return fmt.Errorf("bind to device %s: %w", iface, err)
		}
	}
	if bufSize > 0 {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, bufSize) != nil {
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, bufSize)
		}
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, bufSize) != nil {
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, bufSize)
		}
	}
	return nil
}

// LocalAddr returns the address and port the socket is bound to.
func (c *Conn) LocalAddr() netip.AddrPort { return c.laddr }

// Offload reports whether UDP GSO (send) and GRO (receive) are in use. gso
// turns false after a fallback.
func (c *Conn) Offload() (gso, gro bool) { return c.gso.Load(), c.gro }

// BatchSize returns 128: the number of buffers Read and Write handle
// efficiently per call. With GRO, Read needs len(bufs) >= 64 per
// coalesced read it is to make.
func (c *Conn) BatchSize() int { return batchSize }

// Stats returns the socket's counters.
func (c *Conn) Stats() *Stats { return &c.stats }

// Close closes the socket; a blocked Read returns an error wrapping
// net.ErrClosed. Close is idempotent.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		if err := c.pc.Close(); err != nil {
			c.closeErr = fmt.Errorf("udpconn %s: close: %w", c.laddr, err)
		}
		c.log.Info("socket closed")
	})
	return c.closeErr
}

// Stats are the counters of one Conn, each updated once per batch. Read
// them with Snapshot.
type Stats struct {
	DatagramsSentTotal     atomic.Uint64 // datagrams the kernel accepted
	BytesSentTotal         atomic.Uint64 // UDP payload bytes of those
	DatagramsReceivedTotal atomic.Uint64 // datagrams returned by Read (GRO segments counted one by one)
	BytesReceivedTotal     atomic.Uint64 // UDP payload bytes of those
	SendErrorsTotal        atomic.Uint64 // datagrams the kernel refused (Write returned an error)
	TruncatedTotal         atomic.Uint64 // datagrams dropped because they did not fit the read buffer
	GSOFallbacksTotal      atomic.Uint64 // times GSO was turned off after the kernel refused it (0 or 1)
}

// StatsSnapshot is a copy of Stats at one moment.
type StatsSnapshot struct {
	DatagramsSentTotal     uint64
	BytesSentTotal         uint64
	DatagramsReceivedTotal uint64
	BytesReceivedTotal     uint64
	SendErrorsTotal        uint64
	TruncatedTotal         uint64
	GSOFallbacksTotal      uint64
}

// Snapshot returns the current counter values.
func (s *Stats) Snapshot() StatsSnapshot {
	return StatsSnapshot{
		DatagramsSentTotal:     s.DatagramsSentTotal.Load(),
		BytesSentTotal:         s.BytesSentTotal.Load(),
		DatagramsReceivedTotal: s.DatagramsReceivedTotal.Load(),
		BytesReceivedTotal:     s.BytesReceivedTotal.Load(),
		SendErrorsTotal:        s.SendErrorsTotal.Load(),
		TruncatedTotal:         s.TruncatedTotal.Load(),
		GSOFallbacksTotal:      s.GSOFallbacksTotal.Load(),
	}
}
