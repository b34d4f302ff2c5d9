// SPDX-License-Identifier: MIT

// Package classifier owns the decoding of an inner packet's flow key and, in
// later issues, the compiled policy table that maps flows to paths.
//
// Today it holds the allocation-free part of the uplink and downlink hot
// path: [Parsed.Decode] reads the version, addresses, protocol, ports (or
// ICMP echo identifier), DSCP and flow label of an IPv4 or IPv6 packet in
// place; [Parsed.Hash] and [Parsed.SymmetricHash] reduce the 5-tuple to a
// stable 64-bit flow hash; and [Pick] maps a flow hash to one of the live
// BIDs by rendezvous hashing, so that losing a path moves only its own flows.
//
// The tunnel engine calls it once per packet, between the TUN read and the
// seal (and after the open, to check inner addresses). The package keeps no
// mutable state: its functions are safe for concurrent use, and a Parsed
// value belongs to the goroutine that decodes into it. None of them allocate
// or keep a reference to the packet. It imports only the standard library
// and monami/paths; it must not import tunnel or signaling.
package classifier
