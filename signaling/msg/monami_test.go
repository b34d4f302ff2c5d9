// SPDX-License-Identifier: MIT

package msg

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"monami/paths"
)

func samplePathReport() PathReport {
	return PathReport{Paths: []PathMetrics{
		{BID: 10, RTT: 25_000, RTTVar: 3_000, Loss: 655, DeliveryRate: 12_500_000, State: paths.StateUp},
		{BID: 11, RTT: 600_000, RTTVar: 90_000, Loss: 65535, DeliveryRate: 0, State: paths.StateDown},
	}}
}

func sampleErrorReport() ErrorReport {
	return ErrorReport{Status: uint8(FlowStatusBIDNotFound), Kind: ErrorKindPolicy, Index: 3, Reason: "no path satisfies «rtt < 50ms»"}
}

func TestMonamiMessagesGolden(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		want string
	}{
		{
			name: "path report",
			m:    &PathReport{Paths: []PathMetrics{{BID: 10, RTT: 25000, RTTVar: 3000, Loss: 655, DeliveryRate: 12500000, State: paths.StateUp}}},
			want: "40" + "0016" + "15" + // type 64, length 22, entry length 21
				"000a" + "000061a8" + "00000bb8" + "028f" + "0000000000bebc20" + "01",
		},
		{name: "empty path report", m: &PathReport{}, want: "40" + "0001" + "15"},
		{name: "key update", m: &KeyUpdate{Generation: 2, Index: 0xdeadbeef}, want: "41" + "0008" + "00000002" + "deadbeef"},
		{name: "key update ack", m: &KeyUpdateAck{Generation: 2, Index: 7}, want: "43" + "0008" + "00000002" + "00000007"},
		{
			name: "error report",
			m:    &ErrorReport{Status: uint8(StatusAdminProhibited), Kind: ErrorKindBinding, Index: 11, Reason: "no"},
			want: "44" + "0007" + "81" + "01" + "000b" + "02" + "6e6f",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := AppendMessage(nil, tc.m)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(b); got != tc.want {
				t.Fatalf("encoding:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// parseBody parses body as a message of type typ.
func parseBody(typ Type, body []byte) (Message, error) {
	switch typ {
	case TypePathReport:
		m, err := ParsePathReport(body)
		return &m, err
	case TypeKeyUpdate:
		m, err := ParseKeyUpdate(body)
		return &m, err
	case TypeKeyUpdateAck:
		m, err := ParseKeyUpdateAck(body)
		return &m, err
	case TypeErrorReport:
		m, err := ParseErrorReport(body)
		return &m, err
	case TypeBindingUpdate:
		m, err := ParseBindingUpdate(body)
		return &m, err
	case TypeBindingAck:
		m, err := ParseBindingAck(body)
		return &m, err
	}
	return Raw{Type: typ, Body: append([]byte(nil), body...)}, nil
}

func TestMonamiMessagesStream(t *testing.T) {
	bu, ba := sampleFlowBU(), sampleFlowBA()
	pr, er := samplePathReport(), sampleErrorReport()
	msgs := []Message{
		&bu, &ba, &pr, &KeyUpdate{Generation: 1, Index: 99}, &KeyUpdateAck{Generation: 1, Index: 42}, &er,
		&PathReport{}, &ErrorReport{Kind: ErrorKindFlow, Index: 0xffff},
	}
	var stream bytes.Buffer
	for _, m := range msgs {
		if v, ok := m.(interface{ Validate() error }); ok {
			if err := v.Validate(); err != nil {
				t.Fatalf("%s: Validate: %v", m.MessageType(), err)
			}
		}
		if err := WriteMessage(&stream, m); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range msgs {
		typ, body, err := ReadMessage(&stream, nil)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if typ != want.MessageType() {
			t.Fatalf("message %d: type %s, want %s", i, typ, want.MessageType())
		}
		got, err := parseBody(typ, body)
		if err != nil {
			t.Fatalf("message %d (%s): %v", i, typ, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("message %d (%s):\n got %+v\nwant %+v", i, typ, got, want)
		}
	}
}

func TestMonamiMessagesLenient(t *testing.T) {
	// Longer path entries and trailing bytes are ignored, so that the
	// messages may grow.
	sample := samplePathReport()
	entry := append(sample.Append(nil)[1:22], 0xaa, 0xbb)
	pr, err := ParsePathReport(append([]byte{23}, entry...))
	if err != nil {
		t.Fatal(err)
	}
	if want := sample.Paths[:1]; !reflect.DeepEqual(pr.Paths, want) {
		t.Fatalf("path report %+v, want %+v", pr.Paths, want)
	}
	ku, err := ParseKeyUpdate([]byte{0, 0, 0, 1, 0, 0, 0, 2, 0xee})
	if err != nil || ku != (KeyUpdate{Generation: 1, Index: 2}) {
		t.Fatalf("key update %+v, %v", ku, err)
	}
	er, err := ParseErrorReport([]byte{129, 9, 0, 1, 1, 'x', 0xff, 0xfe})
	if err != nil || er != (ErrorReport{Status: 129, Kind: 9, Index: 1, Reason: "x"}) {
		t.Fatalf("error report %+v, %v", er, err)
	}
}

func TestMonamiMessagesMalformed(t *testing.T) {
	big := make([]byte, MaxBodyLen+1)
	big[0] = PathEntryLen
	tests := []struct {
		name  string
		parse func([]byte) error
		body  []byte
		want  string
	}{
		{name: "path report empty", parse: parsePR, body: nil, want: "empty"},
		{name: "path report entry length 20", parse: parsePR, body: append([]byte{20}, make([]byte, 20)...), want: "entry length 20"},
		{name: "path report entry length 0", parse: parsePR, body: []byte{0}, want: "entry length 0"},
		{name: "path report truncated entry", parse: parsePR, body: append([]byte{21}, make([]byte, 41)...), want: "whole number"},
		{name: "path report too long", parse: parsePR, body: big, want: "body of"},
		{name: "key update short", parse: parseKU, body: make([]byte, 7), want: "want at least 8"},
		{name: "key update empty", parse: parseKU, body: nil, want: "want at least 8"},
		{name: "key update too long", parse: parseKU, body: big, want: "body of"},
		{name: "key update ack short", parse: parseKUA, body: make([]byte, 4), want: "want at least 8"},
		{name: "error report short", parse: parseER, body: []byte{1, 1, 0, 1}, want: "want at least 5"},
		{name: "error report reason overruns", parse: parseER, body: []byte{1, 1, 0, 1, 3, 'a', 'b'}, want: "exceeds"},
		{name: "error report reason not utf-8", parse: parseER, body: []byte{1, 1, 0, 1, 2, 0xc3, 0x28}, want: "not utf-8"},
		{name: "error report too long", parse: parseER, body: big, want: "body of"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(tc.body)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func parsePR(b []byte) error  { _, err := ParsePathReport(b); return err }
func parseKU(b []byte) error  { _, err := ParseKeyUpdate(b); return err }
func parseKUA(b []byte) error { _, err := ParseKeyUpdateAck(b); return err }
func parseER(b []byte) error  { _, err := ParseErrorReport(b); return err }

func TestMonamiMessagesValidate(t *testing.T) {
	if err := (&PathReport{Paths: make([]PathMetrics, MaxPathEntries)}).Validate(); err != nil {
		t.Fatalf("largest path report: %v", err)
	}
	m := PathReport{Paths: make([]PathMetrics, MaxPathEntries)}
	if _, err := AppendMessage(nil, &m); err != nil {
		t.Fatalf("largest path report does not fit: %v", err)
	}
	if err := (&PathReport{Paths: make([]PathMetrics, MaxPathEntries+1)}).Validate(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversized path report: %v", err)
	}
	if err := (&ErrorReport{Reason: strings.Repeat("é", MaxReasonLen/2)}).Validate(); err != nil {
		t.Fatalf("longest reason: %v", err)
	}
	if err := (&ErrorReport{Reason: strings.Repeat("x", MaxReasonLen+1)}).Validate(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversized reason: %v", err)
	}
	if err := (&ErrorReport{Reason: "\xff"}).Validate(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("invalid utf-8 reason: %v", err)
	}
	if (&KeyUpdate{}).Validate() != nil || (&KeyUpdateAck{}).Validate() != nil {
		t.Fatal("key update does not validate")
	}
}

func TestPathReportRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 500 {
		var m PathReport
		for range r.IntN(40) {
			m.Paths = append(m.Paths, PathMetrics{
				BID: paths.BID(r.Uint32()), RTT: r.Uint32(), RTTVar: r.Uint32(), Loss: uint16(r.Uint32()),
				DeliveryRate: r.Uint64(), State: paths.State(r.Uint32()),
			})
		}
		got, err := ParsePathReport(m.Append(nil))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("case %d: round trip:\n got %+v\nwant %+v", i, got, m)
		}
	}
}

func TestMonamiStrings(t *testing.T) {
	er := sampleErrorReport()
	bindingErr := ErrorReport{Status: uint8(StatusMCoAUnknownCoA), Kind: ErrorKindBinding}
	tests := []struct{ got, want string }{
		{TypePathReport.String(), "path_report"},
		{TypeKeyUpdate.String(), "key_update"},
		{TypeKeyUpdateAck.String(), "key_update_ack"},
		{TypeErrorReport.String(), "error_report"},
		{TypeFlowBinding.String(), "flow_binding"},
		{ErrorKindBinding.String(), "binding"},
		{ErrorKindFlow.String(), "flow"},
		{ErrorKindPolicy.String(), "policy"},
		{ErrorKind(0).String(), "kind(0)"},
		{er.StatusString(), "bid not found"},
		{bindingErr.StatusString(), "mcoa unknown coa"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func BenchmarkParseFlowBindingUpdate(b *testing.B) {
	m := sampleFlowBU()
	body := m.Append(nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseBindingUpdate(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendFlowBindingUpdate(b *testing.B) {
	m := sampleFlowBU()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = m.Append(buf[:0])
	}
}
