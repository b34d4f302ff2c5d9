// SPDX-License-Identifier: MIT

package msg

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// LifetimeUnit is the unit of binding lifetimes (RFC 6275 §6.1.7).
const LifetimeUnit = 4 * time.Second

// LifetimeUnits converts d to lifetime units, rounding up and clamping to
// the 16-bit field; d <= 0 gives 0.
func LifetimeUnits(d time.Duration) uint16 {
	if d <= 0 {
		return 0
	}
	u := (d + LifetimeUnit - 1) / LifetimeUnit
	return uint16(min(u, 0xffff))
}

// LifetimeDuration converts a lifetime in units to a duration.
func LifetimeDuration(units uint16) time.Duration { return time.Duration(units) * LifetimeUnit }

// BUFlags are the flags of a binding update (RFC 6275 §6.1.7, RFC 3963
// §4.1), the 16 bits after the sequence number. Reserved bits are kept.
type BUFlags uint16

const (
	BUAck          BUFlags = 0x8000 // A: acknowledgement requested
	BUHome         BUFlags = 0x4000 // H: home registration
	BULinkLocal    BUFlags = 0x2000 // L: link-local address compatibility
	BUKeyMgmt      BUFlags = 0x1000 // K: key management mobility capability
	BUMobileRouter BUFlags = 0x0800 // R: the sender is a mobile router (RFC 3963)
)

// BAFlags are the flags of a binding acknowledgement (RFC 6275 §6.1.8, RFC
// 3963 §4.2). Reserved bits are kept.
type BAFlags uint8

const (
	BAKeyMgmt      BAFlags = 0x80 // K: key management mobility capability
	BAMobileRouter BAFlags = 0x40 // R: the home agent supports mobile routers
)

// buHeaderLen and baHeaderLen are the fixed parts of the bodies.
const (
	buHeaderLen = 6 // sequence, flags, lifetime
	baHeaderLen = 6 // status, flags, sequence, lifetime
)

// BindingUpdate is a binding update (RFC 6275 §6.1.7) from the mobile router:
// body = sequence (u16) ‖ flags (u16) ‖ lifetime (u16) ‖ options. It
// registers the router's paths (one BIDOption each, RFC 5648 bulk
// registration), its mobile network prefixes (RFC 3963), its flow bindings
// (one Flow Identification option each, RFC 6089 §4.2) with the FIDs it
// refreshes unchanged (Flow Summary, RFC 6089 §4.1) and, on session set-up,
// a Session option.
type BindingUpdate struct {
	Sequence uint16
	Flags    BUFlags
	// Lifetime is in units of 4 s (LifetimeUnit).
	Lifetime uint16
	BIDs     []BIDOption
	Session  *SessionOption // nil if absent
	Prefixes []netip.Prefix
	// Flows are the flow bindings this update adds, changes or removes.
	Flows []FlowIdentification
	// FlowSummary lists the FIDs of flow bindings refreshed unchanged. More
	// than 127 FIDs are sent as several Flow Summary options; on receipt
	// they are concatenated.
	FlowSummary []uint16
}

// MessageType returns TypeBindingUpdate.
func (m *BindingUpdate) MessageType() Type { return TypeBindingUpdate }

// Validate reports whether m can be encoded faithfully: at most MaxOptions
// options, valid prefixes, care-of addresses without zones, valid flow
// options of at most 255 bytes each. Append assumes a valid m.
func (m *BindingUpdate) Validate() error {
	return validateOptions(m.BIDs, m.Session, m.Prefixes, m.Flows, m.FlowSummary)
}

// Append appends the body of m to b: the fixed fields, then the BID options,
// the Session option, the prefix options, the Flow Identification options
// and the Flow Summary options, without padding.
func (m *BindingUpdate) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, m.Sequence)
	b = binary.BigEndian.AppendUint16(b, uint16(m.Flags))
	b = binary.BigEndian.AppendUint16(b, m.Lifetime)
	for _, o := range m.BIDs {
		b = appendBIDOption(b, o)
	}
	if m.Session != nil {
		b = appendSessionOption(b, m.Session)
	}
	for _, p := range m.Prefixes {
		b = appendPrefixOption(b, p)
	}
	for i := range m.Flows {
		b = appendFlowOption(b, &m.Flows[i])
	}
	return appendFlowSummary(b, m.FlowSummary)
}

