// SPDX-License-Identifier: MIT

// Package frame owns the data-plane header of monami: the 16 bytes in front
// of every sealed datagram (docs/internals.md, "Data-plane frame").
//
//	byte 0     type (1 data, 2 keepalive)
//	byte 1     flags (0; unknown bits are ignored)
//	bytes 2-3  BID, big endian, nonzero
//	bytes 4-7  receiver index, big endian
//	bytes 8-15 counter, big endian
//
// The header is followed by the AEAD ciphertext and its 16-byte tag, and is
// itself the AEAD's additional data (see tunnel/session).
//
// It sits between the tunnel engine and the path sockets: the engine writes a
// header into the headroom in front of each inner packet with [Header.Put]
// and parses received datagrams with [Parse], in place and without
// allocating. The package holds no state; its functions are safe for
// concurrent use on distinct buffers. It imports only the standard library
// and monami/paths.
package frame
