// SPDX-License-Identifier: MIT

package main

import (
	"net"
	"net/netip"
)

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
