// SPDX-License-Identifier: MIT

package msg

import (
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"monami/paths"
)

// sampleFlowBU is a binding update that binds two flows and refreshes two.
func sampleFlowBU() BindingUpdate {
	ts4, ts6 := sampleTS4(), sampleTS6()
	return BindingUpdate{
		Sequence: 7,
		Flags:    BUAck | BUHome | BUMobileRouter,
		Lifetime: 150,
		BIDs:     []BIDOption{{BID: 10}, {BID: 11}},
		Flows: []FlowIdentification{
			{FID: 1, Priority: 10, Action: FlowActionAdd, BIDs: []paths.BID{10}, Selector: &ts4},
			{FID: 2, Priority: 20, Action: FlowActionModify, BIDs: []paths.BID{10, 11}, Selector: &ts6},
			{FID: 3, Action: FlowActionDelete},
		},
		FlowSummary: []uint16{4, 5},
	}
}

// sampleFlowBA answers sampleFlowBU flow by flow.
func sampleFlowBA() BindingAck {
	return BindingAck{
		Sequence: 7,
		Lifetime: 150,
		BIDs:     []BIDOption{{BID: 10}, {BID: 11}},
		Flows: []FlowIdentification{
			{FID: 1, Status: FlowStatusSuccess},
			{FID: 2, Status: FlowStatusBIDNotFound, BIDs: []paths.BID{11}},
			{FID: 3, Status: FlowStatusFIDNotFound},
		},
	}
}

func TestFlowOptionGolden(t *testing.T) {
	ts := sampleTS4()
	bu := BindingUpdate{
		Sequence:    1,
		Flows:       []FlowIdentification{{FID: 1, Priority: 10, Action: FlowActionAdd, BIDs: []paths.BID{10, 11}, Selector: &ts}},
		FlowSummary: []uint16{2, 3},
	}
	want := "0001" + "0000" + "0000" +
		"2d23" + "0001" + "000a" + "00" + "00" + // flow id 45, FID 1, FID-PRI 10, reserved, status
		"0402" + "00" + "0b" + // flow binding action: add (11)
		"0204" + "000a" + "000b" + // binding reference: BIDs 10, 11
		"0311" + "0100c0880000c6120a00c6120aff001606" + // traffic selector (see TestTrafficSelectorGolden)
		"2c04" + "0002" + "0003" // flow summary 44: FIDs 2, 3
	if got := hex.EncodeToString(bu.Append(nil)); got != want {
		t.Fatalf("update:\n got %s\nwant %s", got, want)
	}
	ba := BindingAck{Sequence: 1, Flows: []FlowIdentification{{FID: 1, Status: FlowStatusBIDNotFound}}}
	want = "00000001" + "0000" + "2d06" + "0001" + "0000" + "00" + "83"
	if got := hex.EncodeToString(ba.Append(nil)); got != want {
		t.Fatalf("ack:\n got %s\nwant %s", got, want)
	}
}

