// SPDX-License-Identifier: MIT

package tunnel

import (
	"errors"
	"fmt"
	"net"
	"os"

	wgtun "golang.zx2c4.com/wireguard/tun"
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
