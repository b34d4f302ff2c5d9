// SPDX-License-Identifier: MIT

package udpconn

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"

	"monami/paths"
)

// mmsghdr is struct mmsghdr of recvmmsg(2)/sendmmsg(2); Go pads it like C.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32 // bytes received or sent
}

// cmsgBuf is one message's control buffer, 8-byte aligned.
type cmsgBuf [cmsgWords]uint64

func (b *cmsgBuf) bytes() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), len(b)*8)
}

// reader is the scratch space of Read.
type reader struct {
	msgs  [batchSize]mmsghdr
	iovs  [batchSize]unix.Iovec
	names [batchSize]unix.RawSockaddrInet6
	oob   [batchSize]cmsgBuf

	fn    func(fd uintptr) bool // recvmmsg, bound once
	vlen  int                   // in: messages to receive
	got   int                   // out: messages received
	errno unix.Errno            // out

	// stash holds the segments of a coalesced read that did not fit the
	// caller's buffers: stash[off:end] in segments of seg bytes from ep.
	stash         []byte
	off, end, seg int
	ep            netip.AddrPort
}

func (r *reader) init(gro bool) {
	for i := range r.msgs {
		r.msgs[i].hdr.Iov = &r.iovs[i]
		r.msgs[i].hdr.SetIovlen(1)
	}
	if gro {
		r.stash = make([]byte, paths.MaxDatagram)
	}
	r.fn = r.recvmmsg
}

// recvmmsg is the RawConn.Read callback: false asks the poller to wait.
func (r *reader) recvmmsg(fd uintptr) bool {
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.msgs[0])), uintptr(r.vlen), 0, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		case 0:
			r.got, r.errno = int(n), 0
		default:
			r.got, r.errno = 0, e
		}
		return true
	}
}

// Read reads one or more datagrams into bufs (see paths.Conn), splitting
// GRO-coalesced reads into one entry per datagram. Each bufs[i] should hold
// paths.MaxDatagram bytes; a datagram (or coalesced read) longer than its
// buffer is dropped and counted as truncated. Only one goroutine may Read
// at a time.
func (c *Conn) Read(bufs [][]byte, sizes []int, eps []netip.AddrPort) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	r := &c.r
	if r.off < r.end {
		n, nbytes := r.unstash(bufs, sizes, eps)
		c.stats.DatagramsReceivedTotal.Add(uint64(n))
		c.stats.BytesReceivedTotal.Add(uint64(nbytes))
		return n, nil
	}
	nb := len(bufs)
	m, base := min(nb, batchSize), 0
	if c.gro {
		// Receive into the last m buffers, so that splitting forward
		// never overwrites a message not yet split.
		m = max(1, min(nb/maxSegments, batchSize))
		base = nb - m
	}
	for i := range m {
		b := bufs[base+i]
		r.iovs[i].Base = unsafe.SliceData(b)
		r.iovs[i].SetLen(len(b))
		h := &r.msgs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Namelen = sockaddrSize
		h.Control = (*byte)(unsafe.Pointer(&r.oob[i][0]))
		h.SetControllen(cmsgWords * 8)
		h.Flags = 0
	}
	r.vlen = m
	err := c.rc.Read(r.fn)
	clear(r.iovs[:m]) // keep no reference to the caller's buffers
	if err != nil {
		return 0, fmt.Errorf("udpconn %s: read: %w", c.laddr, err)
	}
	if r.errno != 0 {
		return 0, r.errno
	}

	o, nbytes, truncated := 0, 0, 0
	for j := range r.got {
		p := base + j
		h := &r.msgs[j].hdr
		if h.Flags&unix.MSG_TRUNC != 0 {
			truncated++
			continue
		}
		n := int(r.msgs[j].n)
		ep := addrPortOf(&r.names[j])
		seg := n
		if c.gro {
			if g := groSize(r.oob[j].bytes()[:h.Controllen]); g > 0 && g < n {
				seg = g
			}
		}
		src := bufs[p][:n]
		for off := 0; off < n || off == 0; off += seg {
			// Entry o may be written while o < nb, and o <= p or no
			// message follows this one (those sit at p+1...).
			if o == nb || (o > p && j < r.got-1) {
				// By the choice of m this happens only on the last
				// message (anything after it would be lost): keep the
				// rest for the next Read.
				if n > 0 {
					r.off, r.end, r.seg, r.ep = 0, copy(r.stash, src[off:]), seg, ep
				}
				truncated += r.got - 1 - j
				c.count(o, nbytes, truncated)
				return o, nil
			}
			end := min(off+seg, n)
			k := end - off
			if o != p || off != 0 {
				k = copy(bufs[o], src[off:end])
			}
			if k < end-off { // a caller buffer shorter than the contract
				truncated++
			} else {
				sizes[o], eps[o] = k, ep
				nbytes += k
				o++
			}
			if n == 0 { // an empty datagram is one entry
				break
			}
		}
	}
	c.count(o, nbytes, truncated)
	return o, nil
}

