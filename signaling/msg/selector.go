// SPDX-License-Identifier: MIT

package msg

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
)

// TSFormat is the format of a traffic selector, the first byte of the
// Traffic Selector sub-option's data (RFC 6089 §4.2.1.4, IANA "Traffic
// Selector Format" registry). Format 0 is reserved (RFC 6089 §4.2.1.4).
type TSFormat uint8

const (
	// TSFormatIPv4 is the IPv4 binary traffic selector (RFC 6088 §3, §3.1,
	// §5).
	TSFormatIPv4 TSFormat = 1
	// TSFormatIPv6 is the IPv6 binary traffic selector (RFC 6088 §3, §3.2,
	// §5).
	TSFormatIPv6 TSFormat = 2
)

// String returns the format's name.
func (f TSFormat) String() string {
	switch f {
	case TSFormatIPv4:
		return "ipv4_binary"
	case TSFormatIPv6:
		return "ipv6_binary"
	}
	return "ts_format(" + strconv.Itoa(int(f)) + ")"
}

// Flag bits of the 32-bit word that starts an RFC 6088 binary traffic
// selector (Figures 1 and 2: 14 flags A–N and 18 reserved bits for IPv4, 16
// flags A–P and 16 reserved bits for IPv6), A in the most significant bit.
// Each flag says that its field is present; absent fields take no room, and
// the present ones follow in flag order. The two formats share A–F and
// differ from G on. Bits past the last flag are reserved: zero when sent,
// ignored when received.
const (
	tsA uint32 = 1 << (31 - iota) // start source address
	tsB                           // end source address
	tsC                           // start destination address
	tsD                           // end destination address
	tsE                           // start IPsec SPI
	tsF                           // end IPsec SPI
	tsG                           // v4: start source port; v6: start flow label
	tsH                           // v4: end source port; v6: end flow label
	tsI                           // v4: start destination port; v6: start source port
	tsJ                           // v4: end destination port; v6: end source port
	tsK                           // v4: start DS; v6: start destination port
	tsL                           // v4: end DS; v6: end destination port
	tsM                           // v4: start protocol; v6: start traffic class
	tsN                           // v4: end protocol; v6: end traffic class
	tsO                           // v6: start next header
	tsP                           // v6: end next header
)

const (
	tsHeaderLen = 2 // TS format, reserved
	tsFlagsLen  = 4 // flags word
	// flowLabelMask keeps the 24 bits of a flow label field: RFC 6088
	// §3.2 calls the label 24 bits long, has the sender prefix it with 8
	// zero bits, and the receiver ignore those 8 bits.
	flowLabelMask = uint32(0xffffff)
	// dsMask keeps the DS field of a DS or traffic class octet: RFC 6088
	// §3.1 and §3.2 have the 2 low (ECN) bits ignored in any comparison.
	dsMask = 0xfc
)

// Range is an inclusive range Start–End of a numeric selector field. The
// zero Range (Set false) is a wildcard: the field is absent from the
// selector. A Range with Set must have Start <= End; Start == End is a
// single value and is sent as the start field alone.
type Range[T uint8 | uint16 | uint32] struct {
	Set        bool
	Start, End T
}

// NewRange returns the range start–end.
func NewRange[T uint8 | uint16 | uint32](start, end T) Range[T] {
	return Range[T]{Set: true, Start: start, End: end}
}

func (r Range[T]) valid() bool {
	if !r.Set {
		return r.Start == 0 && r.End == 0
	}
	return r.Start <= r.End
}

// AddrRange is an inclusive range Start–End of addresses. The zero
// AddrRange (Start invalid) is a wildcard. If Start is valid, End must be
// valid, of the same family and not below Start; Start == End is a single
// address and is sent as the start field alone.
type AddrRange struct {
	Start, End netip.Addr
}

// NewAddrRange returns the range start–end.
func NewAddrRange(start, end netip.Addr) AddrRange { return AddrRange{Start: start, End: end} }

