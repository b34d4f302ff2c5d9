// SPDX-License-Identifier: MIT

// Package linkem is a userspace link emulator: a transparent bump in the wire
// between two network interfaces (typically one end each of two veth pairs
// inside an "emu" namespace). Every Ethernet frame read from one interface
// is forwarded to the other, so anything crosses it: ARP, NDP, ICMP, UDP,
// TCP, MPTCP. The kernel of the benchmark machine has no netem, which is why
// this exists.
//
// Per direction it emulates:
//
//   - rate: a token bucket in bytes of Ethernet frame (destination MAC to end
//     of payload; no preamble, FCS or gap) per second, feeding a drop-tail
//     queue bounded in bytes;
//   - delay (fixed) and jitter (uniform or normal), without reordering unless
//     reordering is enabled;
//   - random loss and Gilbert-Elliott bursty loss;
//   - duplication and reordering (a reordered frame skips the delay);
//   - blackhole: every frame is silently dropped.
//
// Parameters change at run time (Emulator.Set, a control socket served by
// ServeControl, or a Script of timed events). A "link down" is not the
// emulator's business: the harness sets the router-side veth down via
// netlink so both ends see the carrier go; the emulator only blackholes.
//
// # Layout
//
// The pure model is [Link] (token bucket, queue accounting, loss, jitter;
// time passed in) and [Line] (a Link plus the delay line of held frames, a
// heap ordered by release time). They have no goroutines and no clock, and
// are unit-tested with explicit times. [Emulator] is the I/O shell: one
// goroutine per direction, locked to its OS thread, which waits with ppoll
// (nanosecond timeout, 1 µs timer slack) for either a readable AF_PACKET
// socket or the next release time, reads frames with recvmmsg, schedules
// them through the Line, and writes due frames with sendmmsg.
//
// # Offloads
//
// The sockets use PACKET_VNET_HDR, so the kernel's checksum-offload state
// travels with each frame: a frame whose checksum the sender left to
// hardware (CHECKSUM_PARTIAL, the veth default) is handed on the same way,
// and the receiver accepts it as the kernel would have without the
// emulator. Frames larger than the interface MTU (TSO/GSO/USO super-frames)
// would make the emulation coarse (one 64 KiB frame lost = 45 segments
// lost), so the interfaces that send INTO the emulator must have hardware
// segmentation off: `ethtool -K dev tso off tx-udp-segmentation off` (see
// EthtoolArgs). The kernel then segments TCP and UDP-GSO super-packets in
// software (GSO stays on) just before the veth, so the emulator sees
// MTU-sized frames; checksum offload stays on and is carried through as
// described above. Frames longer than the
// receive buffer (MTU + headers) are dropped and counted as
// [DropOversize]; the harness treats a nonzero count as a setup error.
//
// # Concurrency
//
// An Emulator's methods are safe for concurrent use. A Link or Line is owned
// by one goroutine. Stats are atomic counters.
//
// linkem is part of the benchmark harness (bench); nothing outside bench
// imports it.
package linkem
