// SPDX-License-Identifier: MIT

// Package load is the benchmark harness's own traffic generator (the
// engine of bench/cmd/loadgen). It measures what iperf3 cannot:
//
//   - TCP bulk transfer, byte-exact: the sender streams a deterministic
//     pattern and hashes it (SHA-256), the receiver hashes what arrived and
//     reports it back over the same connection, with a goodput timeline in
//     fixed buckets (10 ms by default) for outage measurement. One or more
//     streams; plain TCP or MPTCP (Go's SetMultipathTCP).
//   - UDP voice-like flows (e.g. 50 packets/s × 200 bytes) echoed by the
//     server: round-trip and one-way delay percentiles (one clock,
//     CLOCK_MONOTONIC, since client and server share the host), RFC 3550
//     interarrival jitter, loss per direction, and the longest gap.
//
// Serve answers both on one port (TCP sink and UDP echo). Timelines are
// aligned on CLOCK_REALTIME so streams of one run add up.
//
// Concurrency: Serve runs until its context ends, one goroutine per TCP
// connection plus one UDP echo loop, all owned and waited for. RunTCP and
// RunVoice are blocking calls. Nothing here is imported outside bench.
package load