// AddrRangeFromPrefix returns the range of the addresses in p: its masked
// address to its last address. The zero Prefix gives the wildcard.
func AddrRangeFromPrefix(p netip.Prefix) AddrRange {
	if !p.IsValid() {
		return AddrRange{}
	}
	first := p.Masked().Addr()
	if first.Is4() {
		a := first.As4()
		setHostBits(a[:], p.Bits())
		return AddrRange{Start: first, End: netip.AddrFrom4(a)}
	}
	a := first.As16()
	setHostBits(a[:], p.Bits())
	return AddrRange{Start: first, End: netip.AddrFrom16(a)}
}

// setHostBits sets the bits of a after the first bits.
func setHostBits(a []byte, bits int) {
	for i := range a {
		switch {
		case bits >= 8*(i+1):
		case bits <= 8*i:
			a[i] = 0xff
		default:
			a[i] |= 0xff >> (bits - 8*i)
		}
	}
}

// TrafficSelector is an RFC 6088 binary traffic selector: the description
// of a flow by ranges of header fields, each optional. A packet matches if
// every present field matches (matching lives in the classifier, not here).
// Format decides the address family and which fields exist: FlowLabel
// exists only in TSFormatIPv6.
//
// On the wire (the data of a Traffic Selector sub-option, RFC 6089
// §4.2.1.4 Figure 5) a selector is
//
//	TS format (u8) ‖ reserved (u8) ‖ flags (u32) ‖ present fields
//
// IPv4 (format 1, RFC 6088 §3.1 Figure 1), flags A–N in wire order: source
// address start, end (4 bytes each), destination address start, end (4
// each), IPsec SPI start, end (4 each), source port start, end (2 each),
// destination port start, end (2 each), DS start, end (1 each), protocol
// start, end (1 each).
//
// IPv6 (format 2, RFC 6088 §3.2 Figure 2), flags A–P: source address
// start, end (16 each), destination address start, end (16 each), IPsec SPI
// start, end (4 each), flow label start, end (4 each: 8 zero bits, then the
// label in 24 bits), source port start, end (2 each), destination port
// start, end (2 each), traffic class start, end (1 each), next header
// start, end (1 each).
//
// Only the fields whose flag is set are sent, with no gap for absent ones.
// RFC 6088 gives the selector alignment requirements (4n or 8n for the
// wider fields); like the rest of monami's option area, this encoding adds
// no padding for them.
//
// An end field without its start field, a range whose end is below its
// start, and trailing bytes are malformed. The reserved byte and reserved
// flag bits are ignored, and so are the high 8 bits of a flow label field
// (the parser clears them; they are sent as zero). The 2 low (ECN) bits of
// a DS or traffic class field are kept as sent, but ignored when checking
// that the range does not end before it starts.
//
// The layout was checked against the text of RFC 6088 §3.1 and §3.2 and
// RFC 6089 §4.2.1.4, and is pinned by byte strings derived by hand from
// the RFCs' figures (TestTrafficSelectorRFCFigures); interoperability with
// another implementation has not been tested.
//
// A selector of any other format is not parsed: its bytes after the
// reserved byte are kept in Opaque and written back unchanged, so that a
// home agent can answer FlowStatusSelectorFormatUnsupport for that one flow
// instead of rejecting the whole binding update.
type TrafficSelector struct {
	Format TSFormat
	Src    AddrRange
	Dst    AddrRange
	// SPI is a range of IPsec security parameter indexes (RFC 4303).
	SPI     Range[uint32]
	SrcPort Range[uint16]
	DstPort Range[uint16]
	// DS is the IPv4 DS octet (RFC 2474) or the IPv6 traffic class octet,
	// as carried in the packet header. Only the DSCP in its six high bits
	// selects: the two low (ECN) bits are ignored in any comparison (RFC
	// 6088 §3.1, §3.2), also in Start <= End, so a range such as
	// 0x2b–0x28 (DSCP 10 alone) is valid. They are carried unchanged.
	DS Range[uint8]
	// Proto is the IPv4 protocol or the IPv6 next header.
	Proto Range[uint8]
	// FlowLabel is the IPv6 flow label; TSFormatIPv6 only. A packet's
	// label has 20 bits (RFC 6437); the selector field has room for 24
	// (RFC 6088 §3.2), so values up to 0xffffff are valid and those above
	// 0xfffff match no packet.
	FlowLabel Range[uint32]
	// Opaque holds the selector of an unsupported Format; it must be nil
	// for TSFormatIPv4 and TSFormatIPv6.
	Opaque []byte
}

