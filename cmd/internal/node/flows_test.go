// SPDX-License-Identifier: MIT

package node

import (
	"net/netip"
	"slices"
	"testing"

	"monami/classifier"
	"monami/paths"
	"monami/signaling/msg"
	"monami/tun/tuntest"
)

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

// A peer rule travels as RFC 6088 selectors and is compiled back at the
// HA: the HA's table must match exactly the packets the router's selector
// matches.
func TestFlowBindingsRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		sel  classifier.Selector
	}{
		{"paper: ssh from a /64", classifier.Selector{Src: pfx("2001:db8:0:f011::/64"), Proto: []uint8{6}, DstPorts: []classifier.PortRange{{Lo: 22, Hi: 22}}}},
		{"any family, udp range", classifier.Selector{Proto: []uint8{17}, DstPorts: []classifier.PortRange{{Lo: 4000, Hi: 4010}}}},
		{"two prefixes, two protocols", classifier.Selector{Dst: pfx("198.18.20.0/24", "fd00:20::/64"), Proto: []uint8{6, 17}}},
		{"dscp", classifier.Selector{DSCP: []uint8{46}}},
		{"flow label", classifier.Selector{FlowLabel: []uint32{0x12345}}},
		{"everything", classifier.Selector{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tss := trafficSelectors(&tc.sel)
			if len(tss) == 0 {
				t.Fatal("no selector")
			}
			var fbs []flowIdent
			for i, ts := range tss {
				fbs = append(fbs, flowIdent{FID: uint16(i + 1), BIDs: []paths.BID{3}, Selector: ts})
			}
			tbl, err := classifier.Compile(filterRules(fbs))
			if err != nil {
				t.Fatal(err)
			}
			var p classifier.Parsed
			for _, pkt := range [][]byte{
				tuntest.TCPSyn(netip.MustParseAddrPort("[2001:db8:0:f011::5]:40000"), netip.MustParseAddrPort("[fd00:20::2]:22")),
				tuntest.TCPSyn(netip.MustParseAddrPort("[2001:db8:0:f012::5]:40000"), netip.MustParseAddrPort("[fd00:20::2]:22")),
				tuntest.UDPPacket(netip.MustParseAddrPort("198.18.10.2:5000"), netip.MustParseAddrPort("198.18.20.2:4005"), nil),
				tuntest.UDPPacket(netip.MustParseAddrPort("198.18.10.2:5000"), netip.MustParseAddrPort("198.18.21.2:4011"), nil),
				tuntest.UDPPacket(netip.MustParseAddrPort("[fd00:10::2]:5000"), netip.MustParseAddrPort("[fd00:20::2]:4000"), nil),
				tuntest.TCPSyn(netip.MustParseAddrPort("198.18.10.2:5000"), netip.MustParseAddrPort("198.18.20.2:80")),
			} {
				if !p.Decode(pkt) {
					t.Fatal("bad test packet")
				}
				want := tc.sel.Matches(&p)
				got := tbl.Lookup(&p).Rule >= 0
				if got != want {
					t.Errorf("%v→%v proto %d port %d: HA table matches %v, router selector %v", p.Src, p.Dst, p.Proto, p.DstPort, got, want)
				}
			}
		})
	}
}

// rangePrefixes covers an address range exactly, with the fewest prefixes.
func TestRangePrefixes(t *testing.T) {
	for _, tc := range []struct {
		start, end string
		want       []string
	}{
		{"198.18.20.0", "198.18.20.255", []string{"198.18.20.0/24"}},
		{"198.18.20.5", "198.18.20.20", []string{"198.18.20.5/32", "198.18.20.6/31", "198.18.20.8/29", "198.18.20.16/30", "198.18.20.20/32"}},
		{"fd00::", "fd00::ffff:ffff:ffff:ffff", []string{"fd00::/64"}},
		{"0.0.0.0", "255.255.255.255", []string{"0.0.0.0/0"}},
		{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", []string{"::/0"}},
		{"fd00::1", "fd00::1", []string{"fd00::1/128"}},
	} {
		r := msgRange(tc.start, tc.end)
		var got []string
		for _, p := range rangePrefixes(r, netip.MustParseAddr(tc.start).Is4()) {
			got = append(got, p.String())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s-%s: %v, want %v", tc.start, tc.end, got, tc.want)
		}
	}
}

type flowIdent = msg.FlowIdentification

func msgRange(a, b string) msg.AddrRange {
	return msg.NewAddrRange(netip.MustParseAddr(a), netip.MustParseAddr(b))
}

// A stripe rule's weights reach the HA in steps of 1/16 (so that small
// moves of the capacity estimates send no update), and the HA's table
// spreads by them; equal shares and other modes carry none.
func TestFlowWeights(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule classifier.FilterRule
		want []uint16
	}{
		{"stripe by capacity", classifier.FilterRule{Mode: classifier.ModeStripe, BIDs: []paths.BID{1, 2, 3}, Weights: []uint32{625, 250, 125}}, []uint16{10, 4, 2}},
		{"a small share keeps a step", classifier.FilterRule{Mode: classifier.ModeStripe, BIDs: []paths.BID{1, 2}, Weights: []uint32{990, 10}}, []uint16{16, 1}},
		{"small moves do not change it", classifier.FilterRule{Mode: classifier.ModeStripe, BIDs: []paths.BID{1, 2, 3}, Weights: []uint32{630, 245, 125}}, []uint16{10, 4, 2}},
		{"equal shares", classifier.FilterRule{Mode: classifier.ModeStripe, BIDs: []paths.BID{1, 2}, Weights: []uint32{1, 1}}, nil},
		{"single", classifier.FilterRule{Mode: classifier.ModeSingle, BIDs: []paths.BID{1, 2}, Weights: []uint32{3, 1}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := flowWeights(&tc.rule, len(tc.rule.BIDs))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("flowWeights = %v, want %v", got, tc.want)
			}
			if got == nil {
				return
			}
			ts := trafficSelectors(&classifier.Selector{Proto: []uint8{6}})[0]
			f := flowIdent{FID: 1, BIDs: tc.rule.BIDs, Selector: ts, Mode: msg.FlowModeSpread, Weights: got}
			if err := f.Validate(); err != nil {
				t.Fatal(err)
			}
			rules := filterRules([]flowIdent{f})
			if len(rules) != 1 || len(rules[0].Weights) != len(got) {
				t.Fatalf("HA rules %+v: want the weights", rules)
			}
			for k, w := range got {
				if rules[0].Weights[k] != uint32(w) {
					t.Errorf("HA weight %d = %d, want %d", k, rules[0].Weights[k], w)
				}
			}
		})
	}
}
