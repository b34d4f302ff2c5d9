// SPDX-License-Identifier: MIT

// Package signaling is monami's control channel between a mobile router (MR,
// the [Client]) and its home agent (HA, the [Server]): one QUIC connection
// (TLS 1.3, ALPN "monami/1") per MR, on which the MR registers its paths
// (BIDs) and mobile network prefixes with a binding update and both sides
// set up the data-plane session. Messages and their codec are in
// signaling/msg; this package owns the protocol, the identities and the
// connection lifecycle.
//
// # Identities
//
// Each side has an Ed25519 key pair and presents a self-signed certificate
// over it ([NewTLSCertificate]). There is no CA: the MR pins the HA's public
// key, the HA lists each MR's public key ([Peer]), and each side accepts the
// handshake only if the peer presents exactly one certificate whose key is
// the pinned (or a listed) one. A peer with another key gets nothing but the
// TLS alert: no stream, no message, no state.
//
// # Session set-up
//
// The MR opens one bidirectional stream and sends a binding update (A, H and
// R flags, one BID option per path, one prefix option per mobile network
// prefix, and a Session option with its receiver index, generation 1 and
// AEAD suite). The HA checks it (suite supported, at least one BID, BIDs
// nonzero and unique, every claimed prefix inside the MR's configured
// prefixes), picks its own receiver index and answers with a binding
// acknowledgement (status, per-BID status, Session option). A rejected
// update gets a failure status (129 for a prefix the MR may not use, 164 for
// bad BID options, 142 for a prefix the MR may not claim (NEMO "not
// authorized for prefix"), 128 otherwise) and no session. Both sides then export the
// data-plane keys from the TLS connection:
//
//	ExportKeyingMaterial("EXPORTER-monami-data-v1", gen ‖ mrIndex ‖ haIndex, 64)
//
// (three u32, big endian); bytes 0–31 key MR→HA, bytes 32–63 key HA→MR. The
// stream stays open for later messages; unknown ones are skipped. The
// session lives as long as the QUIC connection (keepalive 5 s, idle timeout
// 15 s, and a padded 1 s heartbeat from the MR so that a restarted HA's
// stateless reset reaches it at once; skipped while the MR's data plane
// hears from the HA, which a restarted HA, without the session's keys,
// cannot make happen).
//
// Connecting: with ClientOptions.ListenAll the MR offers a socket on each
// open uplink and races the handshake over them (as Happy Eyeballs does,
// RFC 8305): the preferred uplink first, the next 400 ms later or as soon
// as one fails, but only while nothing came back on those started (an
// answer means a busy HA, not a dead uplink). The first handshake to
// complete wins; the others are closed. An attempt on which nothing came
// back gives up after 1.5 s, so that a returning uplink meets a fresh
// Initial within about a second, and the reconnect backoff counts from an
// attempt's start.
//
// # The established session
//
// On the same stream, one message loop per side ([Client] and [Server]
// each run one per connection) keeps the HA's binding cache right:
//
//   - Bindings (RFC 6275, RFC 5648): the MR registers the paths it is
//     given ([Client.SetPaths]) in one bulk update, with their care-of
//     addresses; a path left out is removed at once by an update with
//     lifetime 0 listing its BID; every registration is refreshed at 2/3
//     of the lifetime the HA granted (at most ServerOptions.MaxLifetime),
//     and a binding that is not refreshed lapses at the HA (a second after
//     its lifetime, and only after the messages already received are
//     read). One update is
//     outstanding at a time; an unanswered one is sent again after 1 s,
//     doubling to 32 s, each time under a new sequence number. The HA
//     accepts a sequence number only if it is ahead of the last one it
//     accepted by less than 2^15 (modulo 2^16); otherwise it answers 135
//     with the last accepted number, which the MR continues from.
//   - Flow bindings (RFC 6089, with RFC 6088 selectors): the MR sends the
//     differences between the flows it wants ([Client.SetFlowBindings])
//     and those the HA holds, with explicit add, modify and delete actions
//     (RFC 7109), at most 200 per update; what several BIDs mean travels
//     in monami sub-options (200: failover, spread or redundant; 201: the
//     spread weights). The HA answers each with its
//     status (130 malformed, 131 a BID not registered, 132 an unknown FID,
//     128 beyond 4096 flows) and hands the accepted set to OnFlows, which
//     drives its downlink. Refusals reach the MR's OnError with the FID.
//   - Rekeying (key update 65, ack 67): every RekeyInterval (120 s) the MR
//     names a new receiver index for generation g+1; the HA answers with
//     its own; both derive the keys of g+1 with the exporter above. The
//     data plane refuses any generation older than 180 s, so a session
//     whose rekey fails (no ack within 10 s) is closed and made anew.
//   - Path reports (type 64) both ways every ReportInterval (2 s) and on
//     [Client.Poke]: the MR's measurements to the HA, the HA's view (what
//     it receives per path) to the MR.
//   - Migration: [Client.Migrate] moves the QUIC connection to a socket on
//     another uplink (QUIC path validation, then switch) within a second;
//     if no other uplink validates, the connection stays and the move is
//     tried again each second (five times); a connection that then dies
//     of its idle timeout is made anew over whatever uplink works.
//
// # Lifecycle and concurrency
//
// [Client.Run] and [Server.Run] block until their context ends and own every
// goroutine they start; they return only after all have ended. The
// callbacks in the options (OnSession, OnDown, OnSessionEnd) are called from
// those goroutines, must not block, and must not call back into the Client
// or Server. Stats are safe to read at any time.
//
// Metrics (Stats): client connects, sessions, failures; server connections,
// handshakes rejected, sessions, sessions ended, bindings rejected,
// malformed.
//
// The package must not import the data plane (monami/tunnel) or monami/
// configs: cmd wires a [Session] into the data plane.
package signaling
