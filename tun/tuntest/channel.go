// SPDX-License-Identifier: MIT

package tuntest

import (
	"fmt"
	"io"
	"os"
	"sync"

	wgtun "golang.zx2c4.com/wireguard/tun"
)

// ChannelTUN is an in-memory TUN device driven by channels: the test plays
// the operating system. It implements the wireguard tun.Device interface.
//
//   - Outbound carries packets "written by the OS" into the tunnel: the test
//     sends a packet on it and the device returns it from Read.
//   - Inbound carries packets the tunnel delivers to the OS: every packet
//     given to Write is copied and sent on it.
//
// Packets are whole IPv4/IPv6 packets with no headroom. The test owns the
// slices it sends on Outbound (Read copies them) and receives fresh copies on
// Inbound. Read returns at most BatchSize packets per call: it blocks for the
// first and then takes whatever is already queued. Write blocks while
// Inbound is full. After Close, Read and Write return os.ErrClosed; the
// channels themselves are never closed, so late sends by the test do not
// panic.
type ChannelTUN struct {
	// Outbound holds packets Read will return (buffered, 1024).
	Outbound chan []byte
	// Inbound receives the packets given to Write (buffered, 1024).
	Inbound chan []byte

	mtu    int
	batch  int
	events chan wgtun.Event
	closed chan struct{}
	once   sync.Once
}

var _ wgtun.Device = (*ChannelTUN)(nil)

// NewChannelTUN returns a ChannelTUN reporting mtu (0 means 1420) and
// reading at most batchSize packets per Read (values below 1 mean 1). Its
// Events channel holds one EventUp.
func NewChannelTUN(mtu, batchSize int) *ChannelTUN {
	if mtu <= 0 {
		mtu = 1420
	}
	if batchSize < 1 {
		batchSize = 1
	}
	t := &ChannelTUN{
		Outbound: make(chan []byte, 1024),
		Inbound:  make(chan []byte, 1024),
		mtu:      mtu,
		batch:    batchSize,
		events:   make(chan wgtun.Event, 1),
		closed:   make(chan struct{}),
	}
	t.events <- wgtun.EventUp
	return t
}

// File returns nil: there is no file descriptor.
func (t *ChannelTUN) File() *os.File { return nil }

// Read blocks until a packet is on Outbound, then copies it and any further
// queued packets (up to BatchSize and len(bufs)) into bufs at offset. A
// packet longer than the room in its buffer is an error (io.ErrShortBuffer)
// and is lost, as with a kernel TUN.
func (t *ChannelTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	var p []byte
	select {
	case <-t.closed:
		return 0, os.ErrClosed
	default:
	}
	select {
	case <-t.closed:
		return 0, os.ErrClosed
	case p = <-t.Outbound:
	}
	limit := min(len(bufs), t.batch)
	n := 0
	for {
		if len(p) > len(bufs[n])-offset {
			if n > 0 {
				return n, nil
			}
			return 0, fmt.Errorf("tuntest: packet of %d bytes: %w", len(p), io.ErrShortBuffer)
		}
		sizes[n] = copy(bufs[n][offset:], p)
		n++
		if n == limit {
			return n, nil
		}
		select {
		case p = <-t.Outbound:
		default:
			return n, nil
		}
	}
}

// Write copies each bufs[i][offset:] and sends it on Inbound, blocking while
// Inbound is full. It returns the number of packets written.
func (t *ChannelTUN) Write(bufs [][]byte, offset int) (int, error) {
	for i, b := range bufs {
		p := append([]byte(nil), b[offset:]...)
		select {
		case <-t.closed:
			return i, os.ErrClosed
		default:
		}
		select {
		case <-t.closed:
			return i, os.ErrClosed
		case t.Inbound <- p:
		}
	}
	return len(bufs), nil
}

// MTU returns the MTU given to NewChannelTUN.
func (t *ChannelTUN) MTU() (int, error) { return t.mtu, nil }

// Name returns "chantun".
func (t *ChannelTUN) Name() (string, error) { return "chantun", nil }

// Events returns the event channel; it is closed by Close.
func (t *ChannelTUN) Events() <-chan wgtun.Event { return t.events }

// BatchSize returns the batch size given to NewChannelTUN.
func (t *ChannelTUN) BatchSize() int { return t.batch }

// Close unblocks Read and Write; it is idempotent.
func (t *ChannelTUN) Close() error {
	t.once.Do(func() {
		close(t.closed)
		close(t.events)
	})
	return nil
}
