// SPDX-License-Identifier: MIT

package frame

import (
	"bytes"
	"errors"
	"testing"

	"monami/paths"
)

func TestPutParse(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		wire []byte
	}{
		{
			name: "data",
			h:    Header{Type: TypeData, BID: 1, Receiver: 0x11223344, Counter: 0},
			wire: []byte{1, 0, 0, 1, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, 0, 0, 0, 0},
		},
		{
			name: "keepalive",
			h:    Header{Type: TypeKeepalive, BID: 0xabcd, Receiver: 7, Counter: 0x0102030405060708},
			wire: []byte{2, 0, 0xab, 0xcd, 0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8},
		},
		{
			name: "max fields and flags",
			h:    Header{Type: TypeData, Flags: 0xff, BID: 0xffff, Receiver: 0xffffffff, Counter: ^uint64(0)},
			wire: []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var put [HeaderLen]byte
			tc.h.Put(put[:])
			if !bytes.Equal(put[:], tc.wire) {
				t.Errorf("Put = % x, want % x", put, tc.wire)
			}
			if got := tc.h.Append([]byte{0xee}); !bytes.Equal(got[1:], tc.wire) || got[0] != 0xee {
				t.Errorf("Append = % x, want ee % x", got, tc.wire)
			}
			dg := append(bytes.Clone(tc.wire), make([]byte, TagLen)...)
			got, err := Parse(dg)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got != tc.h {
				t.Errorf("Parse = %+v, want %+v", got, tc.h)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	good := Header{Type: TypeData, BID: 3, Receiver: 9, Counter: 42}.Append(nil)
	withTag := func(h []byte) []byte { return append(bytes.Clone(h), make([]byte, TagLen)...) }
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{name: "nil", b: nil, want: ErrShort},
		{name: "header only", b: good, want: ErrShort},
		{name: "one byte short of a tag", b: withTag(good)[:Overhead-1], want: ErrShort},
		{name: "exactly header and tag", b: withTag(good), want: nil},
		{name: "type 0", b: withTag(append([]byte{0}, good[1:]...)), want: ErrBadType},
		{name: "type 3 (keepalive reply)", b: withTag(append([]byte{3}, good[1:]...)), want: nil},
		{name: "type 5", b: withTag(append([]byte{5}, good[1:]...)), want: ErrBadType},
		{name: "type 255", b: withTag(append([]byte{255}, good[1:]...)), want: ErrBadType},
		{name: "zero bid", b: withTag(Header{Type: TypeKeepalive, Receiver: 1}.Append(nil)), want: ErrZeroBID},
		{name: "unknown flags", b: withTag(Header{Type: TypeData, Flags: 0x80, BID: 1}.Append(nil)), want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.b)
			if !errors.Is(err, tc.want) {
				t.Errorf("Parse(% x) error = %v, want %v", tc.b, err, tc.want)
			}
		})
	}
}

func TestTypeString(t *testing.T) {
	tests := []struct {
		name string
		t    Type
		want string
	}{
		{name: "data", t: TypeData, want: "data"},
		{name: "keepalive", t: TypeKeepalive, want: "keepalive"},
		{name: "unknown", t: 9, want: "type(9)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.t.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOverhead(t *testing.T) {
	// docs/internals.md: 1500 − 48 (IPv6 + UDP) − Overhead = 1420, the TUN MTU.
	if got := 1500 - 48 - Overhead; got != 1420 {
		t.Errorf("inner MTU = %d, want 1420", got)
	}
}

func TestPutShortPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Put into a short buffer did not panic")
		}
	}()
	h := Header{Type: TypeData, BID: 1}
	h.Put(make([]byte, HeaderLen-1))
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	dg := make([]byte, 1400)
	h := Header{Type: TypeData, BID: 2, Receiver: 5, Counter: 77}
	if n := testing.AllocsPerRun(1000, func() { h.Put(dg) }); n != 0 {
		t.Errorf("Put allocates %v times", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := Parse(dg); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Parse allocates %v times", n)
	}
	bad := make([]byte, 40) // type 0: the error path must not allocate either
	if n := testing.AllocsPerRun(1000, func() { _, _ = Parse(bad) }); n != 0 {
		t.Errorf("Parse (error) allocates %v times", n)
	}
	buf := make([]byte, 0, HeaderLen)
	if n := testing.AllocsPerRun(1000, func() { buf = h.Append(buf[:0]) }); n != 0 {
		t.Errorf("Append allocates %v times", n)
	}
}

// seeds are real encodings: every type, zero and maximal fields, followed by
// a tag and sometimes a payload.
func seeds() [][]byte {
	var out [][]byte
	for _, h := range []Header{
		{Type: TypeData, BID: 1, Receiver: 0x1111, Counter: 0},
		{Type: TypeKeepalive, BID: 2, Receiver: 0x2222, Counter: 1},
		{Type: TypeData, Flags: 0xff, BID: 0xffff, Receiver: 0xffffffff, Counter: ^uint64(0)},
	} {
		out = append(out, append(h.Append(nil), make([]byte, TagLen)...))
		out = append(out, append(h.Append(nil), bytes.Repeat([]byte{0x45}, 60)...))
	}
	out = append(out, Header{Type: 3, BID: 1}.Append(nil), Header{Type: TypeData}.Append(nil), nil)
	return out
}

func FuzzParse(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Parse(b)
		if err != nil {
			if h != (Header{}) {
				t.Fatalf("Parse error %v with non-zero header %+v", err, h)
			}
			return
		}
		if len(b) < Overhead || h.BID == 0 || (h.Type != TypeData && h.Type != TypeKeepalive) {
			t.Fatalf("Parse accepted an invalid frame % x", b)
		}
		if got := h.Append(nil); !bytes.Equal(got, b[:HeaderLen]) {
			t.Fatalf("Append(Parse(b)) = % x, want % x", got, b[:HeaderLen])
		}
		var put [HeaderLen]byte
		h.Put(put[:])
		if !bytes.Equal(put[:], b[:HeaderLen]) {
			t.Fatalf("Put(Parse(b)) = % x, want % x", put, b[:HeaderLen])
		}
	})
}

func BenchmarkParse(b *testing.B) {
	dg := append(Header{Type: TypeData, BID: 1, Receiver: 2, Counter: 3}.Append(nil), make([]byte, 1400)...)
	b.ReportAllocs()
	var sink paths.BID
	for b.Loop() {
		h, err := Parse(dg)
		if err != nil {
			b.Fatal(err)
		}
		sink += h.BID
	}
	_ = sink
}

func BenchmarkPut(b *testing.B) {
	dg := make([]byte, 1432)
	h := Header{Type: TypeData, BID: 1, Receiver: 2}
	b.ReportAllocs()
	for b.Loop() {
		h.Counter++
		h.Put(dg)
	}
}

func TestProbeRoundTrip(t *testing.T) {
	b := make([]byte, ProbeLen)
	PutProbe(b, 0xdeadbeef, 42)
	seq, sent, ok := ParseProbe(b)
	if !ok || seq != 0xdeadbeef || sent != 42 {
		t.Fatalf("ParseProbe = %x, %d, %v", seq, sent, ok)
	}
	if _, _, ok := ParseProbe(b[:ProbeLen-1]); ok {
		t.Fatal("short probe accepted")
	}
}
