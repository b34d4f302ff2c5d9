// SPDX-License-Identifier: MIT

// Package paths is the vocabulary of monami's paths: the Binding ID (BID) that
// names one uplink tunnel, a path's state, and the batch datagram interface
// ([Conn]) that every per-path socket implements.
//
// It sits at the bottom of the import graph: the classifier, the data plane
// (tunnel), the control plane (signaling) and the path maintainer all speak of
// BIDs through this package without pulling in sockets or netlink. It holds
// no goroutines and no mutable package state; its types are plain values and
// safe to copy. It imports the standard library only.
package paths

import (
	"errors"
	"net/netip"
	"strconv"
)

// BID is a Binding ID (RFC 5648 §6.1): a 16-bit, nonzero identifier of one
// path (one uplink tunnel) of a mobile router. BIDs are stable per uplink for
// the life of a configuration. The zero BID means "no path".
type BID uint16

// String returns the decimal form of b.
func (b BID) String() string { return strconv.FormatUint(uint64(b), 10) }

// MaxDatagram is the largest UDP payload a [Conn] can be asked to read: with
// UDP GRO, one read may return up to this many bytes of coalesced datagrams.
const MaxDatagram = 65535

// ErrNoPath is returned by operations that need a live path and find none.
var ErrNoPath = errors.New("no live path")

// State is the liveness of a path.
type State uint8

const (
	// StateDown: the path cannot carry traffic (no socket, no address, or
	// declared dead by probing).
	StateDown State = iota
	// StateUp: the path carries traffic.
	StateUp
)

func (s State) String() string {
	switch s {
	case StateDown:
		return "down"
	case StateUp:
		return "up"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Conn is one path's datagram socket, batch-shaped in the manner of
// wireguard-go's conn.Bind. Implementations: paths/udpconn (a kernel UDP
// socket bound to one interface) and in-memory fakes in tests.
//
// Read and Write may be called concurrently with each other, but Read must
// only be called from one goroutine at a time, and so must Write.
type Conn interface {
	// Read reads one or more datagrams into bufs, blocking until at least one
	// arrives. It sets sizes[i] to the length of datagram i and eps[i] to its
	// source, and returns how many it read. Each bufs[i] must have a length of
	// at least MaxDatagram; len(sizes) and len(eps) must be >= len(bufs). The
	// buffers are borrowed: Read keeps no reference after it returns. After
	// Close, Read returns net.ErrClosed.
	Read(bufs [][]byte, sizes []int, eps []netip.AddrPort) (n int, err error)

	// Write sends each of bufs as one datagram to ep. bufs is borrowed. An
	// error means some datagrams may not have been sent; callers count them
	// as dropped and go on.
	Write(bufs [][]byte, ep netip.AddrPort) error

	// BatchSize is the largest number of datagrams Read fills or Write sends
	// efficiently in one call. It never changes.
	BatchSize() int

	// Close closes the socket; blocked Reads return net.ErrClosed.
	Close() error
}