// TestFlowBindingActionRFCFigures encodes one Flow Identification option
// per action value into a byte string written down by hand from the
// figures: the option of RFC 6089 §4.2 Figure 2 (type 45), the Flow Binding
// Action sub-option of RFC 7109 §6.2.1 Figure 5 (type 4, data reserved and
// action; the values are those of RFC 7109 §6.2.1 and §9 Action-6), the
// Binding Reference sub-option of RFC 6089 §4.2.1.3 Figure 4 (type 2) and
// the Traffic Selector sub-option of RFC 6089 §4.2.1.4 Figure 5 (type 3)
// holding an RFC 6088 §3.1 IPv4 selector (flag M: protocol 17).
func TestFlowBindingActionRFCFigures(t *testing.T) {
	ts := TrafficSelector{Format: TSFormatIPv4, Proto: NewRange[uint8](17, 17)}
	tests := []struct {
		action FlowAction
		value  string // the Action byte
	}{
		{FlowActionAdd, "0b"},     // 11 Add a flow binding
		{FlowActionDelete, "0c"},  // 12 Delete a flow binding
		{FlowActionModify, "0d"},  // 13 Modify a flow binding
		{FlowActionRefresh, "0e"}, // 14 Refresh a flow binding
		{FlowActionMove, "0f"},    // 15 Move a flow binding
		{FlowActionRevoke, "10"},  // 16 Revoke a flow binding
	}
	for _, tc := range tests {
		t.Run(tc.action.String(), func(t *testing.T) {
			f := FlowIdentification{FID: 0x0102, Priority: 0x0304, Action: tc.action, BIDs: []paths.BID{0x0a0b}, Selector: &ts}
			rows := []string{
				"2d 17",          // Option Type 45, Option Len 23: 6 + 4 + 4 + 9
				"01 02 03 04",    // FID, FID-PRI
				"00 00",          // Reserved, Status
				"04 02",          // Sub-opt Type 4 (Flow Binding Action), Sub-opt Length 2
				"00 " + tc.value, // Reserved, Action
				"02 02 0a 0b",    // Sub-Opt Type 2 (Binding Reference), Sub-Opt Len 2, BID
				"03 07",          // Sub-Opt Type 3 (Traffic Selector), Sub-Opt Len 7
				"01 00",          // TS Format 1, Reserved
				"00 08 00 00",    // flags: M
				"11",             // (M) Start Protocol 17
			}
			want := strings.ReplaceAll(strings.Join(rows, ""), " ", "")
			if err := f.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			enc := appendFlowOption(nil, &f)
			if got := hex.EncodeToString(enc); got != want {
				t.Fatalf("encoding:\n got %s\nwant %s", got, want)
			}
			got, err := parseFlowOption(enc[2:])
			if err != nil {
				t.Fatalf("parseFlowOption: %v", err)
			}
			if !reflect.DeepEqual(got, f) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, f)
			}
			// The sub-option's Reserved byte is ignored on receipt.
			enc[2+6+2] = 0xff
			if got, err := parseFlowOption(enc[2:]); err != nil || got.Action != tc.action {
				t.Fatalf("with reserved 0xff: action %v, error %v; want %v", got.Action, err, tc.action)
			}
		})
	}
	if got := uint8(SubOptFlowAction); got != 4 {
		t.Fatalf("flow binding action sub-option type %d, want 4 (RFC 7109 §9 Action-5)", got)
	}
}

func TestFlowRoundTrip(t *testing.T) {
	fids := make([]uint16, 300)
	for i := range fids {
		fids[i] = uint16(i * 7)
	}
	maxBIDs := make([]paths.BID, (maxOptionData-flowIDFixedLen-2)/2)
	for i := range maxBIDs {
		maxBIDs[i] = paths.BID(i + 1)
	}
	opaque := TrafficSelector{Format: 200, Opaque: []byte("future")}
	tests := []struct {
		name string
		bu   BindingUpdate
	}{
		{name: "sample", bu: sampleFlowBU()},
		{name: "flow without sub-options", bu: BindingUpdate{Flows: []FlowIdentification{{FID: 9, Priority: 0xffff, Status: 0xff}}}},
		{name: "redundant flow", bu: BindingUpdate{Flows: []FlowIdentification{{FID: 3, BIDs: []paths.BID{1, 2}, Mode: FlowModeRedundant}}}},
		{name: "summary of 300 fids", bu: BindingUpdate{FlowSummary: fids}},
		{name: "most bids in one flow", bu: BindingUpdate{Flows: []FlowIdentification{{FID: 1, BIDs: maxBIDs}}}},
		{name: "unsupported selector format kept", bu: BindingUpdate{Flows: []FlowIdentification{{FID: 1, Selector: &opaque}}}},
		{name: "with everything else", bu: func() BindingUpdate {
			m := sampleBU()
			f := sampleFlowBU()
			m.Flows, m.FlowSummary = f.Flows, f.FlowSummary
			return m
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.bu.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			got, err := ParseBindingUpdate(tc.bu.Append(nil))
			if err != nil {
				t.Fatalf("ParseBindingUpdate: %v", err)
			}
			if !reflect.DeepEqual(got, tc.bu) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, tc.bu)
			}
		})
	}
	ba := sampleFlowBA()
	if err := ba.Validate(); err != nil {
		t.Fatal(err)
	}
	got, err := ParseBindingAck(ba.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ba) {
		t.Fatalf("ack round trip:\n got %+v\nwant %+v", got, ba)
	}
}

