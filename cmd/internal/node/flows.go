// SPDX-License-Identifier: MIT

package node

import (
	"encoding/binary"
	"net/netip"
	"slices"

	"monami/classifier"
	"monami/signaling/msg"
)

// maxSelectorsPerRule bounds the RFC 6088 selectors one filter rule
// expands to (the product of its lists); the rest is left out, and the
// rule then covers less at the HA than at the router.
const maxSelectorsPerRule = 64

// trafficSelectors expands a filter rule's selector, whose fields are
// lists, into RFC 6088 selectors, which hold one range per field: one per
// combination of source prefix, destination prefix, protocol, source and
// destination port range, DSCP and flow label, each family on its own
// (IPv4 and IPv6 both when no prefix says which).
func trafficSelectors(s *classifier.Selector) []*msg.TrafficSelector {
	fams := []msg.TSFormat{msg.TSFormatIPv4, msg.TSFormatIPv6}
	if len(s.FlowLabel) > 0 {
		fams = []msg.TSFormat{msg.TSFormatIPv6}
	}
	opt := func(n int) int { return max(n, 1) }
	var out []*msg.TrafficSelector
	for _, fam := range fams {
		v4 := fam == msg.TSFormatIPv4
		srcs := famPrefixes(s.Src, v4)
		dsts := famPrefixes(s.Dst, v4)
		if srcs == nil || dsts == nil {
			continue // a list with no prefix of this family excludes it
		}
		for a := range opt(len(srcs)) {
			for b := range opt(len(dsts)) {
				for c := range opt(len(s.Proto)) {
					for d := range opt(len(s.SrcPorts)) {
						for e := range opt(len(s.DstPorts)) {
							for f := range opt(len(s.DSCP)) {
								for g := range opt(len(s.FlowLabel)) {
									if len(out) == maxSelectorsPerRule {
										return out
									}
									ts := &msg.TrafficSelector{Format: fam}
									if len(srcs) > 0 && srcs[a].IsValid() {
										ts.Src = msg.AddrRangeFromPrefix(srcs[a])
									}
									if len(dsts) > 0 && dsts[b].IsValid() {
										ts.Dst = msg.AddrRangeFromPrefix(dsts[b])
									}
									if len(s.Proto) > 0 {
										ts.Proto = msg.NewRange(s.Proto[c], s.Proto[c])
									}
									if len(s.SrcPorts) > 0 {
										ts.SrcPort = msg.NewRange(s.SrcPorts[d].Lo, s.SrcPorts[d].Hi)
									}
									if len(s.DstPorts) > 0 {
										ts.DstPort = msg.NewRange(s.DstPorts[e].Lo, s.DstPorts[e].Hi)
									}
									if len(s.DSCP) > 0 {
										ts.DS = msg.NewRange(s.DSCP[f]<<2, s.DSCP[f]<<2|3)
									}
									if len(s.FlowLabel) > 0 {
										ts.FlowLabel = msg.NewRange(s.FlowLabel[g], s.FlowLabel[g])
									}
									out = append(out, ts)
								}
							}
						}
					}
				}
			}
		}
	}
	return out
}

// famPrefixes returns the prefixes of ps of one family: [invalid] (any)
// if ps is empty, nil if ps has none of the family.
func famPrefixes(ps []netip.Prefix, v4 bool) []netip.Prefix {
	if len(ps) == 0 {
		return []netip.Prefix{{}}
	}
	var out []netip.Prefix
	for _, p := range ps {
		if p.Addr().Is4() == v4 {
			out = append(out, p)
		}
	}
	return out
}

