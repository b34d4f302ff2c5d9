// SPDX-License-Identifier: MIT

package frame

import (
	"encoding/binary"
	"errors"
	"strconv"

	"monami/paths"
)

const (
	// HeaderLen is the length of the frame header in bytes.
	HeaderLen = 16
	// TagLen is the length of the AEAD tag that follows the ciphertext.
	TagLen = 16
	// Overhead is what framing and sealing add to an inner packet.
	Overhead = HeaderLen + TagLen
)

// Type is the kind of a frame.
type Type uint8

const (
	// TypeData carries one inner IPv4 or IPv6 packet.
	TypeData Type = 1
	// TypeKeepalive is a probe: its plaintext is empty or a probe payload
	// (see [PutProbe]). It teaches the home agent the path's endpoint, keeps
	// NAT state alive, and asks for a [TypeKeepaliveReply].
	TypeKeepalive Type = 2
	// TypeKeepaliveReply answers a keepalive on the same path, echoing its
	// plaintext, so the prober measures the path's round-trip time. It is
	// never answered.
	TypeKeepaliveReply Type = 3
	// TypeDataCopy carries one inner packet that was also sent on other
	// paths (a redundant policy): the receiver delivers the first copy to
	// arrive and drops the others.
	TypeDataCopy Type = 4
)

// FlagUnanswered, in Header.Flags, says that the sender gets no answers on
// this path at the moment (its probes are overdue): the path's return
// direction may be dead even though this frame arrived. The receiver then
// also sends, as copy frames on another path, what it sends on this one.
const FlagUnanswered uint8 = 1 << 0

// ProbeLen is the length of a probe payload: sequence (32 bits, BE) and
// the prober's send time (32 bits, BE, microseconds on the prober's own
// clock, modulo 2^32; only the prober interprets it). Small on purpose: an
// idle path is probed about twice a second.
const ProbeLen = 8

// PutProbe writes a probe payload into b[:ProbeLen].
func PutProbe(b []byte, seq, sentMicros uint32) {
	_ = b[ProbeLen-1]
	binary.BigEndian.PutUint32(b, seq)
	binary.BigEndian.PutUint32(b[4:], sentMicros)
}

// ParseProbe reads a probe payload; ok is false if b is too short.
func ParseProbe(b []byte) (seq, sentMicros uint32, ok bool) {
	if len(b) < ProbeLen {
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:]), true
}

// String returns "data", "keepalive" or "type(N)".
func (t Type) String() string {
	switch t {
	case TypeData:
		return "data"
	case TypeKeepalive:
		return "keepalive"
	case TypeKeepaliveReply:
		return "keepalive-reply"
	case TypeDataCopy:
		return "data-copy"
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Errors returned by [Parse]. They are sentinels so that the engine can map
// them to drop reasons without allocating.
var (
	// ErrShort: the datagram is shorter than a header and an AEAD tag.
	ErrShort = errors.New("frame too short")
	// ErrBadType: the type is neither data nor keepalive.
	ErrBadType = errors.New("unknown frame type")
	// ErrZeroBID: the BID field is zero, which names no path.
	ErrZeroBID = errors.New("frame with zero bid")
)

// Header is the decoded data-plane header. It is a plain value, safe to copy.
type Header struct {
	// Type is the frame type.
	Type Type
	// Flags: FlagUnanswered; receivers ignore unknown bits.
	Flags uint8
	// BID is the path the frame was sent on; never zero on the wire.
	BID paths.BID
	// Receiver is the receiver index chosen by the frame's receiver at
	// session set-up; it names the session and its key generation.
	Receiver uint32
	// Counter is the per (session, direction, BID) counter, starting at 0.
	Counter uint64
}

// Put writes h into b[:HeaderLen]. The caller guarantees len(b) >= HeaderLen;
// a shorter b is a programming error and panics.
func (h *Header) Put(b []byte) {
	_ = b[HeaderLen-1] // one bounds check
	b[0] = byte(h.Type)
	b[1] = h.Flags
	binary.BigEndian.PutUint16(b[2:4], uint16(h.BID))
	binary.BigEndian.PutUint32(b[4:8], h.Receiver)
	binary.BigEndian.PutUint64(b[8:16], h.Counter)
}

// Append appends the HeaderLen bytes of h to b and returns the extended
// slice.
func (h Header) Append(b []byte) []byte {
	b = append(b, byte(h.Type), h.Flags)
	b = binary.BigEndian.AppendUint16(b, uint16(h.BID))
	b = binary.BigEndian.AppendUint32(b, h.Receiver)
	return binary.BigEndian.AppendUint64(b, h.Counter)
}

// Parse decodes the header at the start of the datagram b. b must hold at
// least a header and an AEAD tag (an empty plaintext still has a tag), else
// Parse returns [ErrShort]. A type other than data or keepalive yields
// [ErrBadType] and a zero BID [ErrZeroBID]. Unknown flag bits are accepted.
// Parse does not allocate and keeps no reference to b.
func Parse(b []byte) (Header, error) {
	if len(b) < HeaderLen+TagLen {
		return Header{}, ErrShort
	}
	h := Header{
		Type:     Type(b[0]),
		Flags:    b[1],
		BID:      paths.BID(binary.BigEndian.Uint16(b[2:4])),
		Receiver: binary.BigEndian.Uint32(b[4:8]),
		Counter:  binary.BigEndian.Uint64(b[8:16]),
	}
	if h.Type < TypeData || h.Type > TypeDataCopy {
		return Header{}, ErrBadType
	}
	if h.BID == 0 {
		return Header{}, ErrZeroBID
	}
	return h, nil
}