func TestFlowSummaryChunks(t *testing.T) {
	bu := BindingUpdate{FlowSummary: make([]uint16, 2*fidsPerSummary+1)}
	b := bu.Append(nil)
	var sizes []int
	if err := forEachOption(b[buHeaderLen:], func(t OptionType, data []byte) error {
		if t == OptFlowSummary {
			sizes = append(sizes, len(data))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []int{254, 254, 2}; !reflect.DeepEqual(sizes, want) {
		t.Fatalf("flow summary option sizes %v, want %v", sizes, want)
	}
}

func TestParseFlowOptionsLenient(t *testing.T) {
	hdr := []byte{0, 1, 0, 0, 0, 0}
	body := append(hdr[:6:6],
		45, 29, 0, 5, 0, 1, 0xee, 0, // FID 5, FID-PRI 1, reserved 0xee (ignored), status 0
		0,          // Pad1
		1, 2, 0, 0, // PadN
		2, 2, 0, 10, // binding reference: 10
		5, 6, 0, 0, 198, 18, 0, 1, // target care-of address (RFC 7109): skipped
		2, 4, 0, 11, 0, 12, // binding reference: 11, 12 (concatenated)
	)
	body = append(body, 44, 2, 0, 7, 44, 4, 0, 8, 0, 9) // two flow summaries, concatenated
	want := BindingUpdate{
		Sequence:    1,
		Flows:       []FlowIdentification{{FID: 5, Priority: 1, BIDs: []paths.BID{10, 11, 12}}},
		FlowSummary: []uint16{7, 8, 9},
	}
	got, err := ParseBindingUpdate(body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	// An acknowledgement drops the flow summary.
	ack, err := ParseBindingAck(body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ack.Flows, want.Flows) {
		t.Fatalf("ack flows %+v, want %+v", ack.Flows, want.Flows)
	}
}

func TestParseFlowOptionsMalformed(t *testing.T) {
	hdr := []byte{0, 1, 0, 0, 0, 0}
	flow := func(sub ...byte) []byte {
		b := append(hdr[:6:6], 45, byte(6+len(sub)), 0, 1, 0, 0, 0, 0)
		return append(b, sub...)
	}
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{name: "flow option too short", body: append(hdr[:6:6], 45, 5, 0, 1, 0, 0, 0), want: "want at least 6"},
		{name: "flow option empty", body: append(hdr[:6:6], 45, 0), want: "want at least 6"},
		{name: "truncated sub-option header", body: flow(2), want: "truncated sub-option"},
		{name: "sub-option overruns", body: flow(2, 4, 0, 1), want: "exceeds"},
		{name: "binding reference odd", body: flow(2, 3, 0, 1, 0), want: "binding reference length 3"},
		{name: "binding reference empty", body: flow(2, 0), want: "binding reference length 0"},
		{name: "action too short", body: flow(4, 1, 11), want: "flow binding action length 1"},
		{name: "action too long", body: flow(4, 3, 0, 11, 0), want: "flow binding action length 3"},
		{name: "duplicate action", body: flow(4, 2, 0, 11, 4, 2, 0, 12), want: "duplicate flow binding action"},
		{name: "duplicate selector", body: flow(3, 2, 9, 0, 3, 2, 9, 0), want: "duplicate traffic selector"},
		{name: "selector too short", body: flow(3, 1, 1), want: "traffic selector of 1 bytes"},
		{name: "selector end without start", body: flow(3, 10, 1, 0, 0x40, 0, 0, 0, 198, 18, 0, 1), want: "end source address without start"},
		{name: "selector trailing bytes", body: flow(3, 7, 1, 0, 0, 0, 0, 0, 9), want: "bytes after"},
		{name: "weights without the spread mode", body: flow(2, 2, 0, 1, 201, 2, 0, 5), want: "1 weights for 1 BIDs (mode 0)"},
		{name: "weights fewer than BIDs", body: flow(2, 4, 0, 1, 0, 2, 200, 1, 1, 201, 2, 0, 5), want: "1 weights for 2 BIDs"},
		{name: "weights odd", body: flow(2, 2, 0, 1, 200, 1, 1, 201, 3, 0, 5, 0), want: "weights sub-option repeated or of length 3"},
		{name: "weights repeated", body: flow(2, 2, 0, 1, 200, 1, 1, 201, 2, 0, 5, 201, 2, 0, 5), want: "weights sub-option repeated"},
		{name: "flow summary odd", body: append(hdr[:6:6], 44, 3, 0, 1, 0), want: "flow summary option length 3"},
		{name: "flow summary empty", body: append(hdr[:6:6], 44, 0), want: "flow summary option length 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBindingUpdate(tc.body)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseBindingUpdate error = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
			if _, err := ParseBindingAck(tc.body); !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseBindingAck error = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestFlowValidate(t *testing.T) {
	bad := TrafficSelector{Format: TSFormatIPv4, DstPort: NewRange[uint16](2, 1)}
	tooMany := make([]paths.BID, (maxOptionData-flowIDFixedLen-2)/2+1)
	full := sampleTS6()
	full.Src = NewAddrRange(netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2"))
	full.Dst = full.Src
	tests := []struct {
		name string
		bu   BindingUpdate
	}{
		{name: "bad selector", bu: BindingUpdate{Flows: []FlowIdentification{{FID: 1, Selector: &bad}}}},
		{name: "too many bids", bu: BindingUpdate{Flows: []FlowIdentification{{FID: 1, BIDs: tooMany}}}},
		{name: "selector and bids too long", bu: BindingUpdate{Flows: []FlowIdentification{{FID: 1, Selector: &full, BIDs: make([]paths.BID, 90)}}}},
		{name: "too many options", bu: BindingUpdate{BIDs: make([]BIDOption, MaxOptions-1), FlowSummary: make([]uint16, fidsPerSummary+1)}},
		{name: "too many flows", bu: BindingUpdate{Flows: make([]FlowIdentification, MaxOptions+1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.bu.Validate(); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Validate = %v, want ErrMalformed", err)
			}
		})
	}
	ba := BindingAck{Flows: []FlowIdentification{{FID: 1, Selector: &bad}}}
	if err := ba.Validate(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ack Validate = %v, want ErrMalformed", err)
	}
	ok := BindingUpdate{BIDs: make([]BIDOption, MaxOptions-1), FlowSummary: make([]uint16, fidsPerSummary)}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate of %d options: %v", MaxOptions, err)
	}
}

// randFlow returns a random valid flow binding.
func randFlow(r *rand.Rand) FlowIdentification {
	f := FlowIdentification{
		FID:      uint16(r.Uint32()),
		Priority: uint16(r.Uint32()),
		Status:   FlowStatus(r.Uint32()),
	}
	if r.IntN(2) == 0 {
		f.Action = FlowAction(1 + r.IntN(255))
	}
	if n := r.IntN(8); n > 0 {
		f.BIDs = make([]paths.BID, n)
		for i := range f.BIDs {
			f.BIDs[i] = paths.BID(r.Uint32())
		}
	}
	if r.IntN(4) > 0 {
		ts := randTS(r)
		f.Selector = &ts
	}
	switch r.IntN(4) {
	case 1:
		f.Mode = FlowModeRedundant
	case 2, 3:
		f.Mode = FlowModeSpread
		if len(f.BIDs) > 0 && r.IntN(2) == 0 {
			f.Weights = make([]uint16, len(f.BIDs))
			for i := range f.Weights {
				f.Weights[i] = uint16(r.Uint32())
			}
		}
	}
	return f
}

func TestFlowRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		var bu BindingUpdate
		bu.Sequence = uint16(r.Uint32())
		for range r.IntN(5) {
			bu.Flows = append(bu.Flows, randFlow(r))
		}
		for range r.IntN(200) {
			bu.FlowSummary = append(bu.FlowSummary, uint16(r.Uint32()))
		}
		if err := bu.Validate(); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		got, err := ParseBindingUpdate(bu.Append(nil))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, bu) {
			t.Fatalf("case %d: round trip:\n got %+v\nwant %+v", i, got, bu)
		}
		ba := BindingAck{Sequence: bu.Sequence, Flows: bu.Flows}
		gotBA, err := ParseBindingAck(ba.Append(nil))
		if err != nil {
			t.Fatalf("case %d: ack: %v", i, err)
		}
		if !reflect.DeepEqual(gotBA, ba) {
			t.Fatalf("case %d: ack round trip:\n got %+v\nwant %+v", i, gotBA, ba)
		}
	}
}

func TestFlowStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{FlowActionNone.String(), "none"},
		{FlowActionAdd.String(), "add"},
		{FlowActionDelete.String(), "delete"},
		{FlowActionModify.String(), "modify"},
		{FlowActionRefresh.String(), "refresh"},
		{FlowActionMove.String(), "move"},
		{FlowActionRevoke.String(), "revoke"},
		{FlowAction(1).String(), "action(1)"},
		{OptFlowID.String(), "flow_id"},
		{OptFlowSummary.String(), "flow_summary"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