func (c *Conn) count(n, nbytes, truncated int) {
	c.stats.DatagramsReceivedTotal.Add(uint64(n))
	c.stats.BytesReceivedTotal.Add(uint64(nbytes))
	if truncated > 0 {
		c.stats.TruncatedTotal.Add(uint64(truncated))
	}
}

// unstash returns stashed segments into bufs.
func (r *reader) unstash(bufs [][]byte, sizes []int, eps []netip.AddrPort) (n, nbytes int) {
	for n < len(bufs) && r.off < r.end {
		end := min(r.off+r.seg, r.end)
		sizes[n] = copy(bufs[n], r.stash[r.off:end])
		eps[n] = r.ep
		nbytes += sizes[n]
		r.off = end
		n++
	}
	return n, nbytes
}

// groSize returns the segment size of a UDP_GRO control message in oob, or
// 0 if there is none.
func groSize(oob []byte) int {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.CmsgLen(0) || l > len(oob) {
			return 0
		}
		if h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO {
			data := oob[unix.CmsgLen(0):l]
			switch {
			case len(data) >= 4:
				return int(binary.NativeEndian.Uint32(data))
			case len(data) >= 2:
				return int(binary.NativeEndian.Uint16(data))
			}
			return 0
		}
		next := unix.CmsgSpace(l - unix.CmsgLen(0))
		if next > len(oob) {
			return 0
		}
		oob = oob[next:]
	}
	return 0
}

// addrPortOf converts a kernel socket address to a netip.AddrPort (without
// an IPv6 zone).
func addrPortOf(sa *unix.RawSockaddrInet6) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), ntohs(&sa4.Port))
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), ntohs(&sa.Port))
	}
	return netip.AddrPort{}
}

// ntohs reads a port stored in network byte order.
func ntohs(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// htons stores a port in network byte order.
func htons(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// writer is the scratch space of Write.
type writer struct {
	msgs  [batchSize]mmsghdr
	iovs  [batchSize]unix.Iovec
	oob   [batchSize]cmsgBuf
	first [batchSize]int // index in the chunk of each message's first datagram
	count [batchSize]int // datagrams in each message
	size  [batchSize]int // payload bytes of each message

	sa4     unix.RawSockaddrInet4
	sa6     unix.RawSockaddrInet6
	name    *byte
	namelen uint32

	fn          func(fd uintptr) bool // sendmmsg, bound once
	start, vlen int                   // in: messages to send
	sent        int                   // out: messages sent
	errno       unix.Errno            // out: error of message start+sent
	gsoWorked   bool                  // a GSO message was accepted once
}

func (w *writer) init() { w.fn = w.sendmmsg }

// sendmmsg is the RawConn.Write callback. It never asks the poller to wait:
// EAGAIN (a full send buffer) is reported like any other error.
func (w *writer) sendmmsg(fd uintptr) bool {
	for {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.msgs[w.start])), uintptr(w.vlen), 0, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case 0:
			w.sent, w.errno = int(n), 0
		default:
			w.sent, w.errno = 0, e
		}
		return true
	}
}

// setDest stores ep as the destination socket address.
func (w *writer) setDest(ep netip.AddrPort, is6 bool) bool {
	a := ep.Addr()
	if is6 {
		if !a.Is6() || a.Is4In6() {
			return false
		}
		w.sa6 = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
		htons(&w.sa6.Port, ep.Port())
		w.name, w.namelen = (*byte)(unsafe.Pointer(&w.sa6)), unix.SizeofSockaddrInet6
		return true
	}
	a = a.Unmap()
	if !a.Is4() {
		return false
	}
	w.sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
	htons(&w.sa4.Port, ep.Port())
	w.name, w.namelen = (*byte)(unsafe.Pointer(&w.sa4)), unix.SizeofSockaddrInet4
	return true
}

