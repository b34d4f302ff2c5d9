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
)

// sampleTS4 is the IPv4 selector of the golden test: the MR's LAN to port
// 22 over TCP.
func sampleTS4() TrafficSelector {
	return TrafficSelector{
		Format:  TSFormatIPv4,
		Src:     AddrRangeFromPrefix(netip.MustParsePrefix("198.18.10.0/24")),
		DstPort: NewRange[uint16](22, 22),
		Proto:   NewRange[uint8](6, 6),
	}
}

// sampleTS6 is the IPv6 selector of the golden test.
func sampleTS6() TrafficSelector {
	return TrafficSelector{
		Format:    TSFormatIPv6,
		Src:       AddrRangeFromPrefix(netip.MustParsePrefix("fd00:10::/64")),
		FlowLabel: NewRange[uint32](0x12345, 0x12345),
		DstPort:   NewRange[uint16](22, 22),
		DS:        NewRange[uint8](0x20, 0x28),
		Proto:     NewRange[uint8](6, 6),
	}
}

// fullTS returns a selector of format f with every field a true range.
func fullTS(f TSFormat) TrafficSelector {
	ts := TrafficSelector{
		Format:  f,
		SPI:     NewRange[uint32](0x100, 0xffffffff),
		SrcPort: NewRange[uint16](1024, 65535),
		DstPort: NewRange[uint16](0, 1023),
		DS:      NewRange[uint8](0, 0xfc),
		Proto:   NewRange[uint8](6, 17),
	}
	if f == TSFormatIPv4 {
		ts.Src = NewAddrRange(netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.255.254"))
		ts.Dst = NewAddrRange(netip.MustParseAddr("198.19.0.0"), netip.MustParseAddr("198.19.0.0"))
		return ts
	}
	ts.Src = NewAddrRange(netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::ffff"))
	ts.Dst = NewAddrRange(netip.MustParseAddr("::ffff:198.18.0.1"), netip.MustParseAddr("fdff::"))
	ts.FlowLabel = NewRange[uint32](0, 0xfffff)
	return ts
}

func TestTrafficSelectorGolden(t *testing.T) {
	tests := []struct {
		name string
		ts   TrafficSelector
		want string
	}{
		{
			name: "ipv4",
			ts:   sampleTS4(),
			want: "01" + "00" + "c0880000" + // format, reserved, flags A B I M
				"c6120a00" + "c6120aff" + // source range
				"0016" + // destination port start
				"06", // protocol start
		},
		{
			name: "ipv6",
			ts:   sampleTS6(),
			want: "02" + "00" + "c22e0000" + // format, reserved, flags A B G K M N O
				"fd000010000000000000000000000000" + "fd00001000000000ffffffffffffffff" +
				"00012345" + // flow label start
				"0016" + // destination port start
				"20" + "28" + // traffic class start, end
				"06", // next header start
		},
		{
			name: "ipv4 wildcard",
			ts:   TrafficSelector{Format: TSFormatIPv4},
			want: "0100" + "00000000",
		},
		{
			name: "ipv4 every field",
			ts:   fullTS(TSFormatIPv4),
			want: "0100" + "effc0000" + // A–N except D (the destination is one address)
				"c6120001" + "c612fffe" + "c6130000" +
				"00000100" + "ffffffff" +
				"0400" + "ffff" + "0000" + "03ff" +
				"00" + "fc" + "06" + "11",
		},
		{
			name: "opaque format",
			ts:   TrafficSelector{Format: 7, Opaque: []byte{1, 2, 3}},
			want: "0700" + "010203",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.ts.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			enc := tc.ts.Append(nil)
			if got := hex.EncodeToString(enc); got != tc.want {
				t.Fatalf("encoding:\n got %s\nwant %s", got, tc.want)
			}
			if len(enc) != tc.ts.encodedLen() {
				t.Fatalf("encodedLen %d, encoding has %d bytes", tc.ts.encodedLen(), len(enc))
			}
			got, err := ParseTrafficSelector(enc)
			if err != nil {
				t.Fatalf("ParseTrafficSelector: %v", err)
			}
			if !reflect.DeepEqual(got, tc.ts) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, tc.ts)
			}
		})
	}
}

