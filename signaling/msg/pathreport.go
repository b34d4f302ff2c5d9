// SPDX-License-Identifier: MIT

package msg

import (
	"encoding/binary"
	"fmt"

	"monami/paths"
)

// PathEntryLen is the length of one entry of a PathReport as this package
// writes it. Receivers accept longer entries and ignore the extra bytes, so
// that an entry may grow.
const PathEntryLen = 21

// MaxPathEntries is the most entries a PathReport body can carry.
const MaxPathEntries = (MaxBodyLen - 1) / PathEntryLen

// PathMetrics is one path's characteristics as measured by the sender of a
// PathReport (the characteristics examiner of the policy framework).
type PathMetrics struct {
	BID paths.BID
	// RTT is the smoothed round-trip time, in microseconds.
	RTT uint32
	// RTTVar is the round-trip time variation, in microseconds.
	RTTVar uint32
	// Loss is the fraction of packets lost, in units of 1/65536 (so 65535
	// is the most, just under 100 %).
	Loss uint16
	// DeliveryRate is the estimated delivery rate, in bytes per second.
	DeliveryRate uint64
	State        paths.State
}

// PathReport is monami's path report (type 64): the sender's measurements of
// each of its paths, so that both ends decide on the same numbers. Body =
// entry length (u8, at least PathEntryLen) ‖ entries, each
//
//	BID (u16) ‖ RTT µs (u32) ‖ RTT variation µs (u32) ‖ loss (u16, 1/65536)
//	‖ delivery rate bytes/s (u64) ‖ state (u8) ‖ ignored bytes up to the
//	entry length
//
// No RFC defines such a message; the Mobility Header has none.
type PathReport struct {
	Paths []PathMetrics
}

// MessageType returns TypePathReport.
func (m *PathReport) MessageType() Type { return TypePathReport }

// Validate reports whether m fits in one message (at most MaxPathEntries
// entries).
func (m *PathReport) Validate() error {
	if len(m.Paths) > MaxPathEntries {
		return fmt.Errorf("%w: path report of %d entries, at most %d", ErrMalformed, len(m.Paths), MaxPathEntries)
	}
	return nil
}

// Append appends the body of m to b.
func (m *PathReport) Append(b []byte) []byte {
	b = append(b, PathEntryLen)
	for _, p := range m.Paths {
		b = binary.BigEndian.AppendUint16(b, uint16(p.BID))
		b = binary.BigEndian.AppendUint32(b, p.RTT)
		b = binary.BigEndian.AppendUint32(b, p.RTTVar)
		b = binary.BigEndian.AppendUint16(b, p.Loss)
		b = binary.BigEndian.AppendUint64(b, p.DeliveryRate)
		b = append(b, byte(p.State))
	}
	return b
}

// ParsePathReport parses a path report body. The result shares no memory
// with b.
func ParsePathReport(b []byte) (PathReport, error) {
	if len(b) > MaxBodyLen {
		return PathReport{}, fmt.Errorf("%w: path report body of %d bytes", ErrMalformed, len(b))
	}
	if len(b) < 1 {
		return PathReport{}, fmt.Errorf("%w: empty path report body", ErrMalformed)
	}
	el := int(b[0])
	if el < PathEntryLen {
		return PathReport{}, fmt.Errorf("%w: path report entry length %d, want at least %d", ErrMalformed, el, PathEntryLen)
	}
	b = b[1:]
	if len(b)%el != 0 {
		return PathReport{}, fmt.Errorf("%w: path report of %d bytes is not a whole number of %d-byte entries", ErrMalformed, len(b), el)
	}
	var m PathReport
	if n := len(b) / el; n > 0 {
		m.Paths = make([]PathMetrics, 0, n)
	}
	for ; len(b) > 0; b = b[el:] {
		m.Paths = append(m.Paths, PathMetrics{
			BID:          paths.BID(binary.BigEndian.Uint16(b)),
			RTT:          binary.BigEndian.Uint32(b[2:]),
			RTTVar:       binary.BigEndian.Uint32(b[6:]),
			Loss:         binary.BigEndian.Uint16(b[10:]),
			DeliveryRate: binary.BigEndian.Uint64(b[12:]),
			State:        paths.State(b[20]),
		})
	}
	return m, nil
}