// Supported reports whether the selector's format is one this package
// parses (TSFormatIPv4 or TSFormatIPv6).
func (ts *TrafficSelector) Supported() bool {
	return ts.Format == TSFormatIPv4 || ts.Format == TSFormatIPv6
}

// Validate reports whether ts can be encoded and parsed back to the same
// value. Append assumes a valid ts.
func (ts *TrafficSelector) Validate() error {
	if !ts.Supported() {
		if ts.hasFields() {
			return fmt.Errorf("%w: traffic selector of %s has fields", ErrMalformed, ts.Format)
		}
		if len(ts.Opaque) > maxOpaqueSelector {
			return fmt.Errorf("%w: opaque traffic selector of %d bytes", ErrMalformed, len(ts.Opaque))
		}
		return nil
	}
	if ts.Opaque != nil {
		return fmt.Errorf("%w: %s traffic selector has opaque bytes", ErrMalformed, ts.Format)
	}
	v6 := ts.Format == TSFormatIPv6
	for _, f := range []struct {
		name string
		r    AddrRange
	}{{"source address", ts.Src}, {"destination address", ts.Dst}} {
		if err := f.r.validate(v6); err != nil {
			return fmt.Errorf("%w: %s traffic selector %s %w", ErrMalformed, ts.Format, f.name, err)
		}
	}
	switch {
	case !ts.SPI.valid():
		return fmt.Errorf("%w: traffic selector spi range %d-%d", ErrMalformed, ts.SPI.Start, ts.SPI.End)
	case !ts.SrcPort.valid():
		return fmt.Errorf("%w: traffic selector source port range %d-%d", ErrMalformed, ts.SrcPort.Start, ts.SrcPort.End)
	case !ts.DstPort.valid():
		return fmt.Errorf("%w: traffic selector destination port range %d-%d", ErrMalformed, ts.DstPort.Start, ts.DstPort.End)
	case !ts.DS.Set && ts.DS != (Range[uint8]{}), ts.DS.Start&dsMask > ts.DS.End&dsMask:
		return fmt.Errorf("%w: traffic selector ds range %#x-%#x", ErrMalformed, ts.DS.Start, ts.DS.End)
	case !ts.Proto.valid():
		return fmt.Errorf("%w: traffic selector protocol range %d-%d", ErrMalformed, ts.Proto.Start, ts.Proto.End)
	case !ts.FlowLabel.valid() || ts.FlowLabel.End > flowLabelMask:
		return fmt.Errorf("%w: traffic selector flow label range %d-%d", ErrMalformed, ts.FlowLabel.Start, ts.FlowLabel.End)
	case !v6 && ts.FlowLabel.Set:
		return fmt.Errorf("%w: ipv4 traffic selector with a flow label", ErrMalformed)
	}
	return nil
}

// hasFields reports whether any field other than Format and Opaque is set.
func (ts *TrafficSelector) hasFields() bool {
	return ts.Src != (AddrRange{}) || ts.Dst != (AddrRange{}) || ts.SPI != (Range[uint32]{}) ||
		ts.SrcPort != (Range[uint16]{}) || ts.DstPort != (Range[uint16]{}) || ts.DS != (Range[uint8]{}) ||
		ts.Proto != (Range[uint8]{}) || ts.FlowLabel != (Range[uint32]{})
}

// maxOpaqueSelector is the most opaque bytes that fit in a Traffic Selector
// sub-option inside a Flow Identification option.
const maxOpaqueSelector = 255 - flowIDFixedLen - 2 - tsHeaderLen