// TestTrafficSelectorRFCFigures encodes selectors into byte strings
// written down by hand, row by row, from the field diagrams of RFC 6088:
// Figure 1 (§3.1, IPv4 binary traffic selector) and Figure 2 (§3.2, IPv6
// binary traffic selector). The Sub-opt Type and Sub-Opt Len that open both
// figures belong to the Traffic Selector sub-option (RFC 6089 §4.2.1.4);
// Append writes what follows them, from TS Format on. Each row below is one
// 32-bit row of the figure, or the part of it whose flags are set: a field
// whose flag is clear takes no room.
func TestTrafficSelectorRFCFigures(t *testing.T) {
	addr := netip.MustParseAddr
	tests := []struct {
		name string
		ts   TrafficSelector
		rows []string
	}{
		{
			name: "ipv4 every field (RFC 6088 §3.1 Figure 1)",
			ts: TrafficSelector{
				Format:  TSFormatIPv4,
				Src:     NewAddrRange(addr("198.18.0.1"), addr("198.18.0.254")),
				Dst:     NewAddrRange(addr("198.19.0.1"), addr("198.19.0.254")),
				SPI:     NewRange[uint32](0x1000, 0xffff),
				SrcPort: NewRange[uint16](1024, 2047),
				DstPort: NewRange[uint16](80, 443),
				DS:      NewRange[uint8](10<<2, 46<<2), // DSCP AF11 to EF
				Proto:   NewRange[uint8](6, 17),
			},
			rows: []string{
				"01 00",       // TS Format 1 (§3: IPv4 binary traffic selector), Reserved
				"ff fc 00 00", // flags A–N: the 14 high bits; 18 reserved bits
				"c6 12 00 01", // (A) Start Source Address 198.18.0.1
				"c6 12 00 fe", // (B) End Source Address 198.18.0.254
				"c6 13 00 01", // (C) Start Destination Address 198.19.0.1
				"c6 13 00 fe", // (D) End Destination Address 198.19.0.254
				"00 00 10 00", // (E) Start IPsec SPI 0x1000
				"00 00 ff ff", // (F) End IPsec SPI 0xffff
				"04 00 07 ff", // (G) Start Source port 1024, (H) End Source port 2047
				"00 50 01 bb", // (I) Start Destination port 80, (J) End Destination port 443
				"28 b8 06 11", // (K) Start DS, (L) End DS, (M) Start Prot. 6, (N) End Prot. 17
			},
		},
		{
			name: "ipv4 start fields only",
			ts: TrafficSelector{
				Format:  TSFormatIPv4,
				Dst:     NewAddrRange(addr("198.19.0.1"), addr("198.19.0.1")),
				DstPort: NewRange[uint16](53, 53),
				Proto:   NewRange[uint8](17, 17),
			},
			rows: []string{
				"01 00",
				"20 88 00 00", // flags C (bit 2), I (bit 8), M (bit 12)
				"c6 13 00 01", // (C) Start Destination Address
				"00 35",       // (I) Start Destination port 53; (J) absent
				"11",          // (M) Start Prot. 17; (K), (L), (N) absent
			},
		},
		{
			name: "ipv6 every field (RFC 6088 §3.2 Figure 2)",
			ts: TrafficSelector{
				Format:    TSFormatIPv6,
				Src:       NewAddrRange(addr("fd00::1"), addr("fd00::fe")),
				Dst:       NewAddrRange(addr("fd01::1"), addr("fd01::fe")),
				SPI:       NewRange[uint32](0x1000, 0xffff),
				FlowLabel: NewRange[uint32](0x12345, 0xfffff),
				SrcPort:   NewRange[uint16](1024, 2047),
				DstPort:   NewRange[uint16](80, 443),
				DS:        NewRange[uint8](10<<2, 46<<2),
				Proto:     NewRange[uint8](6, 17),
			},
			rows: []string{
				"02 00",       // TS Format 2 (§3: IPv6 binary traffic selector), Reserved
				"ff ff 00 00", // flags A–P: the 16 high bits; 16 reserved bits
				"fd 00 00 00  00 00 00 00  00 00 00 00  00 00 00 01", // (A) Start Source Address fd00::1
				"fd 00 00 00  00 00 00 00  00 00 00 00  00 00 00 fe", // (B) End Source Address fd00::fe
				"fd 01 00 00  00 00 00 00  00 00 00 00  00 00 00 01", // (C) Start Destination Address fd01::1
				"fd 01 00 00  00 00 00 00  00 00 00 00  00 00 00 fe", // (D) End Destination Address fd01::fe
				"00 00 10 00", // (E) Start IPsec SPI
				"00 00 ff ff", // (F) End IPsec SPI
				"00 01 23 45", // (G) Start Flow Label: 8 zero bits, then the label
				"00 0f ff ff", // (H) End Flow Label
				"04 00 07 ff", // (I) Start Source port, (J) End Source port
				"00 50 01 bb", // (K) Start Destination port, (L) End Destination port
				"28 b8 06 11", // (M) Start TC, (N) End TC, (O) Start NH 6, (P) End NH 17
			},
		},
		{
			name: "ipv6 start fields only",
			ts: TrafficSelector{
				Format:    TSFormatIPv6,
				FlowLabel: NewRange[uint32](0x12345, 0x12345),
				Proto:     NewRange[uint8](58, 58),
			},
			rows: []string{
				"02 00",
				"02 02 00 00", // flags G (bit 6), O (bit 14)
				"00 01 23 45", // (G) Start Flow Label; (H) absent
				"3a",          // (O) Start NH 58; (P) absent
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := strings.ReplaceAll(strings.Join(tc.rows, ""), " ", "")
			if err := tc.ts.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			enc := tc.ts.Append(nil)
			if got := hex.EncodeToString(enc); got != want {
				t.Fatalf("encoding:\n got %s\nwant %s", got, want)
			}
			got, err := ParseTrafficSelector(enc)
			if err != nil {
				t.Fatalf("ParseTrafficSelector: %v", err)
			}
			if !reflect.DeepEqual(got, tc.ts) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, tc.ts)
			}
		})
	}
}

