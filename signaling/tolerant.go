// SPDX-License-Identifier: MIT

package signaling

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
)

// tolerantConn is the MR's signaling socket as QUIC sees it. quic-go closes
// a connection whose socket returns an error on send; a socket bound to an
// uplink whose link just went down returns ENETUNREACH (the route is gone)
// or ENODEV, which would end the session a second before the connection
// could migrate to another uplink. Such errors are reported as a sent (and
// lost) datagram instead: QUIC's loss recovery and Migrate take it from
// there, and a connection that truly cannot go on ends by its idle
// timeout.
//
// It also records whether anything arrived (heard, if not nil): the
// handshake race uses that to tell a slow home agent from a dead uplink.
type tolerantConn struct {
	net.PacketConn
	heard *atomic.Bool
}

func (c tolerantConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(b)
	if err == nil && c.heard != nil && !c.heard.Load() {
		c.heard.Store(true)
	}
	return n, addr, err
}

// transient reports whether a send error means "this path is gone for
// now" rather than a broken socket.
func transient(err error) bool {
	for _, e := range []error{syscall.ENETUNREACH, syscall.EHOSTUNREACH, syscall.ENETDOWN, syscall.ENODEV,
		syscall.EADDRNOTAVAIL, syscall.ENOBUFS, syscall.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (c tolerantConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	n, err := c.PacketConn.WriteTo(b, addr)
	if err != nil && transient(err) {
		return len(b), nil
	}
	return n, err
}

// tolerantSocket is a tolerantConn over a real socket: the socket options
// quic-go sets go through to it (buffer sizes, don't-fragment); without
// them it warns on stderr. Batched I/O (ReadMsgUDP and WriteMsgUDP) is left
// out on purpose, so that every send goes through WriteTo.
type tolerantSocket struct{ tolerantConn }

type socket interface {
	net.PacketConn
	syscall.Conn
	SetReadBuffer(int) error
	SetWriteBuffer(int) error
}

func (c tolerantSocket) SetReadBuffer(n int) error  { return c.PacketConn.(socket).SetReadBuffer(n) }
func (c tolerantSocket) SetWriteBuffer(n int) error { return c.PacketConn.(socket).SetWriteBuffer(n) }
func (c tolerantSocket) SyscallConn() (syscall.RawConn, error) {
	return c.PacketConn.(socket).SyscallConn()
}

// tolerant wraps pc for QUIC as tolerantConn says; heard may be nil.
func tolerant(pc net.PacketConn, heard *atomic.Bool) net.PacketConn {
	if _, ok := pc.(socket); ok {
		return tolerantSocket{tolerantConn{pc, heard}}
	}
	return tolerantConn{pc, heard}
}