func (r AddrRange) validate(v6 bool) error {
	if !r.Start.IsValid() {
		if r.End.IsValid() {
			return fmt.Errorf("has an end (%s) but no start", r.End)
		}
		return nil
	}
	if !r.End.IsValid() {
		return fmt.Errorf("has a start (%s) but no end", r.Start)
	}
	for _, a := range []netip.Addr{r.Start, r.End} {
		if a.Is4() == v6 {
			return fmt.Errorf("%s of the wrong family", a)
		}
		if a.Zone() != "" {
			return fmt.Errorf("%s has a zone", a)
		}
	}
	if r.End.Less(r.Start) {
		return fmt.Errorf("range %s-%s ends before it starts", r.Start, r.End)
	}
	return nil
}

// flagsAndLen returns the flags word and the encoded length (header
// included) of a valid, supported ts.
func (ts *TrafficSelector) flagsAndLen() (uint32, int) {
	alen, g, h, i, j, k, l, m, n := 4, tsG, tsH, tsI, tsJ, tsK, tsL, tsM, tsN
	if ts.Format == TSFormatIPv6 {
		alen, g, h, i, j, k, l, m, n = 16, tsI, tsJ, tsK, tsL, tsM, tsN, tsO, tsP
	}
	var flags uint32
	size := tsHeaderLen + tsFlagsLen
	addr := func(r AddrRange, start, end uint32) {
		if r.Start.IsValid() {
			flags |= start
			size += alen
			if r.End != r.Start {
				flags |= end
				size += alen
			}
		}
	}
	num := func(set, single bool, start, end uint32, w int) {
		if set {
			flags |= start
			size += w
			if !single {
				flags |= end
				size += w
			}
		}
	}
	addr(ts.Src, tsA, tsB)
	addr(ts.Dst, tsC, tsD)
	num(ts.SPI.Set, ts.SPI.Start == ts.SPI.End, tsE, tsF, 4)
	if ts.Format == TSFormatIPv6 {
		num(ts.FlowLabel.Set, ts.FlowLabel.Start == ts.FlowLabel.End, tsG, tsH, 4)
	}
	num(ts.SrcPort.Set, ts.SrcPort.Start == ts.SrcPort.End, g, h, 2)
	num(ts.DstPort.Set, ts.DstPort.Start == ts.DstPort.End, i, j, 2)
	num(ts.DS.Set, ts.DS.Start == ts.DS.End, k, l, 1)
	num(ts.Proto.Set, ts.Proto.Start == ts.Proto.End, m, n, 1)
	return flags, size
}

// encodedLen returns the length of ts.Append's output.
func (ts *TrafficSelector) encodedLen() int {
	if !ts.Supported() {
		return tsHeaderLen + len(ts.Opaque)
	}
	_, n := ts.flagsAndLen()
	return n
}

