// SPDX-License-Identifier: MIT

package msg

import (
	"encoding/binary"
	"fmt"
)

// keyUpdateLen is the body length of a key update or its acknowledgement as
// this package writes it; receivers ignore extra bytes so that the body may
// grow.
const keyUpdateLen = 8

// KeyUpdate is monami's key update (type 65): the sender moves the data
// plane to a new key generation (keys derived as in docs/internals.md
// "Keys") and names the receiver index it wants to see in the frames it
// receives under that generation. Body = generation (u32) ‖ receiver index
// (u32), at least 8 bytes. No RFC fits: Mobile IPv6 has no data-plane keys
// of its own.
type KeyUpdate struct {
	Generation uint32
	Index      uint32
}

// MessageType returns TypeKeyUpdate.
func (m *KeyUpdate) MessageType() Type { return TypeKeyUpdate }

// Append appends the body of m to b.
func (m *KeyUpdate) Append(b []byte) []byte { return appendKeyBody(b, m.Generation, m.Index) }

// ParseKeyUpdate parses a key update body.
func ParseKeyUpdate(b []byte) (KeyUpdate, error) {
	g, i, err := parseKeyBody("key update", b)
	return KeyUpdate{Generation: g, Index: i}, err
}

// KeyUpdateAck is monami's acknowledgement of a key update (type 67): it
// echoes the generation and carries the acknowledging peer's own new
// receiver index for that generation. Body as KeyUpdate.
type KeyUpdateAck struct {
	Generation uint32
	Index      uint32
}

// MessageType returns TypeKeyUpdateAck.
func (m *KeyUpdateAck) MessageType() Type { return TypeKeyUpdateAck }

// Append appends the body of m to b.
func (m *KeyUpdateAck) Append(b []byte) []byte { return appendKeyBody(b, m.Generation, m.Index) }

// ParseKeyUpdateAck parses a key update acknowledgement body.
func ParseKeyUpdateAck(b []byte) (KeyUpdateAck, error) {
	g, i, err := parseKeyBody("key update ack", b)
	return KeyUpdateAck{Generation: g, Index: i}, err
}

func appendKeyBody(b []byte, gen, index uint32) []byte {
	b = binary.BigEndian.AppendUint32(b, gen)
	return binary.BigEndian.AppendUint32(b, index)
}

func parseKeyBody(what string, b []byte) (gen, index uint32, err error) {
	if len(b) > MaxBodyLen {
		return 0, 0, fmt.Errorf("%w: %s body of %d bytes", ErrMalformed, what, len(b))
	}
	if len(b) < keyUpdateLen {
		return 0, 0, fmt.Errorf("%w: %s body of %d bytes, want at least %d", ErrMalformed, what, len(b), keyUpdateLen)
	}
	return binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:]), nil
}

// Validate reports nil: every KeyUpdate can be encoded. It exists so that
// all messages of this package validate alike.
func (m *KeyUpdate) Validate() error { return nil }

// Validate reports nil: every KeyUpdateAck can be encoded.
func (m *KeyUpdateAck) Validate() error { return nil }
