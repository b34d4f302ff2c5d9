// SPDX-License-Identifier: MIT

package msg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Type is a signaling message type: the first byte of every message.
type Type uint8

// Message types. Binding update and acknowledgement carry their Mobility
// Header numbers (RFC 6275 §6.1); monami's additions start at 64. Flow
// bindings travel inside binding updates and acknowledgements (RFC 6089),
// so TypeFlowBinding stays reserved and unimplemented.
const (
	TypeBindingUpdate  Type = 5  // RFC 6275 §6.1.7
	TypeBindingAck     Type = 6  // RFC 6275 §6.1.8
	TypePathReport     Type = 64 // monami: per-BID path characteristics
	TypeKeyUpdate      Type = 65 // monami: new data-plane key generation
	TypeFlowBinding    Type = 66 // reserved: a separate flow-binding message
	TypeKeyUpdateAck   Type = 67 // monami: acknowledgement of a key update
	TypeErrorReport    Type = 68 // monami: an error sent back to its source
	TypePolicyRequest  Type = 69 // monami: a remote requester's policy operation
	TypePolicyResponse Type = 70 // monami: its answer
)

// String returns the message type's name.
func (t Type) String() string {
	switch t {
	case TypeBindingUpdate:
		return "binding_update"
	case TypeBindingAck:
		return "binding_ack"
	case TypePathReport:
		return "path_report"
	case TypeKeyUpdate:
		return "key_update"
	case TypeFlowBinding:
		return "flow_binding"
	case TypeKeyUpdateAck:
		return "key_update_ack"
	case TypeErrorReport:
		return "error_report"
	case TypePolicyRequest:
		return "policy_request"
	case TypePolicyResponse:
		return "policy_response"
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

const (
	// HeaderLen is the length of the message header: type and body length.
	HeaderLen = 3
	// MaxBodyLen is the largest body a message can carry.
	MaxBodyLen = 65535
	// MaxOptions is the most mobility options (padding included) a parser
	// accepts in one message.
	MaxOptions = 1024
)

var (
	// ErrMalformed is wrapped by every parse error.
	ErrMalformed = errors.New("malformed message")
	// ErrTooLong is returned when a message body would exceed MaxBodyLen.
	ErrTooLong = errors.New("message body too long")
)

// Message is a value that can be framed: a message type and an encoder of
// its body.
type Message interface {
	// MessageType returns the type byte of the message.
	MessageType() Type
	// Append appends the encoded body to b and returns the extended slice.
	Append(b []byte) []byte
}

// Raw is a message of any type with an opaque body, for forwarding or for
// types this package does not know.
type Raw struct {
	Type Type
	Body []byte
}

// MessageType returns r.Type.
func (r Raw) MessageType() Type { return r.Type }

// Append appends r.Body to b.
func (r Raw) Append(b []byte) []byte { return append(b, r.Body...) }

// AppendMessage appends m, framed (header and body), to b. It fails with
// [ErrTooLong] if the body exceeds MaxBodyLen; b is then returned unchanged.
func AppendMessage(b []byte, m Message) ([]byte, error) {
	start := len(b)
	b = append(b, byte(m.MessageType()), 0, 0)
	b = m.Append(b)
	n := len(b) - start - HeaderLen
	if n > MaxBodyLen {
		return b[:start], fmt.Errorf("%w: %s body of %d bytes", ErrTooLong, m.MessageType(), n)
	}
	binary.BigEndian.PutUint16(b[start+1:], uint16(n))
	return b, nil
}

// WriteMessage writes m, framed, to w in a single Write.
func WriteMessage(w io.Writer, m Message) error {
	b, err := AppendMessage(make([]byte, 0, 256), m)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", m.MessageType(), err)
	}
	return nil
}

// ReadMessage reads one framed message from r. The body is read into buf
// (a new slice is allocated if cap(buf) is too small) and the returned body
// aliases it, so it is valid until buf is reused. A clean end of stream
// before the first header byte returns io.EOF; a stream that ends inside a
// message returns an error wrapping io.ErrUnexpectedEOF.
func ReadMessage(r io.Reader, buf []byte) (Type, []byte, error) {
	if cap(buf) < HeaderLen {
		buf = make([]byte, 0, HeaderLen)
	}
	hdr := buf[:HeaderLen]
	if _, err := io.ReadFull(r, hdr); err != nil {
		if errors.Is(err, io.EOF) {
			return 0, nil, io.EOF
		}
		return 0, nil, fmt.Errorf("read message header: %w", err)
	}
	t := Type(hdr[0])
	n := int(binary.BigEndian.Uint16(hdr[1:]))
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	body := buf[:n]
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, fmt.Errorf("read %s body: %w", t, err)
	}
	return t, body, nil
}
