// SPDX-License-Identifier: MIT

// Package tunnel is monami's data plane: it moves inner IP packets between a
// TUN device and the per-path sockets ([paths.Conn]), sealing each one into a
// data-plane frame (see tunnel/frame) with the AEAD keys of the current
// signaling session.
//
// Two engines share the code: [Router] runs on the mobile router (MR) and
// [Agent] on the home agent (HA).
//
// MR uplink pipeline (one goroutine, Router.readLoop; run to completion per
// batch):
//
//  1. TUN read: a batch of up to BatchSize packets, each at buf[txOffset:]
//     (the TUN splits TSO super-packets; headroom in front of each packet is
//     left for the frame header).
//  2. Parse the flow key (classifier.Parsed), look it up in the policy
//     table (through a flow cache; [Router.SetTable]) and take the decision's
//     path: the first Up BID (single), a capacity-weighted pick by flow hash
//     (stripe), a copy on each Up BID (redundant), or a drop. Flows no rule
//     matches get a path by rendezvous hashing of the 5-tuple over the Up
//     BIDs, so a flow stays on its path and only the flows of a path that
//     dies move. A suspect path keeps its flows, but their packets also go
//     as copy frames on a path that answers (hedging), until it answers or
//     is declared Down.
//  3. Write the 16-byte frame header in the headroom, take the path's next
//     counter, seal in place (no payload copy).
//  4. Group by path and hand each group to its Conn in one Write (UDP GSO
//     where the socket has it).
//
// MR downlink (one goroutine per path, Router.recvLoop): Conn read batch →
// parse frame → check receiver index and that the BID is this path's →
// open in place → replay check for (session, BID) → TUN write batch.
//
// HA uplink (one goroutine per listening Conn, Agent.recvLoop): read batch →
// parse → find the MR session by receiver index → open → replay check →
// authorize the inner source against that MR's prefixes → learn the BID's
// endpoint (only now, from an authenticated packet) and record which BID the
// flow came in on → TUN write batch. Authenticated keepalives are answered;
// nothing else is ever answered.
//
// HA downlink (one goroutine, Agent.readLoop): TUN read batch → longest
// prefix match of the destination onto an MR → that MR's flow-binding table
// ([Agent.SetPeerTable]), else the BID its flow came in on, else rendezvous
// hashing over the MR's registered paths → a copy on another path too if
// the router's data on this one just went silent, or the router flags its
// frames on it unanswered (hedging) → seal → group by
// (socket, endpoint) → Write. Copy frames are delivered once: the first
// copy wins, on both sides.
//
// Buffers are allocated once per loop and owned by that loop; Conns and the
// TUN borrow them. The hot paths read the session and path set through
// atomic pointers, once per batch, and allocate nothing in the steady state.
// Drops are counted per [DropReason], never logged per packet.
//
// Concurrency: the exported methods of Router and Agent are safe for
// concurrent use. Run owns the TUN and every Conn handed to the engine and
// closes them when it returns. The package must not import signaling or
// configs: cmd wires the signaling session into [Router.SetSession] and
// [Agent.SetSession].
package tunnel
