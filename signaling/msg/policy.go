// SPDX-License-Identifier: MIT

package msg

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// PolicyRequest is monami's policy request (type 69): a remote requester
// (an operator at the home agent) asks the mobile router to add, list or
// withdraw policies, over the authenticated signaling channel (requirements
// R2 and R7 of the policy framework). Body = request ID (u32) ‖ operation
// (u8) ‖ lifetime in seconds (u32, for add; 0 = none) ‖ argument length
// (u16) ‖ argument (UTF-8: the policy text for add, the policy ID for
// remove, empty for list and rules; for rules the format name). No RFC
// fits.
type PolicyRequest struct {
	ID       uint32
	Op       PolicyOp
	Lifetime uint32
	Arg      string
}

// PolicyOp is a PolicyRequest's operation.
type PolicyOp uint8

// Policy operations.
const (
	PolicyAdd    PolicyOp = 1
	PolicyList   PolicyOp = 2
	PolicyRemove PolicyOp = 3
	PolicyRules  PolicyOp = 4
)

// PolicyResponse is the mobile router's answer (type 70): the request ID,
// a status (HTTP-like: 200, 201, 204, 400, 403, 404, 500) and a body of
// UTF-8 JSON (the policy information, the list, the rules or the errors).
// Body = request ID (u32) ‖ status (u16) ‖ body.
type PolicyResponse struct {
	ID     uint32
	Status uint16
	Body   []byte
}

const (
	policyRequestHead  = 11
	policyResponseHead = 6
)

// MessageType returns TypePolicyRequest.
func (m *PolicyRequest) MessageType() Type { return TypePolicyRequest }

// Append appends the body of m to b. Append assumes a valid m.
func (m *PolicyRequest) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, m.ID)
	b = append(b, byte(m.Op))
	b = binary.BigEndian.AppendUint32(b, m.Lifetime)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Arg)))
	return append(b, m.Arg...)
}

// Validate reports whether m can be encoded: a known operation and an
// argument of valid UTF-8 that fits.
func (m *PolicyRequest) Validate() error {
	if m.Op < PolicyAdd || m.Op > PolicyRules {
		return fmt.Errorf("policy request: unknown operation %d", m.Op)
	}
	if len(m.Arg) > MaxBodyLen-policyRequestHead || !utf8.ValidString(m.Arg) {
		return fmt.Errorf("policy request: argument of %d bytes is too long or not UTF-8", len(m.Arg))
	}
	return nil
}

// ParsePolicyRequest parses a policy request body.
func ParsePolicyRequest(b []byte) (PolicyRequest, error) {
	if len(b) < policyRequestHead || len(b) > MaxBodyLen {
		return PolicyRequest{}, fmt.Errorf("%w: policy request of %d bytes", ErrMalformed, len(b))
	}
	m := PolicyRequest{ID: binary.BigEndian.Uint32(b), Op: PolicyOp(b[4]), Lifetime: binary.BigEndian.Uint32(b[5:])}
	n := int(binary.BigEndian.Uint16(b[9:]))
	if n > len(b)-policyRequestHead {
		return PolicyRequest{}, fmt.Errorf("%w: policy request argument of %d bytes in %d", ErrMalformed, n, len(b)-policyRequestHead)
	}
	m.Arg = string(b[policyRequestHead : policyRequestHead+n])
	if err := m.Validate(); err != nil {
		return PolicyRequest{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return m, nil
}

// MessageType returns TypePolicyResponse.
func (m *PolicyResponse) MessageType() Type { return TypePolicyResponse }

// Append appends the body of m to b. Append assumes a valid m.
func (m *PolicyResponse) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, m.ID)
	b = binary.BigEndian.AppendUint16(b, m.Status)
	return append(b, m.Body...)
}

// Validate reports whether m fits in a message.
func (m *PolicyResponse) Validate() error {
	if len(m.Body) > MaxBodyLen-policyResponseHead {
		return fmt.Errorf("policy response: body of %d bytes is too long", len(m.Body))
	}
	return nil
}

// ParsePolicyResponse parses a policy response body. The result shares no
// memory with b.
func ParsePolicyResponse(b []byte) (PolicyResponse, error) {
	if len(b) < policyResponseHead || len(b) > MaxBodyLen {
		return PolicyResponse{}, fmt.Errorf("%w: policy response of %d bytes", ErrMalformed, len(b))
	}
	return PolicyResponse{ID: binary.BigEndian.Uint32(b), Status: binary.BigEndian.Uint16(b[4:]),
		Body: append([]byte(nil), b[policyResponseHead:]...)}, nil
}
