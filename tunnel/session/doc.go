// SPDX-License-Identifier: MIT

// Package session owns the data-plane cryptography of monami: the AEAD
// suites, the derivation of the two direction keys from the TLS exporter of
// the signaling connection, and sealing and opening frames in place with the
// BID in the nonce (docs/internals.md, "Keys").
//
// The signaling layer exports 64 bytes with [ExporterLabel] and
// [ExporterContext]; [SplitKeys] cuts them into the MR→HA and HA→MR keys;
// the tunnel engine makes one [Cipher] per direction and calls
// [Cipher.Seal] on the send path and [Cipher.Open] on the receive path. Each
// direction uses its own key and each BID its own counter, and the nonce is
// 0x0000 ‖ BID ‖ counter, so no (key, nonce) pair repeats as long as the
// caller never reuses a counter on a BID.
//
// A Cipher is immutable after [New] and safe for concurrent use. Seal and
// Open do not allocate. The package imports only the standard library,
// golang.org/x/crypto and monami/paths.
package session
