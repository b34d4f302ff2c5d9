// SPDX-License-Identifier: MIT

package msg

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ErrorKind says what an ErrorReport's index names.
type ErrorKind uint8

// Error kinds.
const (
	ErrorKindBinding ErrorKind = 1 // Index is a BID; Status is a [Status]
	ErrorKindFlow    ErrorKind = 2 // Index is a FID; Status is a [FlowStatus]
	ErrorKindPolicy  ErrorKind = 3 // Index is a rule index; Status is a [FlowStatus]
)

// String returns the kind's name.
func (k ErrorKind) String() string {
	switch k {
	case ErrorKindBinding:
		return "binding"
	case ErrorKindFlow:
		return "flow"
	case ErrorKindPolicy:
		return "policy"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// MaxReasonLen is the longest reason an ErrorReport carries, in bytes.
const MaxReasonLen = 255

// errorReportFixedLen is status, kind, index and reason length.
const errorReportFixedLen = 5

// ErrorReport is monami's error report (type 68): an error sent back to the
// source of a binding, flow binding or filter rule with its code and its
// index, so that each rule's requester learns its own fate (requirement R6
// of the policy framework). Body = status (u8) ‖ kind (u8) ‖ index (u16) ‖
// reason length (u8) ‖ reason (UTF-8) ‖ ignored bytes, so that the body may
// grow. No RFC fits: the Mobility Header's Binding Error (RFC 6275 §6.1.9)
// names a home address, not a rule.
type ErrorReport struct {
	// Status is the error code, in the registry Kind names: a binding's
	// [Status] or a flow binding's or policy rule's [FlowStatus].
	Status uint8
	Kind   ErrorKind
	// Index is the BID, the FID or the rule's index, as Kind says.
	Index uint16
	// Reason is a short human-readable explanation: valid UTF-8 of at most
	// MaxReasonLen bytes, possibly empty.
	Reason string
}

// MessageType returns TypeErrorReport.
func (m *ErrorReport) MessageType() Type { return TypeErrorReport }

// StatusString returns the name of m.Status in the registry of m.Kind.
func (m *ErrorReport) StatusString() string {
	if m.Kind == ErrorKindBinding {
		return Status(m.Status).String()
	}
	return FlowStatus(m.Status).String()
}

// Validate reports whether m can be encoded faithfully: a reason of valid
// UTF-8, at most MaxReasonLen bytes.
func (m *ErrorReport) Validate() error {
	if len(m.Reason) > MaxReasonLen {
		return fmt.Errorf("%w: error report reason of %d bytes, at most %d", ErrMalformed, len(m.Reason), MaxReasonLen)
	}
	if !utf8.ValidString(m.Reason) {
		return fmt.Errorf("%w: error report reason is not utf-8", ErrMalformed)
	}
	return nil
}

// Append appends the body of m to b. Append assumes a valid m.
func (m *ErrorReport) Append(b []byte) []byte {
	b = append(b, m.Status, byte(m.Kind))
	b = binary.BigEndian.AppendUint16(b, m.Index)
	b = append(b, byte(len(m.Reason)))
	return append(b, m.Reason...)
}

// ParseErrorReport parses an error report body.
func ParseErrorReport(b []byte) (ErrorReport, error) {
	if len(b) > MaxBodyLen {
		return ErrorReport{}, fmt.Errorf("%w: error report body of %d bytes", ErrMalformed, len(b))
	}
	if len(b) < errorReportFixedLen {
		return ErrorReport{}, fmt.Errorf("%w: error report body of %d bytes, want at least %d", ErrMalformed, len(b), errorReportFixedLen)
	}
	n := int(b[4])
	if len(b) < errorReportFixedLen+n {
		return ErrorReport{}, fmt.Errorf("%w: error report reason of %d bytes exceeds the %d bytes left", ErrMalformed, n, len(b)-errorReportFixedLen)
	}
	reason := b[errorReportFixedLen : errorReportFixedLen+n]
	if !utf8.Valid(reason) {
		return ErrorReport{}, fmt.Errorf("%w: error report reason is not utf-8", ErrMalformed)
	}
	return ErrorReport{
		Status: b[0],
		Kind:   ErrorKind(b[1]),
		Index:  binary.BigEndian.Uint16(b[2:]),
		Reason: string(reason),
	}, nil
}
