// SPDX-License-Identifier: MIT

// Package msg is the codec of monami's signaling messages: the framing on a
// QUIC stream, the binding update and binding acknowledgement with their
// mobility options (paths, prefixes, flow bindings with their traffic
// selectors), monami's own path report, key update and error report
// messages, and the status codes. It owns only bytes ↔ values; the protocol
// (who sends what when) lives in package signaling, and matching packets
// against traffic selectors lives in the classifier.
//
// The vocabulary is that of Mobile IPv6 (RFC 6275), NEMO (RFC 3963),
// multiple care-of addresses (RFC 5648), flow bindings (RFC 6089) and their
// binary traffic selectors (RFC 6088), so the field names carry over; the
// byte layout of each message body and option follows those RFCs, while the
// envelope is monami's own (no IPv6 Mobility Header: the QUIC stream already
// gives integrity, ordering and length).
//
// # Framing
//
// Every message on a stream is
//
//	type (u8) ‖ length (u16, big endian) ‖ body (length bytes)
//
// Message types use the Mobility Header type numbers where one exists
// (binding update 5, binding acknowledgement 6); monami's additions start at
// 64. A receiver skips messages of a type it does not know. Messages:
//
//   - Binding Update (5, RFC 6275 §6.1.7): sequence (u16), flags (u16),
//     lifetime (u16), options. [BindingUpdate].
//   - Binding Acknowledgement (6, RFC 6275 §6.1.8): status (u8), flags (u8),
//     sequence (u16), lifetime (u16), options. [BindingAck].
//   - Path Report (64, monami): entry length (u8, 21), then per path BID
//     (u16), RTT µs (u32), RTT variation µs (u32), loss in 1/65536 (u16),
//     delivery rate bytes/s (u64), state (u8). [PathReport].
//   - Key Update (65, monami): generation (u32), receiver index (u32).
//     [KeyUpdate].
//   - Key Update Ack (67, monami): the generation echoed, the acknowledging
//     peer's new receiver index. [KeyUpdateAck].
//   - Error Report (68, monami): status (u8), kind (u8: binding 1, flow 2,
//     policy 3), index (u16: BID, FID or rule index), reason length (u8),
//     reason (UTF-8). [ErrorReport].
//   - Policy Request (69, monami): request ID (u32), operation (u8: add 1,
//     list 2, remove 3, rules 4), lifetime s (u32), argument length (u16),
//     argument (UTF-8: policy text, policy ID or rule format).
//     [PolicyRequest].
//   - Policy Response (70, monami): request ID (u32), status (u16,
//     HTTP-like), JSON body. [PolicyResponse].
//
// Type 66 stays reserved: flow bindings travel in binding updates and
// acknowledgements, as RFC 6089 has them. The monami messages accept bytes
// after their last field (longer path entries, longer bodies) and ignore
// them, so that they may grow.
//
// # Options
//
// Binding update and acknowledgement bodies end in mobility options, each
// type (u8) ‖ length (u8) ‖ data, except Pad1 (a single zero byte). Options
// of unknown type are skipped (RFC 6275 §6.2.1), Pad1 and PadN are skipped,
// and there is no alignment requirement. Implemented options:
//
//   - Mobile Network Prefix (6, RFC 3963 §4.3): reserved (u8), prefix length
//     (u8), IPv6 prefix (16 bytes). Data length 18.
//   - Binding Identifier (35, RFC 5648 §6.1): BID (u16), status (u8), flags
//     (u8: H 0x80, O 0x40), then an optional care-of address of 4 or 16
//     bytes. Data length 4, 8 or 20.
//   - Flow Summary (44, RFC 6089 §4.2.2): FIDs (u16 each), a nonzero even
//     data length. Binding update only; several are concatenated.
//   - Flow Identification (45, RFC 6089 §4.2): FID (u16), FID-PRI (u16),
//     reserved (u8), status (u8, [FlowStatus]), sub-options. One flow
//     binding each; see [FlowIdentification].
//   - Session (200, monami): receiver index (u32), generation (u32), suite
//     (u8). Data length at least 9; extra bytes are ignored so the option
//     may grow.
//   - IPv4 Mobile Network Prefix (201, monami): reserved (u8), prefix length
//     (u8), IPv4 prefix (4 bytes). Data length 6. A separate type rather than
//     an IPv4-mapped prefix in option 6, so that an IPv4 prefix stays an
//     IPv4 [netip.Prefix] on both ends and option 6 keeps its RFC meaning.
//
// Flow Identification sub-options (RFC 6089 §4.2.1) are type (u8) ‖ length
// (u8) ‖ data, except Pad1 (0, §4.2.1.1); Pad1, PadN (1, §4.2.1.2) and
// unknown ones (such as RFC 7109's Target Care-of Address, 5) are skipped:
//
//   - Binding Reference (2, RFC 6089 §4.2.1.3): BIDs (u16 each).
//   - Traffic Selector (3, RFC 6089 §4.2.1.4): TS format (u8), reserved
//     (u8), selector: the binary traffic selectors of RFC 6088 §3.1 (IPv4,
//     format 1) and §3.2 (IPv6, format 2), a 32-bit word of flags (A–N or
//     A–P) and reserved bits, then the fields the flags name, in flag
//     order, absent ones taking no room. Other formats are kept opaque. See
//     [TrafficSelector].
//   - Flow Binding Action (4, RFC 7109 §6.2.1): reserved (u8), action (u8:
//     add 11, delete 12, modify 13, refresh 14, move 15, revoke 16). See
//     [FlowAction].
//   - Forwarding Mode (200, monami): mode (u8: spread 1, redundant 2); absent
//     means failover order. See [FlowMode].
//
// These layouts and numbers were checked against the texts of RFC 6088,
// RFC 6089 and RFC 7109; byte strings derived by hand from their figures
// pin them in the tests.
//
// # Limits and errors
//
// A body holds at most [MaxBodyLen] bytes and [MaxOptions] options (padding
// included). Parsers check every length and return an error wrapping
// [ErrMalformed]; they never panic and keep no reference to their input.
// Parse∘Append is the identity on every value a parser returns, a property
// the fuzz targets check.
//
// Concurrency: the package has no state; values are plain data, safe to copy
// and to use from one goroutine at a time. It imports the standard library
// and monami/paths only.
package msg
