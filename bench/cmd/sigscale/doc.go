// SPDX-License-Identifier: MIT

// Command sigscale is the signaling scale benchmark (monami issue #4): one
// home agent (a [signaling.Server]) and a swarm of simulated mobile routers
// (one [signaling.Client] each, with -bids paths), on 127.0.0.1 only. It
// reports how fast the HA registers them (sessions/s, bindings/s), the HA's
// memory per MR, the HA's CPU cost per binding refresh and its idle CPU
// with every MR connected (heartbeats and keepalives).
//
//	go run ./bench/cmd/sigscale -mrs 1000 -bids 3 -lifetime 12s -hold 40s [-idle 15s] [-rekey 1h] [-json FILE]
//
// It runs as three processes, so that the HA's cost is measured alone: the
// parent (this command) re-executes itself as the HA (-role ha) and as the
// MR swarm (-role mrs), talks to both over their stdin and stdout (one
// command a line in, one JSON object a line out), and measures:
//
//  1. the HA's baseline memory;
//  2. swarm A (-lifetime, -rekey): the time until all MRs have a session
//     (-concurrency dialing at once) and the HA's CPU for it, the HA's
//     memory after that, then the HA's CPU time over -hold, sampled every
//     second, and the refreshes it processed (each refresh is one bulk
//     binding update, so one OnBindings call, for all of an MR's BIDs).
//     The gross cost per refresh is the hold's CPU over its refreshes
//     (heartbeats included); the fitted one is the slope of a least
//     squares fit of each second's CPU on its refreshes (and rekeys),
//     which the refresh bursts make possible. Every MR must stay
//     registered through the hold;
//  3. swarm A stops, swarm B (same MRs, binding lifetime 1 h, so no
//     refresh) registers again, and the HA's CPU over -idle is its idle
//     cost with N MRs connected: the MRs' 1 s heartbeats, QUIC keepalives
//     and acknowledgements.
//
// Each window also records the swarm's CPU, the whole machine's
// (/proc/stat) and so the other processes' share, and the longest gap
// between the HA's once-a-second answers: on a shared machine these say
// which figures to distrust.
//
// It prints a markdown table and, with -json, writes the full report. It
// exits 1 if a check fails (an MR not registered, a session replaced, a
// binding that lapsed). The children end when their stdin closes, and are
// killed if they have not 15 s later, also on SIGINT and SIGTERM.
//
// It imports only the standard library, monami/signaling,
// monami/signaling/msg, monami/paths and golang.org/x/sys/unix; nothing
// imports it.
package main
