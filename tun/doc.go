// SPDX-License-Identifier: MIT

// Package tun opens and configures the kernel TUN device of a monami node:
// it creates the interface with wireguard-go's tun package (virtio-net
// header with TSO/GRO offload), sets its MTU, adds its IPv4 and IPv6
// addresses, brings it up and installs routes into it through netlink.
//
// It sits at the inner edge of the data plane on both the mobile router and
// the home agent: tunnel reads the packets the OS routes into the TUN and
// writes the decapsulated packets back. The returned [Device] implements
// wireguard's tun.Device, which is the interface the engine takes, so tests
// substitute the fakes of tun/tuntest.
//
// Offload contract (wireguard tun.Device on Linux):
//   - BatchSize is 128 when the kernel accepted IFF_VNET_HDR offloads (1
//     otherwise). Read may split one TSO super-packet into up to BatchSize
//     packets; pass BatchSize buffers and treat tun.ErrTooManySegments as
//     a non-fatal drop.
//   - Every Read and Write needs an offset of at least 10 bytes of headroom
//     for the virtio-net header; reserve [Offset] bytes.
//   - Write coalesces packets in place (GRO): give each buffer spare
//     capacity beyond the packet (65535 bytes of capacity per buffer is
//     always enough), and expect the buffers' contents to be modified.
//
// Concurrency: one goroutine may Read while another Writes; AddRoute,
// DelRoute and Close may be called from any goroutine. Close closes the file
// descriptor, which makes the kernel delete the interface together with its
// addresses and routes. The package keeps no global state; netlink requests
// act in the network namespace of the calling thread. It imports no other
// monami package.
package tun