// ParseBindingUpdate parses a binding update body. Options may come in any
// order; unknown ones and padding are skipped. The result shares no memory
// with b.
func ParseBindingUpdate(b []byte) (BindingUpdate, error) {
	if len(b) > MaxBodyLen {
		return BindingUpdate{}, fmt.Errorf("%w: binding update body of %d bytes", ErrMalformed, len(b))
	}
	if len(b) < buHeaderLen {
		return BindingUpdate{}, fmt.Errorf("%w: binding update body of %d bytes, want at least %d", ErrMalformed, len(b), buHeaderLen)
	}
	o, err := parseOptions(b[buHeaderLen:])
	if err != nil {
		return BindingUpdate{}, fmt.Errorf("binding update: %w", err)
	}
	return BindingUpdate{
		Sequence:    binary.BigEndian.Uint16(b[0:]),
		Flags:       BUFlags(binary.BigEndian.Uint16(b[2:])),
		Lifetime:    binary.BigEndian.Uint16(b[4:]),
		BIDs:        o.bids,
		Session:     o.session,
		Prefixes:    o.prefixes,
		Flows:       o.flows,
		FlowSummary: o.flowSummary,
	}, nil
}

// BindingAck is a binding acknowledgement (RFC 6275 §6.1.8) from the home
// agent: body = status (u8) ‖ flags (u8) ‖ sequence (u16) ‖ lifetime (u16) ‖
// options. It carries the overall status, the per-BID status in BID options
// (RFC 5648 §6.1), the per-flow status in Flow Identification options (RFC
// 6089 §4.2) and, on session set-up, the home agent's Session option.
// Prefix and Flow Summary options in an acknowledgement have no meaning:
// they are checked like any other and then dropped.
type BindingAck struct {
	Status Status
	Flags  BAFlags
	// Sequence echoes the binding update's sequence number.
	Sequence uint16
	// Lifetime is the granted lifetime, in units of 4 s (LifetimeUnit).
	Lifetime uint16
	BIDs     []BIDOption
	Session  *SessionOption // nil if absent
	// Flows carry the per-flow status (FID and Status; sub-options are
	// optional) of the flow bindings of the update.
	Flows []FlowIdentification
}

// MessageType returns TypeBindingAck.
func (m *BindingAck) MessageType() Type { return TypeBindingAck }

// Validate reports whether m can be encoded faithfully; see
// BindingUpdate.Validate.
func (m *BindingAck) Validate() error {
	return validateOptions(m.BIDs, m.Session, nil, m.Flows, nil)
}

// Append appends the body of m to b: the fixed fields, then the BID options,
// the Session option and the Flow Identification options, without padding.
func (m *BindingAck) Append(b []byte) []byte {
	b = append(b, byte(m.Status), byte(m.Flags))
	b = binary.BigEndian.AppendUint16(b, m.Sequence)
	b = binary.BigEndian.AppendUint16(b, m.Lifetime)
	for _, o := range m.BIDs {
		b = appendBIDOption(b, o)
	}
	if m.Session != nil {
		b = appendSessionOption(b, m.Session)
	}
	for i := range m.Flows {
		b = appendFlowOption(b, &m.Flows[i])
	}
	return b
}

// ParseBindingAck parses a binding acknowledgement body. Options may come in
// any order; unknown ones and padding are skipped, prefix and flow summary
// options dropped. The result shares no memory with b.
func ParseBindingAck(b []byte) (BindingAck, error) {
	if len(b) > MaxBodyLen {
		return BindingAck{}, fmt.Errorf("%w: binding ack body of %d bytes", ErrMalformed, len(b))
	}
	if len(b) < baHeaderLen {
		return BindingAck{}, fmt.Errorf("%w: binding ack body of %d bytes, want at least %d", ErrMalformed, len(b), baHeaderLen)
	}
	o, err := parseOptions(b[baHeaderLen:])
	if err != nil {
		return BindingAck{}, fmt.Errorf("binding ack: %w", err)
	}
	return BindingAck{
		Status:   Status(b[0]),
		Flags:    BAFlags(b[1]),
		Sequence: binary.BigEndian.Uint16(b[2:]),
		Lifetime: binary.BigEndian.Uint16(b[4:]),
		BIDs:     o.bids,
		Session:  o.session,
		Flows:    o.flows,
	}, nil
}