// build fills the message headers for chunk (at most batchSize datagrams)
// and returns how many messages it made. With gso, runs of equal-size
// datagrams (the last may be shorter) share one message.
func (w *writer) build(chunk [][]byte, gso bool) int {
	nm := 0
	for i := 0; i < len(chunk); {
		start, seg := i, len(chunk[i])
		total := seg
		i++
		if gso && seg > 0 {
			for i < len(chunk) && i-start < maxSegments {
				l := len(chunk[i])
				if l == 0 || l > seg || total+l > maxGSOBytes {
					break
				}
				total += l
				i++
				if l < seg {
					break
				}
			}
		}
		for k := start; k < i; k++ {
			w.iovs[k].Base = unsafe.SliceData(chunk[k])
			w.iovs[k].SetLen(len(chunk[k]))
		}
		h := &w.msgs[nm].hdr
		h.Name, h.Namelen = w.name, w.namelen
		h.Iov = &w.iovs[start]
		h.SetIovlen(i - start)
		h.Flags = 0
		if i-start > 1 {
			b := w.oob[nm].bytes()
			cm := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
			cm.Level, cm.Type = unix.SOL_UDP, unix.UDP_SEGMENT
			cm.SetLen(unix.CmsgLen(2))
			binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], uint16(seg))
			h.Control = &b[0]
			h.SetControllen(unix.CmsgSpace(2))
		} else {
			h.Control = nil
			h.SetControllen(0)
		}
		w.first[nm], w.count[nm], w.size[nm] = start, i-start, total
		nm++
	}
	return nm
}

// sendResult is the outcome of sending one chunk: done datagrams were
// handled (sent) before the message of failed datagrams that the kernel
// refused with errno (failed == 0: the whole chunk was sent), or err if
// the socket failed (closed).
type sendResult struct {
	done, failed int
	gso          bool // the refused message carried UDP_SEGMENT
	errno        unix.Errno
	err          error
}

// send sends chunk up to the first refused message.
func (c *Conn) send(chunk [][]byte, gso bool) sendResult {
	w := &c.w
	nm := w.build(chunk, gso)
	res := sendResult{done: len(chunk)}
	var dgrams, nbytes int
	for k := 0; k < nm; {
		w.start, w.vlen = k, nm-k
		if err := c.rc.Write(w.fn); err != nil {
			res = sendResult{done: w.first[k], err: err}
			break
		}
		for i := k; i < k+w.sent; i++ {
			dgrams += w.count[i]
			nbytes += w.size[i]
			if w.count[i] > 1 {
				w.gsoWorked = true
			}
		}
		k += w.sent
		if w.errno != 0 {
			res = sendResult{done: w.first[k], failed: w.count[k], gso: w.count[k] > 1, errno: w.errno}
			break
		}
	}
	clear(w.iovs[:len(chunk)]) // keep no reference to the caller's buffers
	c.stats.DatagramsSentTotal.Add(uint64(dgrams))
	c.stats.BytesSentTotal.Add(uint64(nbytes))
	return res
}

// Write sends each of bufs as one datagram to ep (see paths.Conn and the
// package doc for the errors). Only one goroutine may Write at a time.
func (c *Conn) Write(bufs [][]byte, ep netip.AddrPort) error {
	if len(bufs) == 0 {
		return nil
	}
	if !c.w.setDest(ep, c.is6) {
		c.stats.SendErrorsTotal.Add(uint64(len(bufs)))
		return ErrEndpoint
	}
	var first error
	for len(bufs) > 0 {
		res := c.send(bufs[:min(len(bufs), batchSize)], c.gso.Load())
		if res.err != nil {
			c.stats.SendErrorsTotal.Add(uint64(len(bufs) - res.done))
			return fmt.Errorf("udpconn %s: write: %w", c.laddr, res.err)
		}
		bufs = bufs[res.done:]
		if res.failed == 0 {
			continue
		}
		if res.gso && (res.errno == unix.EIO || res.errno == unix.EINVAL && !c.w.gsoWorked) {
			// The kernel or the device cannot segment: send one datagram
			// per message from now on, starting with the refused ones.
			c.gso.Store(false)
			c.stats.GSOFallbacksTotal.Add(1)
			c.log.Warn("udp gso refused, falling back to one datagram per message", "err", res.errno)
			continue
		}
		if res.errno == unix.EAGAIN {
			// The send buffer is full: the rest would fail too. Drop it
			// rather than block the caller (and its other paths).
			c.stats.SendErrorsTotal.Add(uint64(len(bufs)))
			return unix.EAGAIN
		}
		c.stats.SendErrorsTotal.Add(uint64(res.failed))
		if first == nil {
			first = res.errno
		}
		bufs = bufs[res.failed:]
	}
	return first
}
