// SPDX-License-Identifier: MIT

package tunnel

import (
	"errors"
	"fmt"
	"net"
	"os"

	wgtun "golang.zx2c4.com/wireguard/tun"

	"monami/paths"
	"monami/tunnel/frame"
)

// newBufs allocates a loop's batch of n buffers of size bytes each.
func newBufs(n, size int) [][]byte {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, size)
	}
	return bufs
}

// readTUN reads a batch from dev at txOffset. It returns the packets to
// process (possibly none, after a counted drop), or stop: nil when the TUN
// was closed (a clean shutdown), the error when it failed for good.
func readTUN(dev wgtun.Device, bufs [][]byte, sizes []int, d *drops) (n int, stop bool, err error) {
	n, err = dev.Read(bufs, sizes, txOffset)
	switch {
	case err == nil:
		return n, false, nil
	case errors.Is(err, os.ErrClosed) || errors.Is(err, net.ErrClosed):
		return 0, true, nil
	case errors.Is(err, wgtun.ErrTooManySegments):
		d.add(DropTUNError, 1)
		return 0, false, nil
	case n == 0:
		return 0, true, fmt.Errorf("tun read: %w", err)
	}
	return n, false, nil // some packets were read before the error
}

// copies are the buffers of the extra copies of redundant flows, for one
// sending loop; they grow to the most copies one batch needs.
type copies struct {
	bufs [][]byte
	n    int // used in the current batch
}

// seal copies pkt into the next free buffer (of size bufSize) and seals it
// as a copy frame (frame.TypeDataCopy) for path bid.
func (c *copies) seal(ks *keyState, bid paths.BID, pkt []byte, bufSize int) []byte {
	if c.n == len(c.bufs) {
		c.bufs = append(c.bufs, make([]byte, bufSize))
	}
	sp := c.bufs[c.n]
	c.n++
	n := copy(sp[txOffset:], pkt)
	h := frame.Header{Type: frame.TypeDataCopy, BID: bid, Receiver: ks.PeerIndex}
	h.Counter = ks.bid(bid).counter.Add(1) - 1
	fb := sp[txOffset-frame.HeaderLen:]
	h.Put(fb)
	return ks.send.Seal(fb, n, bid, h.Counter)
}
