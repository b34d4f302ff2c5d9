// SPDX-License-Identifier: MIT

// Package scenario is the benchmark harness's runner: the scenarios
// (single-path, aggregation, failover, voice + bulk, loss), how each takes
// a sample on a topology (bench/topo) with a system running (bench/anchor),
// the repetition loop, and the reports (report.md, results.json, PNG
// timelines via bench/plot).
//
// Each sample builds its own topology from scratch and tears it down, so
// no state leaks between systems; systems are interleaved within each
// repetition so background load on the shared machine hits all of them
// alike. Traffic comes from iperf3 (single-path) and bench/cmd/loadgen
// (byte-exact transfers with timelines, voice probes); CPU is read from
// /proc.
//
// Run is sequential and blocks; it honours ctx. Part of the benchmark
// harness; nothing outside bench imports it.
package scenario
