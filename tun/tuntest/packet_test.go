// SPDX-License-Identifier: MIT

package tuntest

import (
	"bytes"
	"net/netip"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	gcsum "gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// decoded is what the tests read back from a built packet through gVisor's
// header views, an implementation independent of the builders.
type decoded struct {
	src, dst tcpip.Address
	proto    tcpip.TransportProtocolNumber
	ttl      uint8
	l4       []byte
}

func decode(t *testing.T, p []byte) decoded {
	t.Helper()
	switch header.IPVersion(p) {
	case header.IPv4Version:
		h := header.IPv4(p)
		if !h.IsValid(len(p)) {
			t.Fatalf("invalid IPv4 packet %x", p)
		}
		if !h.IsChecksumValid() {
			t.Fatalf("bad IPv4 header checksum %x", p)
		}
		if int(h.TotalLength()) != len(p) {
			t.Fatalf("total length %d, packet %d bytes", h.TotalLength(), len(p))
		}
		if h.Flags()&header.IPv4FlagDontFragment == 0 {
			t.Errorf("DF not set")
		}
		return decoded{h.SourceAddress(), h.DestinationAddress(), h.TransportProtocol(), h.TTL(), h.Payload()}
	case header.IPv6Version:
		h := header.IPv6(p)
		if !h.IsValid(len(p)) {
			t.Fatalf("invalid IPv6 packet %x", p)
		}
		if int(h.PayloadLength())+header.IPv6MinimumSize != len(p) {
			t.Fatalf("payload length %d, packet %d bytes", h.PayloadLength(), len(p))
		}
		return decoded{h.SourceAddress(), h.DestinationAddress(), h.TransportProtocol(), h.HopLimit(), h.Payload()}
	}
	t.Fatalf("not an IP packet: %x", p)
	return decoded{}
}

func tcpipAddr(a netip.Addr) tcpip.Address { return tcpip.AddrFromSlice(a.AsSlice()) }

func TestUDPPacket(t *testing.T) {
	tests := []struct {
		name     string
		src, dst string
		payload  []byte
	}{
		{name: "ipv4", src: "198.18.10.2:5000", dst: "198.18.20.2:53", payload: []byte("query")},
		{name: "ipv4 empty", src: "198.18.10.2:1", dst: "198.18.20.2:2"},
		{name: "ipv4 odd length", src: "198.18.10.2:65535", dst: "198.18.20.2:7", payload: []byte("abc")},
		{name: "ipv4 mapped", src: "[::ffff:198.18.10.2]:9", dst: "[::ffff:198.18.20.2]:9", payload: []byte("x")},
		{name: "ipv6", src: "[fd00:10::2]:5000", dst: "[fd00:20::2]:443", payload: bytes.Repeat([]byte{0xa5}, 1200)},
		{name: "ipv6 empty", src: "[fd00:10::2]:1", dst: "[fd00:20::2]:2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := netip.MustParseAddrPort(tc.src), netip.MustParseAddrPort(tc.dst)
			d := decode(t, UDPPacket(src, dst, tc.payload))
			if d.proto != header.UDPProtocolNumber || d.ttl != 64 {
				t.Fatalf("protocol %d ttl %d", d.proto, d.ttl)
			}
			if d.src != tcpipAddr(src.Addr().Unmap()) || d.dst != tcpipAddr(dst.Addr().Unmap()) {
				t.Fatalf("addresses %s -> %s", d.src, d.dst)
			}
			u := header.UDP(d.l4)
			if u.SourcePort() != src.Port() || u.DestinationPort() != dst.Port() {
				t.Fatalf("ports %d -> %d", u.SourcePort(), u.DestinationPort())
			}
			if int(u.Length()) != len(d.l4) || !bytes.Equal(u.Payload(), tc.payload) {
				t.Fatalf("length %d payload %q", u.Length(), u.Payload())
			}
			if u.Checksum() == 0 || !u.IsChecksumValid(d.src, d.dst, gcsum.Checksum(u.Payload(), 0)) {
				t.Fatalf("bad UDP checksum %#04x", u.Checksum())
			}
		})
	}
}

func TestICMPEcho(t *testing.T) {
	tests := []struct {
		name     string
		src, dst string
		proto    tcpip.TransportProtocolNumber
	}{
		{name: "ipv4", src: "198.18.10.2", dst: "198.18.20.2", proto: header.ICMPv4ProtocolNumber},
		{name: "ipv6", src: "fd00:10::2", dst: "fd00:20::2", proto: header.ICMPv6ProtocolNumber},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := netip.MustParseAddr(tc.src), netip.MustParseAddr(tc.dst)
			d := decode(t, ICMPEcho(src, dst, 0x1234, 7))
			if d.proto != tc.proto {
				t.Fatalf("protocol %d", d.proto)
			}
			if src.Is4() {
				h := header.ICMPv4(d.l4)
				if h.Type() != header.ICMPv4Echo || h.Code() != 0 || h.Ident() != 0x1234 || h.Sequence() != 7 {
					t.Fatalf("echo fields %x", d.l4)
				}
				if gcsum.Checksum(d.l4, 0) != 0xffff {
					t.Fatalf("bad ICMPv4 checksum")
				}
				return
			}
			h := header.ICMPv6(d.l4)
			if h.Type() != header.ICMPv6EchoRequest || h.Code() != 0 || h.Ident() != 0x1234 || h.Sequence() != 7 {
				t.Fatalf("echo fields %x", d.l4)
			}
			want := header.ICMPv6Checksum(header.ICMPv6ChecksumParams{
				Header: h[:header.ICMPv6MinimumSize], Src: d.src, Dst: d.dst,
				PayloadCsum: gcsum.Checksum(h.Payload(), 0), PayloadLen: len(h.Payload()),
			})
			if h.Checksum() != want {
				t.Fatalf("ICMPv6 checksum %#04x, want %#04x", h.Checksum(), want)
			}
		})
	}
}

func TestTCPSyn(t *testing.T) {
	for _, tc := range []struct{ name, src, dst string }{
		{name: "ipv4", src: "198.18.10.2:40000", dst: "198.18.20.2:80"},
		{name: "ipv6", src: "[fd00:10::2]:40000", dst: "[fd00:20::2]:80"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := netip.MustParseAddrPort(tc.src), netip.MustParseAddrPort(tc.dst)
			d := decode(t, TCPSyn(src, dst))
			if d.proto != header.TCPProtocolNumber {
				t.Fatalf("protocol %d", d.proto)
			}
			h := header.TCP(d.l4)
			if h.SourcePort() != src.Port() || h.DestinationPort() != dst.Port() {
				t.Fatalf("ports %d -> %d", h.SourcePort(), h.DestinationPort())
			}
			if h.Flags() != header.TCPFlagSyn || h.DataOffset() != header.TCPMinimumSize || h.WindowSize() != 65535 {
				t.Fatalf("flags %v offset %d window %d", h.Flags(), h.DataOffset(), h.WindowSize())
			}
			if !h.IsChecksumValid(d.src, d.dst, 0, 0) {
				t.Fatalf("bad TCP checksum")
			}
		})
	}
}

func TestBuildersPanicOnMixedFamilies(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	UDPPacket(netip.MustParseAddrPort("198.18.0.1:1"), netip.MustParseAddrPort("[fd00::1]:1"), nil)
}
