// SPDX-License-Identifier: MIT

// Package tuntest holds fakes of the TUN device for tests: an in-memory
// channel TUN ([ChannelTUN]), a TUN backed by a full gVisor TCP/IP stack
// ([NetstackTUN]) so that real TCP runs through a tunnel in-process without
// root, and builders of IPv4/IPv6 packets ([UDPPacket], [ICMPEcho],
// [TCPSyn]) with correct checksums.
//
// It stands in for package tun (the kernel TUN) under the data-plane engine,
// and is imported only by _test.go files. The fakes implement the wireguard
// tun.Device interface with the same concurrency contract as the real
// device: one reader and one writer may run concurrently; Close may be called
// from any goroutine and unblocks both. The builders are pure functions.
package tuntest
