// SPDX-License-Identifier: MIT

package tuntest

import (
	"net/netip"

	wgtun "golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/netstack"
)

// NetstackTUN returns a TUN device whose other side is a full gVisor TCP/IP
// stack holding addrs, and the handle to dial and listen on that stack.
//
// Packets the stack sends come out of the device's Read; packets given to
// Write are delivered to the stack. Two NetstackTUNs whose packets are
// shuttled between them (or a NetstackTUN at each end of a monami tunnel)
// therefore carry real TCP, UDP and ICMP in-process, without root. No DNS
// servers are configured. The device's BatchSize is 1 and it needs no
// offset headroom (any offset works).
func NetstackTUN(addrs []netip.Addr, mtu int) (wgtun.Device, *netstack.Net, error) {
	return netstack.CreateNetTUN(addrs, nil, mtu)
}
