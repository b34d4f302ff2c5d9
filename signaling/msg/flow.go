// SPDX-License-Identifier: MIT

package msg

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"monami/paths"
)

// FlowAction is the action of a flow binding, carried in a Flow Binding
// Action sub-option (RFC 7109 §6.2.1). The values are those RFC 7109
// §6.2.1 and §9 (Action-6, the IANA "Flow Binding Action Values" registry)
// assign: Add 11, Delete 12, Modify 13, Refresh 14, Move 15, Revoke 16;
// 0–10 and 17–255 are unassigned. RFC 7109 defines the sub-option for the
// home agent's Flow Binding Indication message; monami also carries it in
// binding updates and acknowledgements. RFC 6089 itself has no action
// field: a plain RFC 6089 peer infers the action (a new FID adds, a known
// FID modifies, a FID listed in a Flow Summary option refreshes, a FID left
// out of a binding update is removed; RFC 6089 §5.2.2–§5.2.4, §5.3.2).
// FlowActionNone sends no sub-option and so keeps that implicit meaning.
type FlowAction uint8

// Flow binding actions. RFC 7109 §6.2.2 sends a Move with a Target
// Care-of Address sub-option (type 5) naming the new interface; this
// package does not implement that sub-option (it is skipped as unknown),
// and monami names the paths a moved flow goes to in the Binding Reference
// sub-option instead.
const (
	FlowActionNone    FlowAction = 0  // no Flow Binding Action sub-option
	FlowActionAdd     FlowAction = 11 // add a flow binding
	FlowActionDelete  FlowAction = 12 // delete a flow binding
	FlowActionModify  FlowAction = 13 // modify a flow binding
	FlowActionRefresh FlowAction = 14 // refresh a flow binding
	FlowActionMove    FlowAction = 15 // move a flow binding (to other BIDs)
	FlowActionRevoke  FlowAction = 16 // revoke a flow binding
)