// Append appends the encoded selector (format, reserved byte, flags word and
// present fields) to b: the data of a Traffic Selector sub-option.
func (ts *TrafficSelector) Append(b []byte) []byte {
	b = append(b, byte(ts.Format), 0)
	if !ts.Supported() {
		return append(b, ts.Opaque...)
	}
	flags, _ := ts.flagsAndLen()
	b = binary.BigEndian.AppendUint32(b, flags)
	b = appendAddrField(b, flags, tsA, ts.Src.Start)
	b = appendAddrField(b, flags, tsB, ts.Src.End)
	b = appendAddrField(b, flags, tsC, ts.Dst.Start)
	b = appendAddrField(b, flags, tsD, ts.Dst.End)
	if flags&tsE != 0 {
		b = binary.BigEndian.AppendUint32(b, ts.SPI.Start)
	}
	if flags&tsF != 0 {
		b = binary.BigEndian.AppendUint32(b, ts.SPI.End)
	}
	g, h, i, j, k, l, m, n := tsG, tsH, tsI, tsJ, tsK, tsL, tsM, tsN
	if ts.Format == TSFormatIPv6 {
		if flags&tsG != 0 {
			b = binary.BigEndian.AppendUint32(b, ts.FlowLabel.Start)
		}
		if flags&tsH != 0 {
			b = binary.BigEndian.AppendUint32(b, ts.FlowLabel.End)
		}
		g, h, i, j, k, l, m, n = tsI, tsJ, tsK, tsL, tsM, tsN, tsO, tsP
	}
	if flags&g != 0 {
		b = binary.BigEndian.AppendUint16(b, ts.SrcPort.Start)
	}
	if flags&h != 0 {
		b = binary.BigEndian.AppendUint16(b, ts.SrcPort.End)
	}
	if flags&i != 0 {
		b = binary.BigEndian.AppendUint16(b, ts.DstPort.Start)
	}
	if flags&j != 0 {
		b = binary.BigEndian.AppendUint16(b, ts.DstPort.End)
	}
	if flags&k != 0 {
		b = append(b, ts.DS.Start)
	}
	if flags&l != 0 {
		b = append(b, ts.DS.End)
	}
	if flags&m != 0 {
		b = append(b, ts.Proto.Start)
	}
	if flags&n != 0 {
		b = append(b, ts.Proto.End)
	}
	return b
}

func appendAddrField(b []byte, flags, bit uint32, a netip.Addr) []byte {
	if flags&bit == 0 {
		return b
	}
	if a.Is4() {
		v := a.As4()
		return append(b, v[:]...)
	}
	v := a.As16()
	return append(b, v[:]...)
}

// tsReader reads the fields of a binary traffic selector in order.
type tsReader struct {
	b     []byte
	flags uint32
	err   error
}

