// SPDX-License-Identifier: MIT

package classifier

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers (IANA) the decoder knows.
const (
	protoHopByHop = 0   // IPv6 hop-by-hop options
	protoICMP     = 1   // ICMP for IPv4
	protoTCP      = 6   // TCP
	protoUDP      = 17  // UDP
	protoRouting  = 43  // IPv6 routing header
	protoFragment = 44  // IPv6 fragment header
	protoAH       = 51  // authentication header
	protoICMPv6   = 58  // ICMP for IPv6
	protoDstOpts  = 60  // IPv6 destination options
	protoSCTP     = 132 // SCTP
	protoUDPLite  = 136 // UDP-Lite
)

const (
	ipv4MinLen   = 20
	ipv6HdrLen   = 40
	icmpHdrLen   = 8 // type, code, checksum and 4 bytes of the rest
	maxExtHdrs   = 8 // most IPv6 extension headers Decode walks
	icmpv4Echo   = 8
	icmpv4Reply  = 0
	icmpv6Echo   = 128
	icmpv6Reply  = 129
	portsLen     = 4 // source and destination port, first in TCP/UDP/UDP-Lite/SCTP
	ipv4FragMask = 0x1fff
)

// Parsed is the flow key of one IP packet, filled in place by
// [Parsed.Decode]. Reuse one Parsed per goroutine; it holds no reference to
// the packet.
type Parsed struct {
	// Version is 4 or 6.
	Version uint8
	// Proto is the upper-layer protocol: the IPv4 protocol field, or for
	// IPv6 the next header after the extension headers (for a non-first
	// fragment, the fragment header's next header).
	Proto uint8
	// Src and Dst are the packet's addresses (IPv4 addresses are 4-byte
	// netip.Addr values, not IPv4-mapped IPv6).
	Src, Dst netip.Addr
	// SrcPort and DstPort are the transport ports for TCP, UDP, UDP-Lite
	// and SCTP. For ICMP and ICMPv6 echo requests and replies both hold the
	// echo identifier, so that an echo flow hashes stably. Otherwise, and in
	// non-first fragments, they are 0.
	SrcPort, DstPort uint16
	// DSCP is the Differentiated Services Code Point: the upper six bits of
	// the IPv4 TOS or IPv6 traffic class.
	DSCP uint8
	// FlowLabel is the IPv6 flow label (20 bits); 0 for IPv4.
	FlowLabel uint32
	// Fragment is true for non-first fragments, which carry no transport
	// header. First fragments have Fragment false and their ports set.
	Fragment bool
	// Length is the packet's length according to its IP header (IPv4 total
	// length, or 40 + IPv6 payload length), in bytes; it may be less than
	// the length of the buffer Decode was given.
	Length int
}

// Decode parses the IPv4 or IPv6 packet at the start of b into p and
// reports whether it is well formed. It returns false, leaving p in an
// unspecified state, for anything it cannot trust: a buffer shorter than the
// header, a version other than 4 or 6, an IPv4 header length below 5 words
// or beyond the total length, a total or payload length beyond len(b), an
// IPv6 extension header chain that is truncated or longer than 8 headers, or
// a first fragment or whole packet too short to hold the fields read from
// its upper-layer header (the ports; the 8-byte ICMP header). The caller
// counts such packets as dropped. Decode does not allocate and keeps no
// reference to b.
func (p *Parsed) Decode(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	switch b[0] >> 4 {
	case 4:
		return p.decode4(b)
	case 6:
		return p.decode6(b)
	}
	return false
}

func (p *Parsed) decode4(b []byte) bool {
	if len(b) < ipv4MinLen {
		return false
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < ipv4MinLen || ihl > total || total > len(b) {
		return false
	}
	*p = Parsed{
		Version:  4,
		Proto:    b[9],
		Src:      netip.AddrFrom4([4]byte(b[12:16])),
		Dst:      netip.AddrFrom4([4]byte(b[16:20])),
		DSCP:     b[1] >> 2,
		Fragment: binary.BigEndian.Uint16(b[6:8])&ipv4FragMask != 0,
		Length:   total,
	}
	if p.Fragment {
		return true
	}
	return p.decodeUpper(b[ihl:total], protoICMP, icmpv4Echo, icmpv4Reply)
}

func (p *Parsed) decode6(b []byte) bool {
	if len(b) < ipv6HdrLen {
		return false
	}
	total := ipv6HdrLen + int(binary.BigEndian.Uint16(b[4:6]))
	if total > len(b) {
		return false
	}
	vtf := binary.BigEndian.Uint32(b[0:4])
	*p = Parsed{
		Version:   6,
		Src:       netip.AddrFrom16([16]byte(b[8:24])),
		Dst:       netip.AddrFrom16([16]byte(b[24:40])),
		DSCP:      uint8(vtf>>20) >> 2,
		FlowLabel: vtf & 0xfffff,
		Length:    total,
	}
	nh, off := b[6], ipv6HdrLen
	for range maxExtHdrs + 1 { // the headers, then the upper layer
		var hlen int
		switch nh {
		case protoHopByHop, protoRouting, protoDstOpts:
			if total-off < 2 {
				return false
			}
			hlen = (int(b[off+1]) + 1) * 8
		case protoAH:
			if total-off < 2 {
				return false
			}
			hlen = (int(b[off+1]) + 2) * 4
		case protoFragment:
			hlen = 8
			if total-off < hlen {
				return false
			}
			if binary.BigEndian.Uint16(b[off+2:off+4])>>3 != 0 {
				// A non-first fragment: what follows is the middle of
				// the payload, not a header.
				p.Proto = b[off]
				p.Fragment = true
				return true
			}
		default:
			p.Proto = nh
			return p.decodeUpper(b[off:total], protoICMPv6, icmpv6Echo, icmpv6Reply)
		}
		if total-off < hlen {
			return false
		}
		nh = b[off]
		off += hlen
	}
	return false // more than maxExtHdrs extension headers
}

// decodeUpper reads the ports or the ICMP echo identifier from the
// upper-layer header l4 of protocol p.Proto. icmp is the ICMP protocol
// number of the packet's IP version and echo, reply its echo types.
func (p *Parsed) decodeUpper(l4 []byte, icmp, echo, reply uint8) bool {
	switch p.Proto {
	case protoTCP, protoUDP, protoUDPLite, protoSCTP:
		if len(l4) < portsLen {
			return false
		}
		p.SrcPort = binary.BigEndian.Uint16(l4[0:2])
		p.DstPort = binary.BigEndian.Uint16(l4[2:4])
	case icmp:
		if len(l4) < icmpHdrLen {
			return false
		}
		if t := l4[0]; t == echo || t == reply {
			id := binary.BigEndian.Uint16(l4[4:6])
			p.SrcPort, p.DstPort = id, id
		}
	}
	return true
}