// String returns the action's name.
func (a FlowAction) String() string {
	switch a {
	case FlowActionNone:
		return "none"
	case FlowActionAdd:
		return "add"
	case FlowActionDelete:
		return "delete"
	case FlowActionModify:
		return "modify"
	case FlowActionRefresh:
		return "refresh"
	case FlowActionMove:
		return "move"
	case FlowActionRevoke:
		return "revoke"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// SubOptionType is the type byte of a Flow Identification sub-option (RFC
// 6089 §4.2.1, IANA "Flow Identification Sub-Options" registry).
type SubOptionType uint8

// Flow Identification sub-option types. Type 5 (Target Care-of Address,
// RFC 7109 §6.2.2) is not implemented and skipped like any unknown type.
const (
	SubOptPad1             SubOptionType = 0 // RFC 6089 §4.2.1.1: one byte, no length
	SubOptPadN             SubOptionType = 1 // RFC 6089 §4.2.1.2
	SubOptBindingReference SubOptionType = 2 // RFC 6089 §4.2.1.3: list of BIDs
	SubOptTrafficSelector  SubOptionType = 3 // RFC 6089 §4.2.1.4, RFC 6088
	SubOptFlowAction       SubOptionType = 4 // RFC 7109 §6.2.1, §9 Action-5: flow binding action
	// SubOptForwardingMode is monami's: what the BIDs of the binding mean
	// (FlowMode); u8. No RFC defines it; a peer that does not know it
	// skips it and keeps the first BID (failover order).
	SubOptForwardingMode SubOptionType = 200
	// SubOptWeights is monami's too: the spreading weight of each BID of
	// the Binding Reference, in its order, as u16 each; only with
	// FlowModeSpread.
	SubOptWeights SubOptionType = 201
)

const (
	// flowIDFixedLen is the fixed part of a Flow Identification option's
	// data: FID, FID-PRI, reserved, status.
	flowIDFixedLen = 6
	// flowActionLen is the data length of a Flow Binding Action
	// sub-option: reserved (u8), action (u8). RFC 7109 Figure 5 draws the
	// two as 7 and 9 bits wide, but its text makes Action an 8-bit field
	// in a 32-bit row, which leaves 8 bits for Reserved.
	flowActionLen = 2
	// maxOptionData is the largest data of a mobility option (u8 length).
	maxOptionData = 255
	// fidsPerSummary is the most FIDs one Flow Summary option holds (127,
	// RFC 6089 §5.2.3).
	fidsPerSummary = maxOptionData / 2
)

// FlowIdentification is a Flow Identification mobility option (type 45,
// RFC 6089 §4.2): one flow binding, that is a traffic selector bound to one
// or more of the mobile router's paths (BIDs), with a priority. In a
// binding update Status is 0; in an acknowledgement it is the per-flow
// result and the sub-options are usually left out.
//
// On the wire (RFC 6089 §4.2 Figure 2) the option data is FID (u16) ‖
// FID-PRI (u16) ‖ reserved (u8) ‖ status (u8) ‖ sub-options, each
// sub-option type (u8) ‖ length (u8) ‖ data, except Pad1 (one zero byte;
// §4.2.1). Sub-options: Binding Reference (2, BIDs as u16 each; §4.2.1.3),
// Traffic Selector (3, a [TrafficSelector]; §4.2.1.4) and Flow Binding
// Action (4, reserved (u8) ‖ action (u8); RFC 7109 §6.2.1). Padding and
// unknown sub-options are skipped; a Traffic Selector or Flow Binding
// Action sub-option may appear once; so may monami's Forwarding Mode (200,
// a FlowMode byte) and Weights (201, u16 per BID, with the spread mode).
// RFC 6089 allows one Binding Reference
// sub-option too, and this package sends one, but it accepts several and
// concatenates their BIDs. The whole option data is at most 255 bytes.
// The RFC's 2n alignment of the option and of its sub-options is not kept:
// no padding is sent.
type FlowIdentification struct {
	// FID names the flow binding within the mobile router's registration.
	FID uint16
	// Priority is FID-PRI: the order in which overlapping selectors are
	// tried, lower first (RFC 6089 §4.2); it is not checked for uniqueness
	// here.
	Priority uint16
	Status   FlowStatus
	Action   FlowAction
	// BIDs are the paths the flow is bound to (Binding Reference
	// sub-option); nil for none. What several BIDs mean (duplication,
	// spreading, failover order) is for package signaling to define.
	BIDs []paths.BID
	// Selector is the flow's traffic selector; nil for none.
	Selector *TrafficSelector
	// Mode says what the BIDs mean (monami's Forwarding Mode sub-option,
	// sent only when not FlowModeFailover).
	Mode FlowMode
	// Weights are the shares of the BIDs, in their order, for
	// FlowModeSpread (monami's Weights sub-option); nil for equal shares.
	// If set, there is one per BID.
	Weights []uint16
}

// FlowMode is what a flow binding's BIDs mean.
type FlowMode uint8

// Flow modes.
const (
	FlowModeFailover  FlowMode = 0 // the first BID that works (no sub-option)
	FlowModeSpread    FlowMode = 1 // spread the flows over the BIDs
	FlowModeRedundant FlowMode = 2 // a copy of every packet on each BID
)

// flowModeLen is the data length of a Forwarding Mode sub-option.
const flowModeLen = 1

// Validate reports whether f can be encoded and parsed back to the same
// value: a valid selector and an option no longer than 255 bytes.
func (f *FlowIdentification) Validate() error {
	if f.Selector != nil {
		if err := f.Selector.Validate(); err != nil {
			return fmt.Errorf("flow %d: %w", f.FID, err)
		}
	}
	if f.Weights != nil && (len(f.Weights) != len(f.BIDs) || f.Mode != FlowModeSpread) {
		return fmt.Errorf("%w: flow %d: %d weights for %d BIDs (mode %d); weights need one per BID and the spread mode",
			ErrMalformed, f.FID, len(f.Weights), len(f.BIDs), f.Mode)
	}
	if n := f.dataLen(); n > maxOptionData {
		return fmt.Errorf("%w: flow %d option of %d bytes, at most %d", ErrMalformed, f.FID, n, maxOptionData)
	}
	return nil
}

// dataLen returns the option data length of f.
func (f *FlowIdentification) dataLen() int {
	n := flowIDFixedLen
	if len(f.BIDs) > 0 {
		n += 2 + 2*len(f.BIDs)
	}
	if f.Selector != nil {
		n += 2 + f.Selector.encodedLen()
	}
	if f.Action != FlowActionNone {
		n += 2 + flowActionLen
	}
	if f.Mode != FlowModeFailover {
		n += 2 + flowModeLen
	}
	if len(f.Weights) > 0 {
		n += 2 + 2*len(f.Weights)
	}
	return n
}

func appendFlowOption(b []byte, f *FlowIdentification) []byte {
	b = append(b, byte(OptFlowID), byte(f.dataLen()))
	b = binary.BigEndian.AppendUint16(b, f.FID)
	b = binary.BigEndian.AppendUint16(b, f.Priority)
	b = append(b, 0, byte(f.Status))
	if f.Action != FlowActionNone {
		b = append(b, byte(SubOptFlowAction), flowActionLen, 0, byte(f.Action))
	}
	if len(f.BIDs) > 0 {
		b = append(b, byte(SubOptBindingReference), byte(2*len(f.BIDs)))
		for _, bid := range f.BIDs {
			b = binary.BigEndian.AppendUint16(b, uint16(bid))
		}
	}
	if f.Selector != nil {
		b = append(b, byte(SubOptTrafficSelector), byte(f.Selector.encodedLen()))
		b = f.Selector.Append(b)
	}
	if f.Mode != FlowModeFailover {
		b = append(b, byte(SubOptForwardingMode), flowModeLen, byte(f.Mode))
	}
	if len(f.Weights) > 0 {
		b = append(b, byte(SubOptWeights), byte(2*len(f.Weights)))
		for _, w := range f.Weights {
			b = binary.BigEndian.AppendUint16(b, w)
		}
	}
	return b
}

func parseFlowOption(data []byte) (FlowIdentification, error) {
	if len(data) < flowIDFixedLen {
		return FlowIdentification{}, fmt.Errorf("%w: flow identification option length %d, want at least %d", ErrMalformed, len(data), flowIDFixedLen)
	}
	f := FlowIdentification{
		FID:      binary.BigEndian.Uint16(data),
		Priority: binary.BigEndian.Uint16(data[2:]),
		Status:   FlowStatus(data[5]),
	}
	seenAction, seenMode := false, false
	for b := data[flowIDFixedLen:]; len(b) > 0; {
		t := SubOptionType(b[0])
		if t == SubOptPad1 {
			b = b[1:]
			continue
		}
		if len(b) < 2 {
			return FlowIdentification{}, fmt.Errorf("%w: flow %d: truncated sub-option %d header", ErrMalformed, f.FID, t)
		}
		l := int(b[1])
		if len(b) < 2+l {
			return FlowIdentification{}, fmt.Errorf("%w: flow %d: sub-option %d length %d exceeds the %d bytes left", ErrMalformed, f.FID, t, l, len(b)-2)
		}
		sub := b[2 : 2+l]
		b = b[2+l:]
		switch t {
		case SubOptBindingReference:
			if l == 0 || l%2 != 0 {
				return FlowIdentification{}, fmt.Errorf("%w: flow %d: binding reference length %d, want a nonzero even number", ErrMalformed, f.FID, l)
			}
			for i := 0; i < l; i += 2 {
				f.BIDs = append(f.BIDs, paths.BID(binary.BigEndian.Uint16(sub[i:])))
			}
		case SubOptTrafficSelector:
			if f.Selector != nil {
				return FlowIdentification{}, fmt.Errorf("%w: flow %d: duplicate traffic selector", ErrMalformed, f.FID)
			}
			ts, err := ParseTrafficSelector(sub)
			if err != nil {
				return FlowIdentification{}, fmt.Errorf("flow %d: %w", f.FID, err)
			}
			f.Selector = &ts
		case SubOptFlowAction:
			if seenAction {
				return FlowIdentification{}, fmt.Errorf("%w: flow %d: duplicate flow binding action", ErrMalformed, f.FID)
			}
			if l != flowActionLen {
				return FlowIdentification{}, fmt.Errorf("%w: flow %d: flow binding action length %d, want %d", ErrMalformed, f.FID, l, flowActionLen)
			}
			seenAction = true
			f.Action = FlowAction(sub[1])
		case SubOptForwardingMode:
			if seenMode || l != flowModeLen || sub[0] == byte(FlowModeFailover) {
				return FlowIdentification{}, fmt.Errorf("%w: flow %d: forwarding mode sub-option repeated, of length %d or failover", ErrMalformed, f.FID, l)
			}
			seenMode = true
			f.Mode = FlowMode(sub[0])
		case SubOptWeights:
			if f.Weights != nil || l == 0 || l%2 != 0 {
				return FlowIdentification{}, fmt.Errorf("%w: flow %d: weights sub-option repeated or of length %d", ErrMalformed, f.FID, l)
			}
			f.Weights = make([]uint16, l/2)
			for i := range f.Weights {
				f.Weights[i] = binary.BigEndian.Uint16(sub[2*i:])
			}
		}
	}
	if f.Weights != nil && (len(f.Weights) != len(f.BIDs) || f.Mode != FlowModeSpread) {
		return FlowIdentification{}, fmt.Errorf("%w: flow %d: %d weights for %d BIDs (mode %d)", ErrMalformed, f.FID, len(f.Weights), len(f.BIDs), f.Mode)
	}
	return f, nil
}

// parseFlowSummary appends the FIDs of a Flow Summary option (type 44, RFC
// 6089 §4.2.2: FIDs as u16 each) to fids.
func parseFlowSummary(fids []uint16, data []byte) ([]uint16, error) {
	if len(data) == 0 || len(data)%2 != 0 {
		return fids, fmt.Errorf("%w: flow summary option length %d, want a nonzero even number", ErrMalformed, len(data))
	}
	for i := 0; i < len(data); i += 2 {
		fids = append(fids, binary.BigEndian.Uint16(data[i:]))
	}
	return fids, nil
}

// appendFlowSummary appends fids as Flow Summary options of at most
// fidsPerSummary FIDs each.
func appendFlowSummary(b []byte, fids []uint16) []byte {
	for len(fids) > 0 {
		n := min(len(fids), fidsPerSummary)
		b = append(b, byte(OptFlowSummary), byte(2*n))
		for _, fid := range fids[:n] {
			b = binary.BigEndian.AppendUint16(b, fid)
		}
		fids = fids[n:]
	}
	return b
}

// flowSummaryOptions returns how many options appendFlowSummary writes.
func flowSummaryOptions(n int) int { return (n + fidsPerSummary - 1) / fidsPerSummary }
