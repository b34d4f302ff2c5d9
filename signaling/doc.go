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
// bad BID options, 128 otherwise) and no session. Both sides then export the
// data-plane keys from the TLS connection:
//
//	ExportKeyingMaterial("EXPORTER-monami-data-v1", gen ‖ mrIndex ‖ haIndex, 64)
//
// (three u32, big endian); bytes 0–31 key MR→HA, bytes 32–63 key HA→MR. The
// stream stays open for later messages; unknown ones are skipped. The
// session lives as long as the QUIC connection (keepalive 5 s, idle timeout
// 15 s).
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
