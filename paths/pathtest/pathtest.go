// SPDX-License-Identifier: MIT

// Package pathtest provides in-memory fakes of [paths.Conn] for tests: a
// [Network] of endpoints that exchange datagrams through bounded channels,
// with per-endpoint switches for blackholing and loss. It lets the data plane
// and the daemons be tested in-process without sockets or root.
//
// All types are safe for concurrent use. It must only be imported by tests
// and test helpers.
package pathtest

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"monami/paths"
)

// queueLen bounds every endpoint's receive queue; overflow is dropped and
// counted, like a kernel socket buffer.
const queueLen = 4096

// Network is a set of in-memory endpoints addressed by netip.AddrPort.
// The zero value is ready to use.
type Network struct {
	mu    sync.Mutex
	conns map[netip.AddrPort]*Conn
}

type datagram struct {
	from netip.AddrPort
	b    []byte
}

// Conn is one in-memory endpoint; it implements [paths.Conn].
type Conn struct {
	net   *Network
	addr  netip.AddrPort
	in    chan datagram
	done  chan struct{}
	close sync.Once

	// Blackhole, when set, silently drops everything this endpoint sends;
	// Deaf, everything sent to it.
	Blackhole, Deaf atomic.Bool

	// Dropped counts datagrams lost to a full receive queue or a blackhole.
	Dropped atomic.Uint64
}

var _ paths.Conn = (*Conn)(nil)

// Listen creates an endpoint at addr. It panics if addr is taken, which is a
// bug in the test.
func (n *Network) Listen(addr netip.AddrPort) *Conn {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conns == nil {
		n.conns = make(map[netip.AddrPort]*Conn)
	}
	if _, ok := n.conns[addr]; ok {
		panic("pathtest: address in use: " + addr.String())
	}
	c := &Conn{net: n, addr: addr, in: make(chan datagram, queueLen), done: make(chan struct{})}
	n.conns[addr] = c
	return c
}

func (n *Network) lookup(addr netip.AddrPort) *Conn {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.conns[addr]
}

// LocalAddr returns the endpoint's address.
func (c *Conn) LocalAddr() netip.AddrPort { return c.addr }

// Read implements [paths.Conn].
func (c *Conn) Read(bufs [][]byte, sizes []int, eps []netip.AddrPort) (int, error) {
	var d datagram
	select {
	case d = <-c.in:
	case <-c.done:
		return 0, net.ErrClosed
	}
	n := 0
	for {
		sizes[n] = copy(bufs[n], d.b)
		eps[n] = d.from
		n++
		if n == len(bufs) {
			return n, nil
		}
		select {
		case d = <-c.in:
		default:
			return n, nil
		}
	}
}

// Write implements [paths.Conn]. Datagrams to an unknown address vanish.
func (c *Conn) Write(bufs [][]byte, ep netip.AddrPort) error {
	select {
	case <-c.done:
		return net.ErrClosed
	default:
	}
	dst := c.net.lookup(ep)
	for _, b := range bufs {
		if dst == nil || c.Blackhole.Load() || dst.Deaf.Load() {
			c.Dropped.Add(1)
			continue
		}
		select {
		case dst.in <- datagram{from: c.addr, b: append([]byte(nil), b...)}:
		default:
			dst.Dropped.Add(1)
		}
	}
	return nil
}

// BatchSize implements [paths.Conn].
func (c *Conn) BatchSize() int { return 64 }

// Close implements [paths.Conn]; it frees the address.
func (c *Conn) Close() error {
	c.close.Do(func() {
		close(c.done)
		c.net.mu.Lock()
		delete(c.net.conns, c.addr)
		c.net.mu.Unlock()
	})
	return nil
}
