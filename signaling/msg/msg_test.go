// SPDX-License-Identifier: MIT

package msg

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sampleBU is a binding update with every option kind.
func sampleBU() BindingUpdate {
	return BindingUpdate{
		Sequence: 0x1234,
		Flags:    BUAck | BUHome | BUMobileRouter,
		Lifetime: 150,
		BIDs: []BIDOption{
			{BID: 10},
			{BID: 11, Flags: BIDOverwrite, CareOf: netip.MustParseAddr("198.18.1.2")},
			{BID: 12, Flags: BIDHome, CareOf: netip.MustParseAddr("fd00:2::2")},
		},
		Session: &SessionOption{Index: 0xdeadbeef, Generation: 1, Suite: SuiteAES256GCM},
		Prefixes: []netip.Prefix{
			netip.MustParsePrefix("198.18.10.0/24"),
			netip.MustParsePrefix("fd00:10::/64"),
		},
	}
}

func sampleBA() BindingAck {
	return BindingAck{
		Status:   StatusAccepted,
		Flags:    BAMobileRouter,
		Sequence: 0x1234,
		Lifetime: 150,
		BIDs: []BIDOption{
			{BID: 10, Status: StatusAccepted},
			{BID: 11, Status: StatusMCoAMalformed},
		},
		Session: &SessionOption{Index: 7, Generation: 1, Suite: SuiteChaCha20Poly1305},
	}
}

func TestBindingUpdateGolden(t *testing.T) {
	m := BindingUpdate{
		Sequence: 0x0102,
		Flags:    BUAck | BUHome,
		Lifetime: 0x0096,
		BIDs:     []BIDOption{{BID: 10, CareOf: netip.MustParseAddr("198.18.1.2")}},
		Session:  &SessionOption{Index: 0x0a0b0c0d, Generation: 1, Suite: 2},
		Prefixes: []netip.Prefix{netip.MustParsePrefix("fd00:10::/64"), netip.MustParsePrefix("198.18.10.0/24")},
	}
	want := "0102" + "c000" + "0096" + // sequence, A|H, lifetime
		"2308" + "000a" + "00" + "00" + "c6120102" + // BID option with IPv4 CoA
		"c809" + "0a0b0c0d" + "00000001" + "02" + // session option
		"0612" + "00" + "40" + "fd000010000000000000000000000000" + // MNP (RFC 3963)
		"c906" + "00" + "18" + "c6120a00" // IPv4 MNP (monami 201)
	got := hex.EncodeToString(m.Append(nil))
	if got != want {
		t.Fatalf("encoding:\n got %s\nwant %s", got, want)
	}
}

func TestBindingAckGolden(t *testing.T) {
	m := BindingAck{
		Status:   StatusAdminProhibited,
		Flags:    BAKeyMgmt,
		Sequence: 7,
		Lifetime: 0,
		BIDs:     []BIDOption{{BID: 1, Status: StatusAdminProhibited, CareOf: netip.MustParseAddr("fd00::1")}},
	}
	want := "81" + "80" + "0007" + "0000" +
		"2314" + "0001" + "81" + "00" + "fd000000000000000000000000000001"
	if got := hex.EncodeToString(m.Append(nil)); got != want {
		t.Fatalf("encoding:\n got %s\nwant %s", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		bu   BindingUpdate
	}{
		{name: "empty", bu: BindingUpdate{}},
		{name: "full", bu: sampleBU()},
		{name: "flags kept", bu: BindingUpdate{Flags: 0xffff, Sequence: 0xffff, Lifetime: 0xffff}},
		{name: "v4-mapped care-of", bu: BindingUpdate{BIDs: []BIDOption{{BID: 1, CareOf: netip.MustParseAddr("::ffff:198.18.0.1")}}}},
		{name: "host bits kept", bu: BindingUpdate{Prefixes: []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr("fd00::1"), 64), netip.PrefixFrom(netip.MustParseAddr("198.18.0.1"), 0)}}},
		{name: "max options", bu: BindingUpdate{BIDs: make([]BIDOption, MaxOptions)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.bu.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			b, err := AppendMessage(nil, &tc.bu)
			if err != nil {
				t.Fatal(err)
			}
			typ, body, err := ReadMessage(bytes.NewReader(b), nil)
			if err != nil || typ != TypeBindingUpdate {
				t.Fatalf("ReadMessage = %v, %v", typ, err)
			}
			got, err := ParseBindingUpdate(body)
			if err != nil {
				t.Fatalf("ParseBindingUpdate: %v", err)
			}
			if !reflect.DeepEqual(got, tc.bu) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, tc.bu)
			}
		})
	}
}

func TestBindingAckRoundTrip(t *testing.T) {
	for _, m := range []BindingAck{{}, sampleBA(), {Status: 255, Flags: 0xff, Sequence: 1, Lifetime: 2}} {
		got, err := ParseBindingAck(m.Append(nil))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
		}
	}
}

