// SPDX-License-Identifier: MIT

// Package msg is the codec of monami's signaling messages: the framing on a
// QUIC stream, the binding update and binding acknowledgement with their
// mobility options, and the status codes. It owns only bytes ↔ values; the
// protocol (who sends what when) lives in package signaling.
//
// The vocabulary is that of Mobile IPv6 (RFC 6275), NEMO (RFC 3963),
// multiple care-of addresses (RFC 5648) and flow bindings (RFC 6089), so the
// field names carry over; the byte layout of each message body and option
// follows those RFCs, while the envelope is monami's own (no IPv6 Mobility
// Header: the QUIC stream already gives integrity, ordering and length).
//
// # Framing
//
// Every message on a stream is
//
//	type (u8) ‖ length (u16, big endian) ‖ body (length bytes)
//
// Message types use the Mobility Header type numbers where one exists
// (binding update 5, binding acknowledgement 6); monami's additions start at
// 64. A receiver skips messages of a type it does not know.
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
//   - Session (200, monami): receiver index (u32), generation (u32), suite
//     (u8). Data length at least 9; extra bytes are ignored so the option
//     may grow.
//   - IPv4 Mobile Network Prefix (201, monami): reserved (u8), prefix length
//     (u8), IPv4 prefix (4 bytes). Data length 6. A separate type rather than
//     an IPv4-mapped prefix in option 6, so that an IPv4 prefix stays an
//     IPv4 [netip.Prefix] on both ends and option 6 keeps its RFC meaning.
//
// Option types 44 (Flow Summary) and 45 (Flow Identification) of RFC 6089
// are named for the flow-binding messages to come; today they are skipped
// like any unknown option.
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
