// SPDX-License-Identifier: MIT

package tuntest

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers used by the builders.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// UDPPacket returns an IPv4 or IPv6 packet (by the family of src and dst)
// carrying one UDP datagram from src to dst with payload, with valid IP and
// UDP checksums, TTL/hop limit 64 and, for IPv4, DF set. It panics if src
// and dst are of different families (a bug in the calling test).
func UDPPacket(src, dst netip.AddrPort, payload []byte) []byte {
	l4 := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(l4[0:], src.Port())
	binary.BigEndian.PutUint16(l4[2:], dst.Port())
	binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
	copy(l4[8:], payload)
	s, d := family(src.Addr(), dst.Addr())
	sum := ^inetChecksum(l4, pseudoHeader(s, d, protoUDP, len(l4)))
	if sum == 0 {
		sum = 0xffff // RFC 768: zero means "no checksum"
	}
	binary.BigEndian.PutUint16(l4[6:], sum)
	return ipPacket(s, d, protoUDP, l4)
}

// ICMPEcho returns an ICMPv4 (for IPv4 addresses) or ICMPv6 echo request
// from src to dst with the given identifier and sequence number and an
// 8-byte payload, with valid checksums. It panics if src and dst are of
// different families.
func ICMPEcho(src, dst netip.Addr, id, seq uint16) []byte {
	s, d := family(src, dst)
	l4 := make([]byte, 16)
	binary.BigEndian.PutUint16(l4[4:], id)
	binary.BigEndian.PutUint16(l4[6:], seq)
	copy(l4[8:], "monami!!")
	if s.Is4() {
		l4[0] = 8 // echo request
		binary.BigEndian.PutUint16(l4[2:], ^inetChecksum(l4, 0))
		return ipPacket(s, d, protoICMP, l4)
	}
	l4[0] = 128 // ICMPv6 echo request
	binary.BigEndian.PutUint16(l4[2:], ^inetChecksum(l4, pseudoHeader(s, d, protoICMPv6, len(l4))))
	return ipPacket(s, d, protoICMPv6, l4)
}

// TCPSyn returns an IPv4 or IPv6 packet carrying a TCP SYN from src to dst
// (sequence number 1, window 65535, no options) with valid checksums. It
// panics if src and dst are of different families.
func TCPSyn(src, dst netip.AddrPort) []byte {
	s, d := family(src.Addr(), dst.Addr())
	l4 := make([]byte, 20)
	binary.BigEndian.PutUint16(l4[0:], src.Port())
	binary.BigEndian.PutUint16(l4[2:], dst.Port())
	binary.BigEndian.PutUint32(l4[4:], 1)      // sequence number
	l4[12] = 5 << 4                            // data offset: 5 words
	l4[13] = 0x02                              // SYN
	binary.BigEndian.PutUint16(l4[14:], 65535) // window
	binary.BigEndian.PutUint16(l4[16:], ^inetChecksum(l4, pseudoHeader(s, d, protoTCP, len(l4))))
	return ipPacket(s, d, protoTCP, l4)
}

// family unmaps src and dst and panics unless both are IPv4 or both IPv6.
func family(src, dst netip.Addr) (netip.Addr, netip.Addr) {
	src, dst = src.Unmap(), dst.Unmap()
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		panic("tuntest: source " + src.String() + " and destination " + dst.String() + " are not of one address family")
	}
	return src, dst
}

// ipPacket prepends an IPv4 or IPv6 header to the transport segment l4.
func ipPacket(src, dst netip.Addr, proto byte, l4 []byte) []byte {
	if src.Is4() {
		p := make([]byte, 20+len(l4))
		p[0] = 0x45
		binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
		p[6] = 0x40 // DF
		p[8] = 64
		p[9] = proto
		s, d := src.As4(), dst.As4()
		copy(p[12:], s[:])
		copy(p[16:], d[:])
		binary.BigEndian.PutUint16(p[10:], ^inetChecksum(p[:20], 0))
		copy(p[20:], l4)
		return p
	}
	p := make([]byte, 40+len(l4))
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:], uint16(len(l4)))
	p[6] = proto
	p[7] = 64
	s, d := src.As16(), dst.As16()
	copy(p[8:], s[:])
	copy(p[24:], d[:])
	copy(p[40:], l4)
	return p
}

// pseudoHeader returns the folded sum of the IPv4 or IPv6 pseudo-header.
func pseudoHeader(src, dst netip.Addr, proto byte, length int) uint16 {
	var b []byte
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		b = append(append(b, s[:]...), d[:]...)
		b = append(b, 0, proto, byte(length>>8), byte(length))
	} else {
		s, d := src.As16(), dst.As16()
		b = append(append(b, s[:]...), d[:]...)
		b = binary.BigEndian.AppendUint32(b, uint32(length))
		b = append(b, 0, 0, 0, proto)
	}
	return inetChecksum(b, 0)
}

// inetChecksum returns the folded one's-complement sum of b (RFC 1071) added to
// initial; callers store its complement.
func inetChecksum(b []byte, initial uint16) uint16 {
	sum := uint32(initial)
	for ; len(b) >= 2; b = b[2:] {
		sum += uint32(b[0])<<8 | uint32(b[1])
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}
