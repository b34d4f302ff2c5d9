// SPDX-License-Identifier: MIT

package tun

import (
	"log/slog"
	"net/netip"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

func tcpipAddr(a netip.Addr) tcpip.Address { return tcpip.AddrFromSlice(a.AsSlice()) }
