// SPDX-License-Identifier: MIT

package msg

import (
	"bytes"
	"io"
	"net/netip"
	"reflect"
	"testing"
)

// seedBodies are real encodings: the fuzz seeds of the body parsers.
func seedBodies() [][]byte {
	bu, ba := sampleBU(), sampleBA()
	short := BindingUpdate{Sequence: 1, Flags: BUAck, Lifetime: 150, BIDs: []BIDOption{{BID: 1}},
		Session: &SessionOption{Index: 1, Generation: 1, Suite: 1}, Prefixes: []netip.Prefix{netip.MustParsePrefix("fd00::/8")}}
	reject := BindingAck{Status: StatusAdminProhibited, Sequence: 1, BIDs: []BIDOption{{BID: 1, Status: StatusAdminProhibited}}}
	fbu, fba := sampleFlowBU(), sampleFlowBA()
	return [][]byte{
		bu.Append(nil), ba.Append(nil), short.Append(nil), reject.Append(nil),
		{0, 1, 0, 0, 0, 0, 0, 1, 2, 0, 0, 99, 1, 7},
		fbu.Append(nil), fba.Append(nil),
	}
}

func FuzzParseBindingUpdate(f *testing.F) {
	for _, b := range seedBodies() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseBindingUpdate(b)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("parsed update does not validate: %v", err)
		}
		enc := m.Append(nil)
		if len(enc) > len(b) {
			t.Fatalf("re-encoding grew from %d to %d bytes", len(b), len(enc))
		}
		m2, err := ParseBindingUpdate(enc)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("parse∘append is not the identity:\n%+v\n%+v", m, m2)
		}
		if enc2 := m2.Append(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not canonical")
		}
	})
}

func FuzzParseBindingAck(f *testing.F) {
	for _, b := range seedBodies() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseBindingAck(b)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("parsed ack does not validate: %v", err)
		}
		enc := m.Append(nil)
		m2, err := ParseBindingAck(enc)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("parse∘append is not the identity:\n%+v\n%+v", m, m2)
		}
		if enc2 := m2.Append(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not canonical")
		}
	})
}

func FuzzReadMessage(f *testing.F) {
	var stream []byte
	for i, b := range seedBodies() {
		typ := TypeBindingUpdate
		if i%2 == 1 {
			typ = TypeBindingAck
		}
		one, err := AppendMessage(nil, Raw{Type: typ, Body: b})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(one)
		stream = append(stream, one...)
	}
	f.Add(stream)
	f.Add([]byte{64, 0, 0, 5, 0})
	f.Add(seedMonamiStream(f))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		buf := make([]byte, 16)
		consumed := 0
		for {
			typ, body, err := ReadMessage(r, buf)
			if err != nil {
				if err == io.EOF && consumed != len(in) {
					t.Fatalf("io.EOF after %d of %d bytes", consumed, len(in))
				}
				return
			}
			n := len(in) - r.Len()
			re, err := AppendMessage(nil, Raw{Type: typ, Body: body})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(re, in[consumed:n]) {
				t.Fatalf("re-framing differs from the input")
			}
			consumed = n
			_, _ = parseBody(typ, body)
		}
	})
}

// seedMonamiStream is a stream of one of each of monami's own messages.
func seedMonamiStream(f *testing.F) []byte {
	pr, er := samplePathReport(), sampleErrorReport()
	var b []byte
	for _, m := range []Message{&pr, &KeyUpdate{Generation: 3, Index: 4}, &KeyUpdateAck{Generation: 3, Index: 5}, &er} {
		var err error
		if b, err = AppendMessage(b, m); err != nil {
			f.Fatal(err)
		}
	}
	return b
}

// seedSelectors are real encodings of traffic selectors.
func seedSelectors() [][]byte {
	var out [][]byte
	for _, ts := range []TrafficSelector{
		sampleTS4(), sampleTS6(), fullTS(TSFormatIPv4), fullTS(TSFormatIPv6),
		{Format: TSFormatIPv6}, {Format: 9, Opaque: []byte{1, 2}},
	} {
		out = append(out, ts.Append(nil))
	}
	return out
}

func FuzzParseTrafficSelector(f *testing.F) {
	for _, b := range seedSelectors() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := ParseTrafficSelector(b)
		if err != nil {
			return
		}
		if err := ts.Validate(); err != nil {
			t.Fatalf("parsed selector does not validate: %v", err)
		}
		enc := ts.Append(nil)
		if len(enc) > len(b) || len(enc) != ts.encodedLen() {
			t.Fatalf("re-encoding of %d bytes from %d (encodedLen %d)", len(enc), len(b), ts.encodedLen())
		}
		ts2, err := ParseTrafficSelector(enc)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(ts, ts2) {
			t.Fatalf("parse∘append is not the identity:\n%+v\n%+v", ts, ts2)
		}
		if !bytes.Equal(enc, ts2.Append(nil)) {
			t.Fatalf("encoding is not canonical")
		}
	})
}