// take returns the next n bytes if flag bit is set, nil otherwise.
func (r *tsReader) take(bit uint32, n int, what string) []byte {
	if r.err != nil || r.flags&bit == 0 {
		return nil
	}
	if len(r.b) < n {
		r.err = fmt.Errorf("%w: traffic selector truncated in %s", ErrMalformed, what)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *tsReader) addr(start, end uint32, n int, what string) AddrRange {
	s, e := r.take(start, n, what), r.take(end, n, what)
	if r.err != nil {
		return AddrRange{}
	}
	if e != nil && s == nil {
		r.err = fmt.Errorf("%w: traffic selector end %s without start", ErrMalformed, what)
		return AddrRange{}
	}
	if s == nil {
		return AddrRange{}
	}
	if e == nil {
		e = s
	}
	var ar AddrRange
	if n == 4 {
		ar = AddrRange{Start: netip.AddrFrom4([4]byte(s)), End: netip.AddrFrom4([4]byte(e))}
	} else {
		ar = AddrRange{Start: netip.AddrFrom16([16]byte(s)), End: netip.AddrFrom16([16]byte(e))}
	}
	if ar.End.Less(ar.Start) {
		r.err = fmt.Errorf("%w: traffic selector %s range %s-%s ends before it starts", ErrMalformed, what, ar.Start, ar.End)
		return AddrRange{}
	}
	return ar
}

// num reads a numeric range of width n (1, 2 or 4 bytes). mask keeps the
// bits of the field; the others are ignored (read as zero). order keeps the
// bits that count when checking that the range does not end before it
// starts.
func (r *tsReader) num(start, end uint32, n int, mask, order uint32, what string) Range[uint32] {
	s, e := r.take(start, n, what), r.take(end, n, what)
	if r.err != nil {
		return Range[uint32]{}
	}
	if e != nil && s == nil {
		r.err = fmt.Errorf("%w: traffic selector end %s without start", ErrMalformed, what)
		return Range[uint32]{}
	}
	if s == nil {
		return Range[uint32]{}
	}
	v := func(p []byte) uint32 {
		switch n {
		case 1:
			return uint32(p[0]) & mask
		case 2:
			return uint32(binary.BigEndian.Uint16(p)) & mask
		}
		return binary.BigEndian.Uint32(p) & mask
	}
	rg := Range[uint32]{Set: true, Start: v(s), End: v(s)}
	if e != nil {
		rg.End = v(e)
	}
	if rg.End&order < rg.Start&order {
		r.err = fmt.Errorf("%w: traffic selector %s range %d-%d ends before it starts", ErrMalformed, what, rg.Start, rg.End)
		return Range[uint32]{}
	}
	return rg
}

func narrow8(r Range[uint32]) Range[uint8] {
	return Range[uint8]{Set: r.Set, Start: uint8(r.Start), End: uint8(r.End)}
}

func narrow16(r Range[uint32]) Range[uint16] {
	return Range[uint16]{Set: r.Set, Start: uint16(r.Start), End: uint16(r.End)}
}

// ParseTrafficSelector parses an encoded selector (format, reserved byte,
// flags word and fields; see [TrafficSelector]). A selector of an unknown
// format is returned with its bytes in Opaque. The result shares no memory
// with b.
func ParseTrafficSelector(b []byte) (TrafficSelector, error) {
	if len(b) < tsHeaderLen {
		return TrafficSelector{}, fmt.Errorf("%w: traffic selector of %d bytes, want at least %d", ErrMalformed, len(b), tsHeaderLen)
	}
	ts := TrafficSelector{Format: TSFormat(b[0])}
	if !ts.Supported() {
		if len(b)-tsHeaderLen > maxOpaqueSelector {
			return TrafficSelector{}, fmt.Errorf("%w: %s traffic selector of %d bytes", ErrMalformed, ts.Format, len(b))
		}
		if len(b) > tsHeaderLen {
			ts.Opaque = append([]byte(nil), b[tsHeaderLen:]...)
		}
		return ts, nil
	}
	if len(b) < tsHeaderLen+tsFlagsLen {
		return TrafficSelector{}, fmt.Errorf("%w: %s traffic selector of %d bytes, want at least %d", ErrMalformed, ts.Format, len(b), tsHeaderLen+tsFlagsLen)
	}
	r := tsReader{b: b[tsHeaderLen+tsFlagsLen:], flags: binary.BigEndian.Uint32(b[tsHeaderLen:])}
	if ts.Format == TSFormatIPv4 {
		ts.Src = r.addr(tsA, tsB, 4, "source address")
		ts.Dst = r.addr(tsC, tsD, 4, "destination address")
		ts.SPI = r.num(tsE, tsF, 4, 0xffffffff, 0xffffffff, "spi")
		ts.SrcPort = narrow16(r.num(tsG, tsH, 2, 0xffff, 0xffff, "source port"))
		ts.DstPort = narrow16(r.num(tsI, tsJ, 2, 0xffff, 0xffff, "destination port"))
		ts.DS = narrow8(r.num(tsK, tsL, 1, 0xff, dsMask, "ds"))
		ts.Proto = narrow8(r.num(tsM, tsN, 1, 0xff, 0xff, "protocol"))
	} else {
		ts.Src = r.addr(tsA, tsB, 16, "source address")
		ts.Dst = r.addr(tsC, tsD, 16, "destination address")
		ts.SPI = r.num(tsE, tsF, 4, 0xffffffff, 0xffffffff, "spi")
		ts.FlowLabel = r.num(tsG, tsH, 4, flowLabelMask, flowLabelMask, "flow label")
		ts.SrcPort = narrow16(r.num(tsI, tsJ, 2, 0xffff, 0xffff, "source port"))
		ts.DstPort = narrow16(r.num(tsK, tsL, 2, 0xffff, 0xffff, "destination port"))
		ts.DS = narrow8(r.num(tsM, tsN, 1, 0xff, dsMask, "traffic class"))
		ts.Proto = narrow8(r.num(tsO, tsP, 1, 0xff, 0xff, "next header"))
	}
	if r.err != nil {
		return TrafficSelector{}, r.err
	}
	if len(r.b) != 0 {
		return TrafficSelector{}, fmt.Errorf("%w: %d bytes after the %s traffic selector's fields", ErrMalformed, len(r.b), ts.Format)
	}
	return ts, nil
}
