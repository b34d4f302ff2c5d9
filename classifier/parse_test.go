// SPDX-License-Identifier: MIT

package classifier

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"monami/paths"
)

// Addresses of the demo topology (docs/internals.md).
var (
	lan4 = netip.MustParseAddr("198.18.10.2")
	srv4 = netip.MustParseAddr("198.18.20.2")
	lan6 = netip.MustParseAddr("fd00:10::2")
	srv6 = netip.MustParseAddr("fd00:20::2")
)

// tcpHdr, udpHdr, sctpHdr, icmp4, icmp6 build upper-layer headers (with
// payload) using gVisor's encoders where it has one.
func tcpHdr(sport, dport uint16, payload int) []byte {
	b := make([]byte, header.TCPMinimumSize+payload)
	header.TCP(b).Encode(&header.TCPFields{SrcPort: sport, DstPort: dport, SeqNum: 1, DataOffset: header.TCPMinimumSize, Flags: header.TCPFlagAck, WindowSize: 65535})
	return b
}

func udpHdr(sport, dport uint16, payload int) []byte {
	b := make([]byte, header.UDPMinimumSize+payload)
	header.UDP(b).Encode(&header.UDPFields{SrcPort: sport, DstPort: dport, Length: uint16(len(b))})
	return b
}

// sctpHdr is an SCTP common header (RFC 9260 §3.1): ports, tag, checksum.
func sctpHdr(sport, dport uint16) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b[0:2], sport)
	binary.BigEndian.PutUint16(b[2:4], dport)
	return b
}

func icmp4(typ header.ICMPv4Type, id uint16) []byte {
	b := make([]byte, header.ICMPv4MinimumSize+16)
	h := header.ICMPv4(b)
	h.SetType(typ)
	h.SetIdent(id)
	h.SetSequence(1)
	return b
}

func icmp6(typ header.ICMPv6Type, id uint16) []byte {
	b := make([]byte, header.ICMPv6MinimumSize+16)
	h := header.ICMPv6(b)
	h.SetType(typ)
	h.SetIdent(id)
	h.SetSequence(1)
	return b
}

// v4 is the description of an IPv4 packet for ip4.
type v4 struct {
	proto    uint8
	src, dst netip.Addr
	tos      uint8
	flags    uint8  // header.IPv4FlagMoreFragments etc.
	fragOff  uint16 // in bytes, a multiple of 8
	options  bool   // add a 4-byte router alert option (IHL 6)
	pad      int    // bytes after the packet, beyond its total length
}

func ip4(f v4, payload []byte) []byte {
	hl := header.IPv4MinimumSize
	var opts header.IPv4OptionsSerializer
	if f.options {
		opts = header.IPv4OptionsSerializer{&header.IPv4SerializableRouterAlertOption{}}
		hl += int(opts.Length())
	}
	b := make([]byte, hl+len(payload)+f.pad)
	header.IPv4(b).Encode(&header.IPv4Fields{
		TOS:            f.tos,
		TotalLength:    uint16(hl + len(payload)),
		ID:             7,
		Flags:          f.flags,
		FragmentOffset: f.fragOff,
		TTL:            64,
		Protocol:       f.proto,
		SrcAddr:        tcpip.AddrFrom4(f.src.As4()),
		DstAddr:        tcpip.AddrFrom4(f.dst.As4()),
		Options:        opts,
	})
	copy(b[hl:], payload)
	return b
}

// v6 is the description of an IPv6 packet for ip6.
type v6 struct {
	next     uint8 // the IPv6 header's next header
	src, dst netip.Addr
	tc       uint8
	flow     uint32
}

func ip6(f v6, payload []byte) []byte {
	b := make([]byte, header.IPv6MinimumSize+len(payload))
	header.IPv6(b).Encode(&header.IPv6Fields{
		TrafficClass:      f.tc,
		FlowLabel:         f.flow,
		PayloadLength:     uint16(len(payload)),
		TransportProtocol: tcpip.TransportProtocolNumber(f.next),
		HopLimit:          64,
		SrcAddr:           tcpip.AddrFrom16(f.src.As16()),
		DstAddr:           tcpip.AddrFrom16(f.dst.As16()),
	})
	copy(b[header.IPv6MinimumSize:], payload)
	return b
}