// FuzzParseFlowOption fuzzes the option area of binding updates and
// acknowledgements, seeded with flow identification and flow summary
// options, through ParseBindingUpdate and ParseBindingAck.
func FuzzParseFlowOption(f *testing.F) {
	bu, ba := sampleFlowBU(), sampleFlowBA()
	f.Add(bu.Append(nil)[buHeaderLen:])
	f.Add(ba.Append(nil)[baHeaderLen:])
	opaque := TrafficSelector{Format: 77, Opaque: []byte("x")}
	one := BindingUpdate{Flows: []FlowIdentification{{FID: 1, Action: FlowActionRefresh, Selector: &opaque}}, FlowSummary: []uint16{1, 2, 3}}
	f.Add(one.Append(nil)[buHeaderLen:])
	f.Fuzz(func(t *testing.T, opts []byte) {
		body := append([]byte{0, 1, 0x80, 0, 0, 1}, opts...)
		if m, err := ParseBindingUpdate(body); err == nil {
			if err := m.Validate(); err != nil {
				t.Fatalf("parsed update does not validate: %v", err)
			}
			enc := m.Append(nil)
			if len(enc) > len(body) {
				t.Fatalf("re-encoding grew from %d to %d bytes", len(body), len(enc))
			}
			m2, err := ParseBindingUpdate(enc)
			if err != nil {
				t.Fatalf("re-parse update: %v", err)
			}
			if !reflect.DeepEqual(m, m2) {
				t.Fatalf("update: parse∘append is not the identity:\n%+v\n%+v", m, m2)
			}
		}
		if m, err := ParseBindingAck(body); err == nil {
			if err := m.Validate(); err != nil {
				t.Fatalf("parsed ack does not validate: %v", err)
			}
			m2, err := ParseBindingAck(m.Append(nil))
			if err != nil {
				t.Fatalf("re-parse ack: %v", err)
			}
			if !reflect.DeepEqual(m, m2) {
				t.Fatalf("ack: parse∘append is not the identity:\n%+v\n%+v", m, m2)
			}
		}
	})
}

func FuzzParsePathReport(f *testing.F) {
	pr := samplePathReport()
	f.Add(pr.Append(nil))
	f.Add((&PathReport{}).Append(nil))
	f.Add(append([]byte{22}, make([]byte, 44)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParsePathReport(b)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("parsed report does not validate: %v", err)
		}
		enc := m.Append(nil)
		if len(enc) > len(b) {
			t.Fatalf("re-encoding grew from %d to %d bytes", len(b), len(enc))
		}
		m2, err := ParsePathReport(enc)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("parse∘append is not the identity:\n%+v\n%+v", m, m2)
		}
	})
}

func FuzzParseKeyUpdate(f *testing.F) {
	f.Add((&KeyUpdate{Generation: 2, Index: 0xdeadbeef}).Append(nil))
	f.Add((&KeyUpdateAck{Generation: 2, Index: 7}).Append(nil))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 2, 0xee})
	f.Fuzz(func(t *testing.T, b []byte) {
		ku, err := ParseKeyUpdate(b)
		ack, errAck := ParseKeyUpdateAck(b)
		if (err == nil) != (errAck == nil) {
			t.Fatalf("update and ack disagree: %v, %v", err, errAck)
		}
		if err != nil {
			return
		}
		if ku.Generation != ack.Generation || ku.Index != ack.Index {
			t.Fatalf("update %+v and ack %+v differ", ku, ack)
		}
		enc := ku.Append(nil)
		if !bytes.Equal(enc, b[:keyUpdateLen]) || !bytes.Equal(enc, ack.Append(nil)) {
			t.Fatalf("re-encoding %x differs from the input %x", enc, b)
		}
		if ku2, err := ParseKeyUpdate(enc); err != nil || ku2 != ku {
			t.Fatalf("re-parse: %+v, %v", ku2, err)
		}
	})
}

func FuzzParseErrorReport(f *testing.F) {
	er := sampleErrorReport()
	f.Add(er.Append(nil))
	f.Add((&ErrorReport{Status: 128, Kind: ErrorKindBinding, Index: 10}).Append(nil))
	f.Add([]byte{129, 9, 0, 1, 1, 'x', 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseErrorReport(b)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("parsed report does not validate: %v", err)
		}
		enc := m.Append(nil)
		if !bytes.Equal(enc, b[:len(enc)]) {
			t.Fatalf("re-encoding %x is not a prefix of the input %x", enc, b)
		}
		m2, err := ParseErrorReport(enc)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if m != m2 {
			t.Fatalf("parse∘append is not the identity:\n%+v\n%+v", m, m2)
		}
	})
}

func FuzzParsePolicy(f *testing.F) {
	f.Add((&PolicyRequest{ID: 1, Op: PolicyAdd, Lifetime: 600, Arg: "[[rule]]\nname = \"r\"\n"}).Append(nil))
	f.Add((&PolicyRequest{ID: 2, Op: PolicyRemove, Arg: "0a1b2c"}).Append(nil))
	f.Add((&PolicyResponse{ID: 1, Status: 201, Body: []byte(`{"id":"0a1b2c"}`)}).Append(nil))
	f.Add([]byte{0, 0, 0, 1, 9, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if req, err := ParsePolicyRequest(b); err == nil {
			enc := req.Append(nil)
			if req2, err := ParsePolicyRequest(enc); err != nil || req2 != req {
				t.Fatalf("request re-parse: %+v, %v (was %+v)", req2, err, req)
			}
		}
		if resp, err := ParsePolicyResponse(b); err == nil {
			if !bytes.Equal(resp.Append(nil), b) {
				t.Fatalf("response re-encoding differs")
			}
		}
	})
}