func TestParseTrafficSelectorLenient(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want TrafficSelector
	}{
		{
			name: "reserved byte and bits ignored",
			in:   "01ff" + "80000fff" + "c6120001",
			want: TrafficSelector{Format: TSFormatIPv4, Src: NewAddrRange(netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.1"))},
		},
		{
			name: "ipv4 ignores the ipv6 flags o and p",
			in:   "0100" + "00030000",
			want: TrafficSelector{Format: TSFormatIPv4},
		},
		{
			name: "flow label high 8 bits ignored",
			in:   "0200" + "03000000" + "ff000001" + "80000002",
			want: TrafficSelector{Format: TSFormatIPv6, FlowLabel: NewRange[uint32](1, 2)},
		},
		{
			name: "flow label keeps 24 bits",
			in:   "0200" + "03000000" + "00f00001" + "00ffffff",
			want: TrafficSelector{Format: TSFormatIPv6, FlowLabel: NewRange[uint32](0xf00001, 0xffffff)},
		},
		{
			name: "ecn bits of ds ignored in the range check",
			in:   "0100" + "00300000" + "2b" + "28",
			want: TrafficSelector{Format: TSFormatIPv4, DS: NewRange[uint8](0x2b, 0x28)},
		},
		{
			name: "ecn bits of traffic class kept",
			in:   "0200" + "000c0000" + "01" + "bb",
			want: TrafficSelector{Format: TSFormatIPv6, DS: NewRange[uint8](0x01, 0xbb)},
		},
		{
			name: "end equal to start",
			in:   "0100" + "03000000" + "0050" + "0050",
			want: TrafficSelector{Format: TSFormatIPv4, SrcPort: NewRange[uint16](80, 80)},
		},
		{
			name: "empty opaque",
			in:   "0000",
			want: TrafficSelector{Format: 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := hex.DecodeString(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseTrafficSelector(in)
			if err != nil {
				t.Fatalf("ParseTrafficSelector: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if err := got.Validate(); err != nil {
				t.Fatalf("parsed selector does not validate: %v", err)
			}
		})
	}
}

func TestParseTrafficSelectorMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // part of the error text
	}{
		{name: "empty", in: "", want: "want at least 2"},
		{name: "format only", in: "01", want: "want at least 2"},
		{name: "no flags", in: "0100", want: "want at least 6"},
		{name: "short flags", in: "0200000000", want: "want at least 6"},
		{name: "truncated address", in: "0100" + "80000000" + "c61200", want: "truncated in source address"},
		{name: "truncated ipv6 address", in: "0200" + "20000000" + "fd00" + strings.Repeat("00", 13), want: "truncated in destination address"},
		{name: "truncated port", in: "0100" + "02000000" + "00", want: "truncated in source port"},
		{name: "missing protocol", in: "0100" + "00080000", want: "truncated in protocol"},
		{name: "end address without start", in: "0100" + "40000000" + "c6120001", want: "end source address without start"},
		{name: "end port without start", in: "0200" + "00100000" + "0016", want: "end destination port without start"},
		{name: "end spi without start", in: "0100" + "04000000" + "00000001", want: "end spi without start"},
		{name: "end flow label without start", in: "0200" + "01000000" + "00000001", want: "end flow label without start"},
		{name: "address range backwards", in: "0100" + "c0000000" + "c6120002" + "c6120001", want: "ends before it starts"},
		{name: "port range backwards", in: "0100" + "00c00000" + "0050" + "004f", want: "ends before it starts"},
		{name: "protocol range backwards", in: "0100" + "000c0000" + "11" + "06", want: "ends before it starts"},
		{name: "flow label range backwards", in: "0200" + "03000000" + "00000002" + "00000001", want: "ends before it starts"},
		{name: "flow label range backwards in 24 bits", in: "0200" + "03000000" + "00100000" + "ff0fffff", want: "ends before it starts"},
		{name: "ds range backwards", in: "0100" + "00300000" + "2c" + "2b", want: "ends before it starts"},
		{name: "trailing bytes", in: "0100" + "00080000" + "06" + "00", want: "1 bytes after"},
		{name: "opaque too long", in: "0900" + strings.Repeat("00", maxOpaqueSelector+1), want: "traffic selector of"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := hex.DecodeString(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseTrafficSelector(in)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestTrafficSelectorValidate(t *testing.T) {
	a4, b4 := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	a6 := netip.MustParseAddr("fd00::1")
	tests := []struct {
		name string
		ts   TrafficSelector
	}{
		{name: "v6 address in v4", ts: TrafficSelector{Format: TSFormatIPv4, Src: NewAddrRange(a6, a6)}},
		{name: "v4 address in v6", ts: TrafficSelector{Format: TSFormatIPv6, Dst: NewAddrRange(a4, a4)}},
		{name: "v4-mapped in v4", ts: TrafficSelector{Format: TSFormatIPv4, Src: NewAddrRange(netip.AddrFrom16(a4.As16()), netip.AddrFrom16(a4.As16()))}},
		{name: "mixed families", ts: TrafficSelector{Format: TSFormatIPv4, Src: NewAddrRange(a4, a6)}},
		{name: "zone", ts: TrafficSelector{Format: TSFormatIPv6, Src: NewAddrRange(netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("fe80::1%eth0"))}},
		{name: "start without end", ts: TrafficSelector{Format: TSFormatIPv4, Src: AddrRange{Start: a4}}},
		{name: "end without start", ts: TrafficSelector{Format: TSFormatIPv4, Dst: AddrRange{End: a4}}},
		{name: "backwards addresses", ts: TrafficSelector{Format: TSFormatIPv4, Src: NewAddrRange(b4, a4)}},
		{name: "backwards ports", ts: TrafficSelector{Format: TSFormatIPv4, DstPort: NewRange[uint16](2, 1)}},
		{name: "backwards spi", ts: TrafficSelector{Format: TSFormatIPv4, SPI: NewRange[uint32](2, 1)}},
		{name: "backwards ds", ts: TrafficSelector{Format: TSFormatIPv4, DS: NewRange[uint8](8, 4)}},
		{name: "backwards ds ignoring ecn", ts: TrafficSelector{Format: TSFormatIPv4, DS: NewRange[uint8](0x2c, 0x2b)}},
		{name: "ds values without set", ts: TrafficSelector{Format: TSFormatIPv6, DS: Range[uint8]{Start: 3}}},
		{name: "backwards protocol", ts: TrafficSelector{Format: TSFormatIPv6, Proto: NewRange[uint8](2, 1)}},
		{name: "values without set", ts: TrafficSelector{Format: TSFormatIPv4, SrcPort: Range[uint16]{Start: 1, End: 1}}},
		{name: "flow label in v4", ts: TrafficSelector{Format: TSFormatIPv4, FlowLabel: NewRange[uint32](1, 1)}},
		{name: "flow label too big", ts: TrafficSelector{Format: TSFormatIPv6, FlowLabel: NewRange[uint32](1, 0x1000000)}},
		{name: "opaque in v4", ts: TrafficSelector{Format: TSFormatIPv4, Opaque: []byte{}}},
		{name: "fields in opaque", ts: TrafficSelector{Format: 3, Proto: NewRange[uint8](6, 6)}},
		{name: "opaque too long", ts: TrafficSelector{Format: 3, Opaque: make([]byte, maxOpaqueSelector+1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.ts.Validate()
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Validate = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestAddrRangeFromPrefix(t *testing.T) {
	tests := []struct {
		name       string
		prefix     string
		start, end string
	}{
		{name: "v4 /24", prefix: "198.18.10.0/24", start: "198.18.10.0", end: "198.18.10.255"},
		{name: "v4 host bits", prefix: "198.18.10.77/23", start: "198.18.10.0", end: "198.18.11.255"},
		{name: "v4 /32", prefix: "198.18.0.1/32", start: "198.18.0.1", end: "198.18.0.1"},
		{name: "v4 /0", prefix: "0.0.0.0/0", start: "0.0.0.0", end: "255.255.255.255"},
		{name: "v6 /64", prefix: "fd00:10::/64", start: "fd00:10::", end: "fd00:10::ffff:ffff:ffff:ffff"},
		{name: "v6 /13", prefix: "fd00::/13", start: "fd00::", end: "fd07:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{name: "v6 /128", prefix: "fd00::1/128", start: "fd00::1", end: "fd00::1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AddrRangeFromPrefix(netip.MustParsePrefix(tc.prefix))
			want := NewAddrRange(netip.MustParseAddr(tc.start), netip.MustParseAddr(tc.end))
			if got != want {
				t.Fatalf("got %v-%v, want %v-%v", got.Start, got.End, want.Start, want.End)
			}
		})
	}
	if got := AddrRangeFromPrefix(netip.Prefix{}); got != (AddrRange{}) {
		t.Fatalf("invalid prefix gives %+v, want the wildcard", got)
	}
}

// randTS returns a random valid selector.
func randTS(r *rand.Rand) TrafficSelector {
	ts := TrafficSelector{Format: TSFormat(1 + r.IntN(2))}
	if r.IntN(10) == 0 {
		ts.Format = TSFormat(3 + r.IntN(250))
		if n := r.IntN(20); n > 0 {
			ts.Opaque = make([]byte, n)
			for i := range ts.Opaque {
				ts.Opaque[i] = byte(r.Uint32())
			}
		}
		return ts
	}
	addr := func() netip.Addr {
		if ts.Format == TSFormatIPv4 {
			return netip.AddrFrom4([4]byte{198, 18, byte(r.IntN(4)), byte(r.Uint32())})
		}
		var a [16]byte
		a[0], a[1], a[15] = 0xfd, byte(r.IntN(3)), byte(r.Uint32())
		return netip.AddrFrom16(a)
	}
	arange := func() AddrRange {
		if r.IntN(3) == 0 {
			return AddrRange{}
		}
		a, b := addr(), addr()
		if r.IntN(3) == 0 {
			b = a
		}
		if b.Less(a) {
			a, b = b, a
		}
		return NewAddrRange(a, b)
	}
	u32 := func(mask uint32) Range[uint32] {
		if r.IntN(3) == 0 {
			return Range[uint32]{}
		}
		a, b := r.Uint32()&mask, r.Uint32()&mask
		if r.IntN(3) == 0 {
			b = a
		}
		return NewRange(min(a, b), max(a, b))
	}
	n16 := func(x Range[uint32]) Range[uint16] { return narrow16(x) }
	ts.Src, ts.Dst = arange(), arange()
	ts.SPI = u32(^uint32(0))
	ts.SrcPort, ts.DstPort = n16(u32(0xffff)), n16(u32(0xffff))
	ts.DS, ts.Proto = narrow8(u32(0xff)), narrow8(u32(0xff))
	if ts.DS.Set && r.IntN(4) == 0 {
		// Same DSCP, ECN bits in either order (RFC 6088 §3.1).
		ts.DS.End = ts.DS.Start&dsMask | uint8(r.IntN(4))
	}
	if ts.Format == TSFormatIPv6 {
		ts.FlowLabel = u32(flowLabelMask)
	}
	return ts
}

func TestTrafficSelectorRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		ts := randTS(r)
		if err := ts.Validate(); err != nil {
			t.Fatalf("case %d: random selector does not validate: %v\n%+v", i, err, ts)
		}
		enc := ts.Append(nil)
		if len(enc) != ts.encodedLen() {
			t.Fatalf("case %d: encodedLen %d, encoding has %d bytes", i, ts.encodedLen(), len(enc))
		}
		got, err := ParseTrafficSelector(enc)
		if err != nil {
			t.Fatalf("case %d: %v\n%+v", i, err, ts)
		}
		if !reflect.DeepEqual(got, ts) {
			t.Fatalf("case %d: round trip:\n got %+v\nwant %+v", i, got, ts)
		}
	}
}

func TestTSStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{TSFormatIPv4.String(), "ipv4_binary"},
		{TSFormatIPv6.String(), "ipv6_binary"},
		{TSFormat(9).String(), "ts_format(9)"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
