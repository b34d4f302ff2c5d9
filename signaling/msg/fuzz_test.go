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
	return [][]byte{
		bu.Append(nil), ba.Append(nil), short.Append(nil), reject.Append(nil),
		{0, 1, 0, 0, 0, 0, 0, 1, 2, 0, 0, 99, 1, 7},
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
			switch typ {
			case TypeBindingUpdate:
				_, _ = ParseBindingUpdate(body)
			case TypeBindingAck:
				_, _ = ParseBindingAck(body)
			}
		}
	})
}