// ext6 is an IPv6 extension header (hop-by-hop, routing, destination
// options) of 8*(1+units) bytes with next header next, padded with PadN.
func ext6(next uint8, units int) []byte {
	b := make([]byte, 8*(1+units))
	b[0], b[1] = next, uint8(units)
	b[2], b[3] = 1, uint8(len(b)-4) // PadN
	return b
}

// frag6 is an IPv6 fragment header; off is in bytes, a multiple of 8.
func frag6(next uint8, off uint16, more bool) []byte {
	b := make([]byte, 8)
	b[0] = next
	v := off
	if more {
		v |= 1
	}
	binary.BigEndian.PutUint16(b[2:4], v)
	binary.BigEndian.PutUint32(b[4:8], 0xdeadbeef)
	return b
}

// ah6 is an authentication header with a 12-byte ICV (RFC 4302 §2.2).
func ah6(next uint8) []byte {
	b := make([]byte, 24)
	b[0], b[1] = next, uint8(len(b)/4-2)
	return b
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

type decodeTest struct {
	name string
	pkt  []byte
	want Parsed // compared only if ok
	ok   bool
}

func decodeTests() []decodeTest {
	tcp4 := ip4(v4{proto: 6, src: lan4, dst: srv4}, tcpHdr(40000, 443, 100))
	udp6 := ip6(v6{next: 17, src: lan6, dst: srv6}, udpHdr(5353, 53, 30))
	long := func(b []byte, n int) []byte { return append(b, make([]byte, n)...) }
	setLen6 := func(b []byte, n uint16) []byte { binary.BigEndian.PutUint16(b[4:6], n); return b }
	var chain8 []byte // eight destination options headers, then UDP
	for range 8 {
		chain8 = append(chain8, ext6(60, 0)...)
	}
	chain8[len(chain8)-8] = 17
	var chain9 []byte
	for range 9 {
		chain9 = append(chain9, ext6(60, 0)...)
	}
	chain9[len(chain9)-8] = 17

	return []decodeTest{
		// IPv4.
		{
			name: "ipv4 tcp", pkt: tcp4, ok: true,
			want: Parsed{Version: 4, Proto: 6, Src: lan4, Dst: srv4, SrcPort: 40000, DstPort: 443, Length: 140},
		},
		{
			name: "ipv4 udp with dscp ef", pkt: ip4(v4{proto: 17, src: srv4, dst: lan4, tos: 46<<2 | 1}, udpHdr(53, 5353, 10)), ok: true,
			want: Parsed{Version: 4, Proto: 17, Src: srv4, Dst: lan4, SrcPort: 53, DstPort: 5353, DSCP: 46, Length: 38},
		},
		{
			name: "ipv4 icmp echo request", pkt: ip4(v4{proto: 1, src: lan4, dst: srv4}, icmp4(header.ICMPv4Echo, 0x1234)), ok: true,
			want: Parsed{Version: 4, Proto: 1, Src: lan4, Dst: srv4, SrcPort: 0x1234, DstPort: 0x1234, Length: 44},
		},
		{
			name: "ipv4 icmp echo reply", pkt: ip4(v4{proto: 1, src: srv4, dst: lan4}, icmp4(header.ICMPv4EchoReply, 0x1234)), ok: true,
			want: Parsed{Version: 4, Proto: 1, Src: srv4, Dst: lan4, SrcPort: 0x1234, DstPort: 0x1234, Length: 44},
		},
		{
			name: "ipv4 icmp unreachable has no ports", pkt: ip4(v4{proto: 1, src: srv4, dst: lan4}, icmp4(header.ICMPv4DstUnreachable, 0x1234)), ok: true,
			want: Parsed{Version: 4, Proto: 1, Src: srv4, Dst: lan4, Length: 44},
		},
		{
			name: "ipv4 sctp", pkt: ip4(v4{proto: 132, src: lan4, dst: srv4}, sctpHdr(3868, 3868)), ok: true,
			want: Parsed{Version: 4, Proto: 132, Src: lan4, Dst: srv4, SrcPort: 3868, DstPort: 3868, Length: 32},
		},
		{
			name: "ipv4 udp-lite", pkt: ip4(v4{proto: 136, src: lan4, dst: srv4}, udpHdr(1000, 2000, 0)), ok: true,
			want: Parsed{Version: 4, Proto: 136, Src: lan4, Dst: srv4, SrcPort: 1000, DstPort: 2000, Length: 28},
		},
		{
			name: "ipv4 gre has no ports", pkt: ip4(v4{proto: 47, src: lan4, dst: srv4}, make([]byte, 4)), ok: true,
			want: Parsed{Version: 4, Proto: 47, Src: lan4, Dst: srv4, Length: 24},
		},
		{
			name: "ipv4 with options", pkt: ip4(v4{proto: 6, src: lan4, dst: srv4, options: true}, tcpHdr(1, 2, 0)), ok: true,
			want: Parsed{Version: 4, Proto: 6, Src: lan4, Dst: srv4, SrcPort: 1, DstPort: 2, Length: 44},
		},
		{
			name: "ipv4 trailing bytes beyond total length", pkt: ip4(v4{proto: 17, src: lan4, dst: srv4, pad: 30}, udpHdr(1, 2, 0)), ok: true,
			want: Parsed{Version: 4, Proto: 17, Src: lan4, Dst: srv4, SrcPort: 1, DstPort: 2, Length: 28},
		},
		{
			name: "ipv4 first fragment keeps ports", pkt: ip4(v4{proto: 17, src: lan4, dst: srv4, flags: header.IPv4FlagMoreFragments}, udpHdr(4000, 5000, 1000)), ok: true,
			want: Parsed{Version: 4, Proto: 17, Src: lan4, Dst: srv4, SrcPort: 4000, DstPort: 5000, Length: 1028},
		},
		{
			name: "ipv4 non-first fragment", pkt: ip4(v4{proto: 17, src: lan4, dst: srv4, fragOff: 1480}, []byte{0, 1}), ok: true,
			want: Parsed{Version: 4, Proto: 17, Src: lan4, Dst: srv4, Fragment: true, Length: 22},
		},
		{
			name: "ipv4 last fragment", pkt: ip4(v4{proto: 6, src: lan4, dst: srv4, flags: header.IPv4FlagMoreFragments, fragOff: 8}, make([]byte, 8)), ok: true,
			want: Parsed{Version: 4, Proto: 6, Src: lan4, Dst: srv4, Fragment: true, Length: 28},
		},
		{
			name: "ipv4 empty payload", pkt: ip4(v4{proto: 253, src: lan4, dst: srv4}, nil), ok: true,
			want: Parsed{Version: 4, Proto: 253, Src: lan4, Dst: srv4, Length: 20},
		},

		// IPv6.
		{
			name: "ipv6 tcp with dscp and flow label", pkt: ip6(v6{next: 6, src: lan6, dst: srv6, tc: 10<<2 | 2, flow: 0xabcde}, tcpHdr(50000, 22, 0)), ok: true,
			want: Parsed{Version: 6, Proto: 6, Src: lan6, Dst: srv6, SrcPort: 50000, DstPort: 22, DSCP: 10, FlowLabel: 0xabcde, Length: 60},
		},
		{
			name: "ipv6 udp", pkt: udp6, ok: true,
			want: Parsed{Version: 6, Proto: 17, Src: lan6, Dst: srv6, SrcPort: 5353, DstPort: 53, Length: 78},
		},
		{
			name: "ipv6 icmpv6 echo request", pkt: ip6(v6{next: 58, src: lan6, dst: srv6}, icmp6(header.ICMPv6EchoRequest, 0xbeef)), ok: true,
			want: Parsed{Version: 6, Proto: 58, Src: lan6, Dst: srv6, SrcPort: 0xbeef, DstPort: 0xbeef, Length: 64},
		},
		{
			name: "ipv6 icmpv6 echo reply", pkt: ip6(v6{next: 58, src: srv6, dst: lan6}, icmp6(header.ICMPv6EchoReply, 0xbeef)), ok: true,
			want: Parsed{Version: 6, Proto: 58, Src: srv6, Dst: lan6, SrcPort: 0xbeef, DstPort: 0xbeef, Length: 64},
		},
		{
			name: "ipv6 neighbour solicitation has no ports", pkt: ip6(v6{next: 58, src: lan6, dst: srv6}, icmp6(header.ICMPv6NeighborSolicit, 0xbeef)), ok: true,
			want: Parsed{Version: 6, Proto: 58, Src: lan6, Dst: srv6, Length: 64},
		},
		{
			name: "ipv6 icmp type 8 is not an echo in ipv6", pkt: ip6(v6{next: 58, src: lan6, dst: srv6}, icmp6(8, 0xbeef)), ok: true,
			want: Parsed{Version: 6, Proto: 58, Src: lan6, Dst: srv6, Length: 64},
		},
		{
			name: "ipv6 hop-by-hop and first fragment", pkt: ip6(v6{next: 0, src: lan6, dst: srv6}, cat(ext6(44, 0), frag6(17, 0, true), udpHdr(7000, 8000, 1200))), ok: true,
			want: Parsed{Version: 6, Proto: 17, Src: lan6, Dst: srv6, SrcPort: 7000, DstPort: 8000, Length: 40 + 8 + 8 + 1208},
		},
		{
			name: "ipv6 hop-by-hop and non-first fragment", pkt: ip6(v6{next: 0, src: lan6, dst: srv6, flow: 1}, cat(ext6(44, 1), frag6(17, 1232, false), make([]byte, 100))), ok: true,
			want: Parsed{Version: 6, Proto: 17, Src: lan6, Dst: srv6, FlowLabel: 1, Fragment: true, Length: 40 + 16 + 8 + 100},
		},
		{
			name: "ipv6 destination options, routing, ah, tcp", pkt: ip6(v6{next: 60, src: lan6, dst: srv6}, cat(ext6(43, 2), ext6(51, 0), ah6(6), tcpHdr(9, 10, 0))), ok: true,
			want: Parsed{Version: 6, Proto: 6, Src: lan6, Dst: srv6, SrcPort: 9, DstPort: 10, Length: 40 + 24 + 8 + 24 + 20},
		},
		{
			name: "ipv6 eight extension headers", pkt: ip6(v6{next: 60, src: lan6, dst: srv6}, cat(chain8, udpHdr(1, 2, 0))), ok: true,
			want: Parsed{Version: 6, Proto: 17, Src: lan6, Dst: srv6, SrcPort: 1, DstPort: 2, Length: 40 + 64 + 8},
		},
		{
			name: "ipv6 no next header", pkt: ip6(v6{next: 59, src: lan6, dst: srv6}, nil), ok: true,
			want: Parsed{Version: 6, Proto: 59, Src: lan6, Dst: srv6, Length: 40},
		},
		{
			name: "ipv6 esp has no ports", pkt: ip6(v6{next: 50, src: lan6, dst: srv6}, make([]byte, 24)), ok: true,
			want: Parsed{Version: 6, Proto: 50, Src: lan6, Dst: srv6, Length: 64},
		},
		{
			name: "ipv6 trailing bytes beyond payload length", pkt: long(ip6(v6{next: 17, src: lan6, dst: srv6}, udpHdr(1, 2, 0)), 9), ok: true,
			want: Parsed{Version: 6, Proto: 17, Src: lan6, Dst: srv6, SrcPort: 1, DstPort: 2, Length: 48},
		},

		// Malformed.
		{name: "empty", pkt: nil},
		{name: "one byte", pkt: []byte{0x45}},
		{name: "version 0", pkt: append([]byte{0x05}, tcp4[1:]...)},
		{name: "version 5", pkt: append([]byte{0x55}, tcp4[1:]...)},
		{name: "ipv4 header truncated", pkt: tcp4[:19]},
		{name: "ipv4 ihl 4", pkt: append([]byte{0x44}, tcp4[1:]...)},
		{name: "ipv4 ihl beyond total length", pkt: func() []byte { b := bytes.Clone(tcp4); b[0], b[2], b[3] = 0x4f, 0, 40; return b }()},
		{name: "ipv4 total length beyond buffer", pkt: tcp4[:len(tcp4)-1]},
		{name: "ipv4 total length below header", pkt: func() []byte { b := bytes.Clone(tcp4); b[2], b[3] = 0, 19; return b }()},
		{name: "ipv4 tcp without ports", pkt: ip4(v4{proto: 6, src: lan4, dst: srv4}, []byte{1, 2, 3})},
		{name: "ipv4 icmp shorter than its header", pkt: ip4(v4{proto: 1, src: lan4, dst: srv4}, icmp4(header.ICMPv4Echo, 1)[:7])},
		{name: "ipv4 first fragment without ports", pkt: ip4(v4{proto: 17, src: lan4, dst: srv4, flags: header.IPv4FlagMoreFragments}, []byte{1})},
		{name: "ipv6 header truncated", pkt: udp6[:39]},
		{name: "ipv6 payload length beyond buffer", pkt: udp6[:len(udp6)-1]},
		{name: "ipv6 udp without ports", pkt: setLen6(bytes.Clone(udp6), 3)},
		{name: "ipv6 hop-by-hop truncated", pkt: ip6(v6{next: 0, src: lan6, dst: srv6}, ext6(17, 1)[:8])},
		{name: "ipv6 extension header length byte missing", pkt: ip6(v6{next: 60, src: lan6, dst: srv6}, []byte{17})},
		{name: "ipv6 fragment header truncated", pkt: ip6(v6{next: 44, src: lan6, dst: srv6}, frag6(17, 8, false)[:7])},
		{name: "ipv6 ah truncated", pkt: ip6(v6{next: 51, src: lan6, dst: srv6}, ah6(6)[:20])},
		{name: "ipv6 nine extension headers", pkt: ip6(v6{next: 60, src: lan6, dst: srv6}, cat(chain9, udpHdr(1, 2, 0)))},
		{name: "ipv6 icmpv6 echo truncated", pkt: ip6(v6{next: 58, src: lan6, dst: srv6}, icmp6(header.ICMPv6EchoRequest, 1)[:5])},
		{name: "ipv4 version in an ipv6-sized packet", pkt: append([]byte{0x40}, udp6[1:]...)},
	}
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeTests() {
		t.Run(tc.name, func(t *testing.T) {
			var p Parsed
			if got := p.Decode(tc.pkt); got != tc.ok {
				t.Fatalf("Decode = %v, want %v (packet % x)", got, tc.ok, tc.pkt)
			}
			if tc.ok && p != tc.want {
				t.Errorf("Decode:\n got %+v\nwant %+v", p, tc.want)
			}
		})
	}
}

// TestDecodeOverwrites: a Parsed is reused across packets, so Decode must
// not leave fields of the previous packet behind.
func TestDecodeOverwrites(t *testing.T) {
	var p Parsed
	frag := ip6(v6{next: 0, src: lan6, dst: srv6, tc: 0xff, flow: 0xfffff}, cat(ext6(44, 0), frag6(17, 8, false), make([]byte, 8)))
	for _, tc := range decodeTests() {
		if !tc.ok {
			continue
		}
		if !p.Decode(frag) {
			t.Fatal("fragment did not decode")
		}
		p.SrcPort, p.DstPort = 0xffff, 0xffff
		if !p.Decode(tc.pkt) || p != tc.want {
			t.Errorf("%s after another packet: got %+v, want %+v", tc.name, p, tc.want)
		}
	}
}

// isExt reports whether an IPv6 next header is an extension header Decode
// walks.
func isExt(nh uint8) bool {
	switch nh {
	case protoHopByHop, protoRouting, protoFragment, protoDstOpts, protoAH:
		return true
	}
	return false
}

// upperLen is how many bytes of the upper-layer header of protocol proto
// Decode reads (icmp is the version's ICMP protocol number).
func upperLen(proto, icmp uint8) int {
	switch proto {
	case protoTCP, protoUDP, protoUDPLite, protoSCTP:
		return portsLen
	case icmp:
		return icmpHdrLen
	}
	return 0
}

// FuzzDecode checks Decode differentially against gVisor's header.IPv4 and
// header.IPv6 views: whatever Decode accepts, gVisor finds valid and reads
// the same version, addresses, protocol, DSCP, flow label, fragment offset
// and length; and whatever gVisor finds valid, Decode accepts unless the
// upper-layer header it reads is truncated or hidden behind extension
// headers.
func FuzzDecode(f *testing.F) {
	for _, tc := range decodeTests() {
		f.Add(tc.pkt)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Parsed
		ok := p.Decode(b)
		if ok {
			// The hashes must not panic, and must be symmetric.
			r := p
			r.Src, r.Dst, r.SrcPort, r.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
			if p.SymmetricHash() != r.SymmetricHash() {
				t.Fatalf("SymmetricHash differs for the reply of %+v", p)
			}
			_ = p.Hash()
		}
		switch header.IPVersion(b) {
		case header.IPv4Version:
			h := header.IPv4(b)
			valid := h.IsValid(len(b))
			if !valid {
				if ok {
					t.Fatalf("Decode accepted what gVisor rejects: % x", b)
				}
				return
			}
			frag := h.FragmentOffset() != 0
			if !ok {
				if frag || len(h.Payload()) >= upperLen(h.Protocol(), protoICMP) {
					t.Fatalf("Decode rejected a valid IPv4 packet % x", b)
				}
				return
			}
			tos, _ := h.TOS()
			want := Parsed{
				Version:  4,
				Proto:    h.Protocol(),
				Src:      netip.AddrFrom4(h.SourceAddress().As4()),
				Dst:      netip.AddrFrom4(h.DestinationAddress().As4()),
				SrcPort:  p.SrcPort,
				DstPort:  p.DstPort,
				DSCP:     tos >> 2,
				Fragment: frag,
				Length:   int(h.TotalLength()),
			}
			if p != want {
				t.Fatalf("Decode = %+v, gVisor says %+v", p, want)
			}
			if frag && (p.SrcPort != 0 || p.DstPort != 0) {
				t.Fatalf("ports in a non-first fragment: %+v", p)
			}
		case header.IPv6Version:
			h := header.IPv6(b)
			valid := h.IsValid(len(b))
			if !valid {
				if ok {
					t.Fatalf("Decode accepted what gVisor rejects: % x", b)
				}
				return
			}
			nh := h.NextHeader()
			if !ok {
				if !isExt(nh) && int(h.PayloadLength()) >= upperLen(nh, protoICMPv6) {
					t.Fatalf("Decode rejected a valid IPv6 packet % x", b)
				}
				return
			}
			tc, flow := h.TOS()
			want := Parsed{
				Version:   6,
				Proto:     p.Proto,
				Src:       netip.AddrFrom16(h.SourceAddress().As16()),
				Dst:       netip.AddrFrom16(h.DestinationAddress().As16()),
				SrcPort:   p.SrcPort,
				DstPort:   p.DstPort,
				DSCP:      tc >> 2,
				FlowLabel: flow,
				Fragment:  p.Fragment,
				Length:    header.IPv6MinimumSize + int(h.PayloadLength()),
			}
			if !isExt(nh) {
				want.Proto = nh
				want.Fragment = false
			}
			if p != want {
				t.Fatalf("Decode = %+v, gVisor says %+v", p, want)
			}
		default:
			if ok {
				t.Fatalf("Decode accepted version %d", header.IPVersion(b))
			}
		}
	})
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	tests := decodeTests()
	var p Parsed
	for _, tc := range tests {
		if n := testing.AllocsPerRun(100, func() { p.Decode(tc.pkt) }); n != 0 {
			t.Errorf("Decode(%s) allocates %v times", tc.name, n)
		}
	}
	p.Decode(tests[0].pkt)
	var sink uint64
	if n := testing.AllocsPerRun(1000, func() { sink += p.Hash() + p.SymmetricHash() }); n != 0 {
		t.Errorf("Hash allocates %v times", n)
	}
	bids := []paths.BID{1, 2, 3}
	var bid paths.BID
	if n := testing.AllocsPerRun(1000, func() { bid += Pick(sink, bids) }); n != 0 {
		t.Errorf("Pick allocates %v times", n)
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name string
		pkt  []byte
	}{
		{name: "ipv4-tcp", pkt: ip4(v4{proto: 6, src: lan4, dst: srv4}, tcpHdr(40000, 443, 1360))},
		{name: "ipv6-udp", pkt: ip6(v6{next: 17, src: lan6, dst: srv6, flow: 5}, udpHdr(40000, 443, 1352))},
		{name: "ipv6-hbh-frag-udp", pkt: ip6(v6{next: 0, src: lan6, dst: srv6}, cat(ext6(44, 0), frag6(17, 0, true), udpHdr(1, 2, 1200)))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var p Parsed
			b.ReportAllocs()
			for b.Loop() {
				if !p.Decode(bc.pkt) {
					b.Fatal("Decode failed")
				}
			}
		})
	}
}