func TestParseSkipsPaddingAndUnknown(t *testing.T) {
	want := BindingUpdate{Sequence: 1, BIDs: []BIDOption{{BID: 5}}, Session: &SessionOption{Index: 1, Generation: 2, Suite: 1}}
	b := []byte{0, 1, 0, 0, 0, 0}
	b = append(b, 0)                   // Pad1
	b = append(b, 1, 3, 0, 0, 0)       // PadN
	b = append(b, 99, 2, 0xaa, 0xbb)   // unknown
	b = append(b, 46, 0)               // redirect capability, unknown: skipped
	b = append(b, 35, 4, 0, 5, 0, 0)   // BID 5
	b = append(b, 200, 11, 0, 0, 0, 1) // session, longer than 9
	b = append(b, 0, 0, 0, 2, 1, 0xee, 0xee)
	b = append(b, 0, 0) // trailing Pad1s
	got, err := ParseBindingUpdate(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestParseMalformed(t *testing.T) {
	hdr := []byte{0, 1, 0x80, 0, 0, 1}
	many := append([]byte(nil), hdr...)
	for range MaxOptions + 1 {
		many = append(many, 0)
	}
	tests := []struct {
		name string
		body []byte
	}{
		{name: "empty", body: nil},
		{name: "short header", body: hdr[:5]},
		{name: "truncated option header", body: append(hdr[:6:6], 35)},
		{name: "option overruns", body: append(hdr[:6:6], 35, 8, 0, 1, 0, 0)},
		{name: "bid option length 5", body: append(hdr[:6:6], 35, 5, 0, 1, 0, 0, 9)},
		{name: "bid option length 0", body: append(hdr[:6:6], 35, 0)},
		{name: "session too short", body: append(hdr[:6:6], 200, 8, 0, 0, 0, 1, 0, 0, 0, 1)},
		{name: "duplicate session", body: append(hdr[:6:6], 200, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1, 200, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1)},
		{name: "mnp length", body: append(hdr[:6:6], 6, 17, 0, 64, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)},
		{name: "mnp prefix length", body: append(hdr[:6:6], 6, 18, 0, 129, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)},
		{name: "ipv4 mnp prefix length", body: append(hdr[:6:6], 201, 6, 0, 33, 198, 18, 0, 0)},
		{name: "too many options", body: many},
		{name: "body too long", body: make([]byte, MaxBodyLen+1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseBindingUpdate(tc.body); !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseBindingUpdate error = %v, want ErrMalformed", err)
			}
			// The BA header has the same length, so the same bodies are
			// malformed acknowledgements.
			if _, err := ParseBindingAck(tc.body); !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseBindingAck error = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		bu   BindingUpdate
	}{
		{name: "invalid prefix", bu: BindingUpdate{Prefixes: []netip.Prefix{{}}}},
		{name: "zoned care-of", bu: BindingUpdate{BIDs: []BIDOption{{BID: 1, CareOf: netip.MustParseAddr("fe80::1%eth0")}}}},
		{name: "too many options", bu: BindingUpdate{BIDs: make([]BIDOption, MaxOptions), Session: &SessionOption{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.bu.Validate(); err == nil {
				t.Fatal("Validate accepted an unencodable update")
			}
		})
	}
	ba := BindingAck{BIDs: make([]BIDOption, MaxOptions+1)}
	if err := ba.Validate(); err == nil {
		t.Fatal("Validate accepted an ack with too many options")
	}
}

func TestAppendMessageTooLong(t *testing.T) {
	prefix := []byte("keep")
	b, err := AppendMessage(prefix, Raw{Type: 64, Body: make([]byte, MaxBodyLen+1)})
	if !errors.Is(err, ErrTooLong) {
		t.Fatalf("error = %v, want ErrTooLong", err)
	}
	if string(b) != "keep" {
		t.Fatalf("b = %q, want it unchanged", b)
	}
	if err := WriteMessage(io.Discard, Raw{Type: 64, Body: make([]byte, MaxBodyLen+1)}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("WriteMessage error = %v, want ErrTooLong", err)
	}
	if _, err := AppendMessage(nil, Raw{Type: 64, Body: make([]byte, MaxBodyLen)}); err != nil {
		t.Fatalf("max body: %v", err)
	}
}

func TestReadMessage(t *testing.T) {
	var stream bytes.Buffer
	bu, ba := sampleBU(), sampleBA()
	for _, m := range []Message{&bu, Raw{Type: TypePathReport, Body: []byte("later")}, &ba, Raw{Type: 200}} {
		if err := WriteMessage(&stream, m); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 8) // too small for the BU: ReadMessage must grow it
	wantTypes := []Type{TypeBindingUpdate, TypePathReport, TypeBindingAck, 200}
	for i, want := range wantTypes {
		typ, body, err := ReadMessage(&stream, buf)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if typ != want {
			t.Fatalf("message %d: type %v, want %v", i, typ, want)
		}
		if typ == TypePathReport && string(body) != "later" {
			t.Fatalf("raw body %q", body)
		}
	}
	if _, _, err := ReadMessage(&stream, buf); err != io.EOF {
		t.Fatalf("at end: %v, want io.EOF", err)
	}
}

func TestReadMessageTruncated(t *testing.T) {
	full, err := AppendMessage(nil, Raw{Type: 5, Body: []byte{1, 2, 3, 4, 5, 6}})
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < len(full); n++ {
		_, _, err := ReadMessage(bytes.NewReader(full[:n]), nil)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%d of %d bytes: error %v, want io.ErrUnexpectedEOF", n, len(full), err)
		}
	}
}

func TestReadMessageNoAlloc(t *testing.T) {
	bu := sampleBU()
	b, err := AppendMessage(nil, &bu)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, MaxBodyLen)
	r := bytes.NewReader(b)
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(b)
		if _, _, err := ReadMessage(r, buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("ReadMessage allocates %v times per call", allocs)
	}
}

func TestLifetime(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want uint16
	}{
		{name: "zero", d: 0, want: 0},
		{name: "negative", d: -time.Second, want: 0},
		{name: "round up", d: time.Second, want: 1},
		{name: "exact", d: 600 * time.Second, want: 150},
		{name: "clamp", d: 100 * time.Hour, want: 0xffff},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := LifetimeUnits(tc.d); got != tc.want {
				t.Fatalf("LifetimeUnits(%v) = %d, want %d", tc.d, got, tc.want)
			}
		})
	}
	if got := LifetimeDuration(150); got != 600*time.Second {
		t.Fatalf("LifetimeDuration(150) = %v", got)
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{name: "accepted", got: StatusAccepted.String(), want: "accepted"},
		{name: "prohibited", got: StatusAdminProhibited.String(), want: "administratively prohibited"},
		{name: "out of window", got: StatusSequenceOutOfWindow.String(), want: "sequence number out of window"},
		{name: "mcoa malformed", got: StatusMCoAMalformed.String(), want: "mcoa malformed"},
		{name: "unknown reject", got: Status(250).String(), want: "rejected(250)"},
		{name: "unknown accept", got: Status(100).String(), want: "accepted(100)"},
		{name: "flow bid", got: FlowStatusBIDNotFound.String(), want: "bid not found"},
		{name: "flow unknown", got: FlowStatus(200).String(), want: "rejected(200)"},
		{name: "type", got: TypeBindingAck.String(), want: "binding_ack"},
		{name: "type unknown", got: Type(99).String(), want: "type(99)"},
		{name: "option", got: OptBindingID.String(), want: "binding_id"},
		{name: "option unknown", got: OptionType(99).String(), want: "option(99)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
	// Every status code this package names has a name of its own.
	named := []Status{
		StatusAccepted, StatusAcceptedPrefixDiscovery, StatusMCoANotComplete, StatusMCoAReturnHomeWithoutNDP,
		StatusReasonUnspecified, StatusAdminProhibited, StatusInsufficientResources,
		StatusHomeRegistrationUnsupported, StatusNotHomeSubnet, StatusNotHomeAgent, StatusDADFailed,
		StatusSequenceOutOfWindow, StatusRegistrationTypeChange, StatusMROperationNotPermitted,
		StatusInvalidPrefix, StatusNotAuthorizedForPrefix, StatusForwardingSetupFailed, StatusMCoAMalformed,
		StatusMCoANonMCoABindingExists, StatusMCoAProhibited, StatusMCoAUnknownCoA,
		StatusMCoABulkRegProhibited, StatusMCoASimultaneousHFProhibit, StatusInvalidCareOfAddress,
	}
	seen := map[string]bool{}
	for _, st := range named {
		n := st.String()
		if strings.Contains(n, "(") || seen[n] {
			t.Errorf("status %d has name %q", uint8(st), n)
		}
		seen[n] = true
	}
	if StatusReasonUnspecified.Accepted() || !StatusMCoANotComplete.Accepted() {
		t.Fatal("Accepted is wrong")
	}
	if !FlowStatusSuccess.Accepted() || FlowStatusMalformed.Accepted() {
		t.Fatal("FlowStatus.Accepted is wrong")
	}
}

func BenchmarkAppendBindingUpdate(b *testing.B) {
	m := sampleBU()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = m.Append(buf[:0])
	}
}

func BenchmarkParseBindingUpdate(b *testing.B) {
	m := sampleBU()
	body := m.Append(nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseBindingUpdate(body); err != nil {
			b.Fatal(err)
		}
	}
}