// filterRules is the HA's side: the MR's flow bindings as filter rules,
// in the order of their priority (then FID), for classifier.Compile. A
// binding whose selector cannot be expressed (an unknown format) is left
// out.
func filterRules(flows []msg.FlowIdentification) []classifier.FilterRule {
	fs := slices.Clone(flows)
	slices.SortStableFunc(fs, func(a, b msg.FlowIdentification) int {
		if a.Priority != b.Priority {
			return int(a.Priority) - int(b.Priority)
		}
		return int(a.FID) - int(b.FID)
	})
	var out []classifier.FilterRule
	for _, f := range fs {
		ts := f.Selector
		if ts == nil || (ts.Format != msg.TSFormatIPv4 && ts.Format != msg.TSFormatIPv6) || len(f.BIDs) == 0 {
			continue
		}
		v4 := ts.Format == msg.TSFormatIPv4
		var sel classifier.Selector
		sel.Src = rangePrefixes(ts.Src, v4)
		sel.Dst = rangePrefixes(ts.Dst, v4)
		if ts.Proto.Set {
			for p := int(ts.Proto.Start); p <= int(ts.Proto.End); p++ {
				sel.Proto = append(sel.Proto, uint8(p))
			}
		}
		if ts.SrcPort.Set {
			sel.SrcPorts = []classifier.PortRange{{Lo: ts.SrcPort.Start, Hi: ts.SrcPort.End}}
		}
		if ts.DstPort.Set {
			sel.DstPorts = []classifier.PortRange{{Lo: ts.DstPort.Start, Hi: ts.DstPort.End}}
		}
		if ts.DS.Set {
			for d := int(ts.DS.Start) >> 2; d <= int(ts.DS.End)>>2; d++ {
				sel.DSCP = append(sel.DSCP, uint8(d))
			}
		}
		if ts.FlowLabel.Set {
			if ts.FlowLabel.End-ts.FlowLabel.Start > 255 {
				continue // too wide to list; the downlink hashes these
			}
			for l := ts.FlowLabel.Start; ; l++ {
				if l <= 0xfffff { // RFC 6088 carries 24 bits; a packet's label has 20
					sel.FlowLabel = append(sel.FlowLabel, l)
				}
				if l == ts.FlowLabel.End {
					break
				}
			}
			if len(sel.FlowLabel) == 0 {
				continue // matches no packet
			}
		}
		bids := slices.Clone(f.BIDs)
		if len(bids) > classifier.MaxBIDs {
			bids = bids[:classifier.MaxBIDs]
		}
		mode := classifier.ModeSingle
		switch f.Mode {
		case msg.FlowModeSpread:
			mode = classifier.ModeStripe
		case msg.FlowModeRedundant:
			mode = classifier.ModeRedundant
		}
		var weights []uint32
		if mode == classifier.ModeStripe && len(f.Weights) >= len(bids) {
			for _, w := range f.Weights[:len(bids)] {
				weights = append(weights, uint32(w))
			}
		}
		out = append(out, classifier.FilterRule{Index: len(out), Target: classifier.TargetPeer, Selector: sel,
			Mode: mode, BIDs: bids, Weights: weights, Priority: -int(f.Priority)})
	}
	return out
}

// rangePrefixes returns the prefixes covering r exactly; a selector of
// the whole family (the wildcard) is the family's default route, so that
// the rule keeps to its family.
func rangePrefixes(r msg.AddrRange, v4 bool) []netip.Prefix {
	if !r.Start.IsValid() {
		if v4 {
			return []netip.Prefix{netip.PrefixFrom(netip.IPv4Unspecified(), 0)}
		}
		return []netip.Prefix{netip.PrefixFrom(netip.IPv6Unspecified(), 0)}
	}
	var out []netip.Prefix
	start, end := r.Start, r.End
	for start.IsValid() && start.Compare(end) <= 0 && len(out) < 128 {
		// The largest prefix that starts at start and ends at or before end.
		bitsLen := start.BitLen()
		p := netip.PrefixFrom(start, bitsLen)
		for l := bitsLen - 1; l >= 0; l-- {
			q := netip.PrefixFrom(start, l)
			if q.Masked().Addr() != start || lastAddr(q).Compare(end) > 0 {
				break
			}
			p = q
		}
		out = append(out, p)
		last := lastAddr(p)
		if last == end {
			break
		}
		start = last.Next()
	}
	return out
}

// lastAddr returns the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As16()
	off := 0
	if p.Addr().Is4() {
		off = 12
	}
	hostBits := p.Addr().BitLen() - p.Bits()
	hi := binary.BigEndian.Uint64(a[0:8])
	lo := binary.BigEndian.Uint64(a[8:16])
	if hostBits >= 64 {
		lo = ^uint64(0)
		hi |= bitsMask(hostBits - 64)
	} else if hostBits > 0 {
		lo |= bitsMask(hostBits)
	}
	binary.BigEndian.PutUint64(a[0:8], hi)
	binary.BigEndian.PutUint64(a[8:16], lo)
	if off == 12 {
		return netip.AddrFrom4([4]byte(a[12:16]))
	}
	return netip.AddrFrom16(a)
}

// bitsMask returns a mask of the n low bits (n 0..64).
func bitsMask(n int) uint64 {
	if n >= 64 {
		return ^uint64(0)
	}
	return uint64(1)<<n - 1
}
