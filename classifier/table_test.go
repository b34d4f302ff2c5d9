// SPDX-License-Identifier: MIT

package classifier

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"monami/paths"
)

// linear is the reference the table must agree with: the index of the
// first rule whose selector matches p, or -1.
func linear(rules []FilterRule, p *Parsed) int32 {
	for i := range rules {
		if rules[i].Selector.Matches(p) {
			return int32(i)
		}
	}
	return -1
}

func mustCompile(t testing.TB, rules []FilterRule) *Table {
	t.Helper()
	tab, err := Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func rule(sel Selector, bids ...paths.BID) FilterRule {
	return FilterRule{Selector: sel, BIDs: bids}
}

func TestTableLookup(t *testing.T) {
	rules := []FilterRule{
		rule(Selector{Src: []netip.Prefix{pfx("fd00:10::/64")}, Proto: []uint8{6}, DstPorts: []PortRange{{22, 22}}}, 10),
		rule(Selector{Dst: []netip.Prefix{pfx("198.18.20.0/24"), pfx("fd00:20::/64")}, Proto: []uint8{17}, SrcPorts: []PortRange{{5000, 5999}}}, 20, 10),
		{Selector: Selector{DSCP: []uint8{46}}, Mode: ModeRedundant, BIDs: []paths.BID{10, 20}},
		{Selector: Selector{FlowLabel: []uint32{0x12345}}, Mode: ModeStripe, BIDs: []paths.BID{10, 20}, Weights: []uint32{3, 1}},
		{Selector: Selector{Proto: []uint8{1, 58}}, Mode: ModeDrop},
		rule(Selector{Src: []netip.Prefix{pfx("198.18.10.0/24")}, DstPorts: []PortRange{{1, 1023}}}, 30),
		rule(Selector{Src: []netip.Prefix{pfx("fd00:10::/64")}}, 20),
	}
	tab := mustCompile(t, rules)
	if tab.Len() != len(rules) {
		t.Errorf("Len = %d", tab.Len())
	}
	tests := []struct {
		name string
		p    Parsed
		want int32
	}{
		{name: "ssh", p: Parsed{Version: 6, Proto: 6, Src: lan6, Dst: srv6, SrcPort: 40000, DstPort: 22}, want: 0},
		{name: "ssh fragment has no ports", p: Parsed{Version: 6, Proto: 6, Src: lan6, Dst: srv6, Fragment: true}, want: 6},
		{name: "prefix", p: Parsed{Version: 6, Proto: 6, Src: lan6, Dst: srv6, SrcPort: 40000, DstPort: 443}, want: 6},
		{name: "udp v4 by src port", p: Parsed{Version: 4, Proto: 17, Src: lan4, Dst: srv4, SrcPort: 5353, DstPort: 53}, want: 1},
		{name: "udp v6 by src port", p: Parsed{Version: 6, Proto: 17, Src: srv6, Dst: netip.MustParseAddr("fd00:20::9"), SrcPort: 5000, DstPort: 53}, want: 1},
		{name: "dscp", p: Parsed{Version: 4, Proto: 17, Src: srv4, Dst: lan4, SrcPort: 1, DstPort: 2, DSCP: 46}, want: 2},
		{name: "flow label", p: Parsed{Version: 6, Proto: 17, Src: srv6, Dst: srv6, FlowLabel: 0x12345}, want: 3},
		{name: "flow label not on ipv4", p: Parsed{Version: 4, Proto: 17, Src: srv4, Dst: srv4, FlowLabel: 0x12345}, want: -1},
		{name: "icmp dropped", p: Parsed{Version: 4, Proto: 1, Src: lan4, Dst: srv4, SrcPort: 7, DstPort: 7}, want: 4},
		{name: "icmp echo id is no port", p: Parsed{Version: 4, Proto: 6, Src: lan4, Dst: srv4, SrcPort: 7, DstPort: 80}, want: 5},
		{name: "no match", p: Parsed{Version: 4, Proto: 6, Src: srv4, Dst: lan4, SrcPort: 80, DstPort: 40000}, want: -1},
		{name: "zero Parsed", p: Parsed{}, want: -1},
		{name: "mixed families", p: Parsed{Version: 4, Proto: 6, Src: lan4, Dst: srv6}, want: -1},
		{name: "dscp out of range", p: Parsed{Version: 4, Proto: 17, Src: srv4, Dst: lan4, DSCP: 46 + 64}, want: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tab.Lookup(&tc.p)
			if d.Rule != tc.want {
				t.Fatalf("Rule = %d, want %d (%+v)", d.Rule, tc.want, d)
			}
			if ref := linear(rules, &tc.p); ref != tc.want {
				t.Fatalf("linear = %d, want %d", ref, tc.want)
			}
			if tc.want < 0 {
				if d != (Decision{Rule: -1}) {
					t.Errorf("no-match decision %+v", d)
				}
				return
			}
			r := rules[tc.want]
			if d.Mode != r.Mode || int(d.N) != len(r.BIDs) && r.Mode != ModeDrop {
				t.Errorf("decision %+v for rule %+v", d, r)
			}
			for i, b := range r.BIDs {
				if d.BIDs[i] != b {
					t.Errorf("BIDs %v, want %v", d.BIDs, r.BIDs)
				}
			}
		})
	}
	d := tab.Lookup(&Parsed{Version: 6, Proto: 17, Src: srv6, Dst: srv6, FlowLabel: 0x12345})
	if d.Weights != [MaxBIDs]uint32{3, 1} {
		t.Errorf("stripe weights %v", d.Weights)
	}
	var nilTable *Table
	if d := nilTable.Lookup(&tests[0].p); d.Rule != -1 || nilTable.Len() != 0 {
		t.Errorf("nil table: %+v", d)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		fr   FilterRule
		want string
	}{
		{name: "bid zero", fr: rule(Selector{}, 0), want: "BID 0 is zero or repeated"},
		{name: "bid repeated", fr: rule(Selector{}, 1, 1), want: "repeated"},
		{name: "too many", fr: rule(Selector{}, 1, 2, 3, 4, 5, 6, 7, 8, 9), want: "9 BIDs; at most 8"},
		{name: "weights", fr: FilterRule{BIDs: []paths.BID{1, 2}, Weights: []uint32{1}, Mode: ModeStripe}, want: "1 weights for 2 BIDs"},
		{name: "drop with bids", fr: FilterRule{BIDs: []paths.BID{1}, Mode: ModeDrop}, want: "a drop rule has no BIDs"},
		{name: "mode", fr: FilterRule{Mode: 9}, want: "invalid mode 9"},
		{name: "unmasked", fr: rule(Selector{Src: []netip.Prefix{netip.PrefixFrom(lan4, 24)}}, 1), want: "host bits set"},
		{name: "invalid prefix", fr: rule(Selector{Dst: []netip.Prefix{{}}}, 1), want: "invalid prefix"},
		{name: "families", fr: rule(Selector{Src: []netip.Prefix{pfx("fd00::/8")}, Dst: []netip.Prefix{pfx("198.18.0.0/15")}}, 1),
			want: "no address family in common"},
		{name: "ports", fr: rule(Selector{DstPorts: []PortRange{{9, 1}}}, 1), want: "runs backwards"},
		{name: "dscp", fr: rule(Selector{DSCP: []uint8{64}}, 1), want: "not a DSCP"},
		{name: "flow label", fr: rule(Selector{FlowLabel: []uint32{1 << 20}}, 1), want: "not a flow label"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules := []FilterRule{rule(Selector{}, 1), tc.fr}
			rules[1].Ref = PolicyRef{Requester: "a", Rule: "r", Policy: "p"}
			tab, err := Compile(rules)
			if err == nil || tab != nil {
				t.Fatalf("Compile accepted %+v", tc.fr)
			}
			if !strings.Contains(err.Error(), "rule 1 (a/r/p): ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
		})
	}
	if tab, err := Compile(nil); err != nil || tab.Lookup(&Parsed{Version: 4, Src: lan4, Dst: srv4}).Rule != -1 {
		t.Errorf("empty table: %v", err)
	}
}

// gen draws rules and packets from small pools of values, so that rules
// overlap and packets match some of them.
type gen struct {
	next func(n int) int // a number in [0, n)
}

var (
	genPrefixes = []netip.Prefix{
		pfx("198.18.0.0/15"), pfx("198.18.10.0/24"), pfx("198.18.10.2/32"), pfx("198.18.20.0/24"), pfx("198.18.20.0/23"),
		pfx("198.18.10.0/25"), pfx("0.0.0.0/0"), pfx("198.18.10.128/26"), pfx("198.19.0.0/16"), pfx("198.16.0.0/12"),
		pfx("fd00::/8"), pfx("fd00:10::/64"), pfx("fd00:10::2/128"), pfx("fd00:20::/64"), pfx("fd00:20::/63"),
		pfx("fd00:10::/65"), pfx("::/0"), pfx("fd00:10::/48"), pfx("fd00::/16"), pfx("fd00:10::/127"),
	}
	genAddrs = []netip.Addr{
		netip.MustParseAddr("198.18.10.2"), netip.MustParseAddr("198.18.10.200"), netip.MustParseAddr("198.18.20.2"),
		netip.MustParseAddr("198.18.21.1"), netip.MustParseAddr("198.19.1.1"), netip.MustParseAddr("10.0.0.1"),
		netip.MustParseAddr("fd00:10::2"), netip.MustParseAddr("fd00:10::3"), netip.MustParseAddr("fd00:20::2"),
		netip.MustParseAddr("fd00:21::1"), netip.MustParseAddr("fd00:10:0:0:8000::1"), netip.MustParseAddr("2001:db8::1"),
	}
	genPorts  = []PortRange{{22, 22}, {53, 53}, {80, 80}, {443, 443}, {0, 1023}, {1024, 65535}, {8000, 8010}, {5000, 5999}, {0, 0}}
	genProtos = []uint8{protoTCP, protoUDP, protoICMP, protoICMPv6, protoSCTP, 47}
	genDSCPs  = []uint8{0, 10, 46, 63}
	genLabels = []uint32{0, 1, 0x12345}
)

func pickN[T comparable](g gen, pool []T, max int) []T {
	n := g.next(max + 1)
	var out []T
	for range n {
		v := pool[g.next(len(pool))]
		if !containsT(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func containsT[T comparable](xs []T, v T) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

func (g gen) selector() Selector {
	var s Selector
	if g.next(2) == 0 {
		s.Src = pickN(g, genPrefixes, 3)
	}
	if g.next(3) == 0 {
		s.Dst = pickN(g, genPrefixes, 2)
	}
	if g.next(3) == 0 {
		s.SrcPorts = pickN(g, genPorts, 2)
	}
	if g.next(2) == 0 {
		s.DstPorts = pickN(g, genPorts, 3)
	}
	if g.next(2) == 0 {
		s.Proto = pickN(g, genProtos, 2)
	}
	if g.next(5) == 0 {
		s.DSCP = pickN(g, genDSCPs, 2)
	}
	if g.next(8) == 0 {
		s.FlowLabel = pickN(g, genLabels, 2)
	}
	var c checker
	if checkSelector(&c, &s); len(c.errs) > 0 {
		return Selector{DSCP: []uint8{uint8(g.next(64))}} // e.g. no common family
	}
	return s
}

func (g gen) packet() Parsed {
	src := genAddrs[g.next(len(genAddrs))]
	var same []netip.Addr
	for _, a := range genAddrs {
		if a.Is4() == src.Is4() {
			same = append(same, a)
		}
	}
	dst := same[g.next(len(same))]
	p := Parsed{Src: src, Dst: dst, Proto: genProtos[g.next(len(genProtos))], DSCP: genDSCPs[g.next(len(genDSCPs))]}
	p.Version = 4
	if src.Is6() {
		p.Version = 6
		p.FlowLabel = genLabels[g.next(len(genLabels))]
	}
	pr := genPorts[g.next(len(genPorts))]
	p.SrcPort = pr.Lo + uint16(g.next(int(pr.Hi-pr.Lo)+1))
	pr = genPorts[g.next(len(genPorts))]
	p.DstPort = pr.Lo + uint16(g.next(int(pr.Hi-pr.Lo)+1))
	p.Fragment = g.next(10) == 0
	return p
}

func (g gen) rules(n int) []FilterRule {
	rules := make([]FilterRule, n)
	for i := range rules {
		rules[i] = rule(g.selector(), paths.BID(i%7+1))
	}
	return rules
}

// checkAgainstLinear compares the table and a flow cache with the linear
// reference on packets.
func checkAgainstLinear(t *testing.T, rules []FilterRule, packets []Parsed) {
	t.Helper()
	tab := mustCompile(t, rules)
	fc := NewFlowCache(64)
	for i := range packets {
		p := &packets[i]
		want := linear(rules, p)
		if got := tab.Lookup(p).Rule; got != want {
			t.Fatalf("packet %+v: table says rule %d, linear scan %d\nrules: %+v", *p, got, want, rules)
		}
		if got := fc.Lookup(tab, p, p.Hash()).Rule; got != want {
			t.Fatalf("packet %+v: flow cache says rule %d, linear scan %d", *p, got, want)
		}
	}
}

// TestTableRandom is the differential test on seeded random rule sets,
// small and large (the large ones have more prefix shapes than tuples, so
// the keys are rounded).
func TestTableRandom(t *testing.T) {
	for _, n := range []int{1, 5, 30, 300, 3000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(n), 7))
			g := gen{next: rng.IntN}
			rounds := max(1, 3000/n)
			for range rounds {
				rules := g.rules(n)
				packets := make([]Parsed, 300)
				for i := range packets {
					packets[i] = g.packet()
				}
				checkAgainstLinear(t, rules, packets)
			}
		})
	}
	// Random prefixes of every length, to force rounding.
	rng := rand.New(rand.NewPCG(1, 1))
	var rules []FilterRule
	var packets []Parsed
	for i := range 2000 {
		a := netip.AddrFrom16([16]byte{0xfd, 0, byte(i), byte(i >> 8), byte(rng.Uint32())})
		b := netip.AddrFrom4([4]byte{198, 18, byte(i), byte(rng.Uint32())})
		rules = append(rules,
			rule(Selector{Src: []netip.Prefix{netip.PrefixFrom(a, rng.IntN(129)).Masked()}}, 1),
			rule(Selector{Dst: []netip.Prefix{netip.PrefixFrom(b, rng.IntN(33)).Masked()}, Proto: []uint8{6}}, 2))
		packets = append(packets,
			Parsed{Version: 6, Proto: 6, Src: a, Dst: a},
			Parsed{Version: 4, Proto: 6, Src: b, Dst: b})
	}
	tab := mustCompile(t, rules)
	if n := len(tab.tuples[famV6]); n > maxTuples {
		t.Errorf("%d IPv6 tuples", n)
	}
	checkAgainstLinear(t, rules, packets)
}

// FuzzTableLookup is the differential fuzz test: for rule sets and packets
// drawn from the input, Table.Lookup and FlowCache.Lookup return the first
// rule a linear scan matches.
func FuzzTableLookup(f *testing.F) {
	f.Add([]byte("\x05\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"))
	f.Add([]byte("\x40" + strings.Repeat("\x00\x01\x02\x03\xff\xfe", 40)))
	f.Fuzz(func(t *testing.T, b []byte) {
		pos := 0
		g := gen{next: func(n int) int {
			if pos >= len(b) {
				return 0
			}
			v := int(b[pos]) % n
			pos++
			return v
		}}
		if len(b) == 0 {
			return
		}
		rules := g.rules(int(b[0])%64 + 1)
		pos++
		var packets []Parsed
		for range 16 {
			packets = append(packets, g.packet())
		}
		checkAgainstLinear(t, rules, packets)
	})
}

// TestUpdate: after a path event, Update gives the table Compile would,
// sharing the index; with other selectors it compiles.
func TestUpdate(t *testing.T) {
	sets := []PolicySet{{Requester: "u", Rules: []Rule{{Name: "r", Policies: benchPolicies(500, 3)}}}}
	before := Resolve(sets, benchPaths, now, nil)
	after := Resolve(sets, []PathInfo{down(wifi), lte, sat}, now, before)
	t1 := mustCompile(t, before.Local())
	t2, err := t1.Update(after.Local())
	if err != nil {
		t.Fatal(err)
	}
	if &t2.slots[0] != &t1.slots[0] || t2.id == t1.id {
		t.Error("Update did not reuse the index, or kept the table's identity")
	}
	want := mustCompile(t, after.Local())
	ps := benchPackets(2000, 9)
	changed := 0
	for i := range ps {
		got, w := t2.Lookup(&ps[i]), want.Lookup(&ps[i])
		if got != w {
			t.Fatalf("packet %+v: Update gives %+v, Compile %+v", ps[i], got, w)
		}
		if t1.Lookup(&ps[i]) != got {
			changed++
		}
	}
	if changed == 0 {
		t.Error("the path event changed no decision")
	}
	// Other selectors: a full compile.
	other := after.Local()[1:]
	t3, err := t1.Update(other)
	if err != nil {
		t.Fatal(err)
	}
	if &t3.slots[0] == &t1.slots[0] {
		t.Error("Update reused the index of other selectors")
	}
	for i := range ps {
		if got, w := t3.Lookup(&ps[i]).Rule, linear(other, &ps[i]); got != w {
			t.Fatalf("after Update with other rules: rule %d, want %d", got, w)
		}
	}
	// Bad BIDs are reported.
	bad := slices.Clone(after.Local())
	bad[3].BIDs = []paths.BID{0}
	bad[3].Mode = ModeSingle
	if _, err := t1.Update(bad); err == nil || !strings.Contains(err.Error(), "rule 3 ") {
		t.Errorf("Update with a zero BID: %v", err)
	}
	var nilTable *Table
	if t4, err := nilTable.Update(other); err != nil || t4.Len() != len(other) {
		t.Errorf("nil Update: %v", err)
	}
}

func TestFlowCache(t *testing.T) {
	rules := []FilterRule{
		rule(Selector{DstPorts: []PortRange{{22, 22}}}, 1),
		rule(Selector{DSCP: []uint8{46}}, 2),
		rule(Selector{}, 3),
	}
	t1 := mustCompile(t, rules)
	t2 := mustCompile(t, []FilterRule{rule(Selector{}, 4)})
	c := NewFlowCache(2) // one set of two: every flow collides
	ssh := Parsed{Version: 4, Proto: 6, Src: lan4, Dst: srv4, SrcPort: 1, DstPort: 22}
	ef := Parsed{Version: 4, Proto: 17, Src: lan4, Dst: srv4, SrcPort: 1, DstPort: 5004, DSCP: 46}
	be := ef
	be.DSCP = 0 // same 5-tuple, another DSCP
	look := func(tab *Table, p Parsed) paths.BID {
		d := c.Lookup(tab, &p, p.Hash())
		if d.N == 0 {
			return 0
		}
		return d.BIDs[0]
	}
	steps := []struct {
		tab        *Table
		p          Parsed
		bid        paths.BID
		hits, miss uint64
	}{
		{t1, ssh, 1, 0, 1},
		{t1, ssh, 1, 1, 1},
		{t1, ef, 2, 1, 2},
		{t1, be, 3, 1, 3}, // DSCP is part of the key
		{t1, ef, 2, 2, 3}, // still in the second way
		{t1, ssh, 1, 2, 4},
		{t2, ssh, 4, 2, 5}, // entries of an older table miss
		{t1, ssh, 1, 3, 5}, // ... but the other way still holds t1's
	}
	for i, s := range steps {
		if got := look(s.tab, s.p); got != s.bid {
			t.Fatalf("step %d: BID %v, want %v", i, got, s.bid)
		}
		if st := c.Snapshot(); st.HitsTotal != s.hits || st.MissesTotal != s.miss {
			t.Fatalf("step %d: %+v, want %d hits, %d misses", i, st, s.hits, s.miss)
		}
	}
	if d := c.Lookup(nil, &ssh, ssh.Hash()); d.Rule != -1 {
		t.Errorf("nil table: %+v", d)
	}
	for _, n := range []int{-1, 0, 1, 2, 3, 4, 1000, 1 << 20, 1<<20 + 1, 1 << 40} {
		if got := cacheSets(n) * 2; got < min(max(n, 2), maxCacheEntries) || got > max(2*n, 2) || got > maxCacheEntries {
			t.Errorf("a cache of %d has %d entries", n, got)
		}
	}
	if got := len(NewFlowCache(1000).sets); got != 512 {
		t.Errorf("NewFlowCache(1000) has %d sets", got)
	}
}

func TestLookupAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	res := Resolve([]PolicySet{{Requester: "bench", Rules: []Rule{{Name: "r", Policies: benchPolicies(1000, 1)}}}},
		benchPaths, now, nil)
	tab := mustCompile(t, res.Local())
	c := NewFlowCache(1024)
	ps := benchPackets(256, 2)
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		p := &ps[i%len(ps)]
		i++
		_ = tab.Lookup(p)
	}); n != 0 {
		t.Errorf("Table.Lookup: %v allocations", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		p := &ps[i%len(ps)]
		i++
		_ = c.Lookup(tab, p, p.Hash())
	}); n != 0 {
		t.Errorf("FlowCache.Lookup: %v allocations", n)
	}
}

// benchPaths are three paths for the benchmarks.
var benchPaths = []PathInfo{wifi, lte, sat}

// benchPolicies returns n distinct policies shaped like a large site's:
// per-host and per-subnet source prefixes of both families, services by
// protocol and port, some destinations, some DSCP classes, and a few kinds
// of action.
func benchPolicies(n int, seed uint64) []Policy {
	rng := rand.New(rand.NewPCG(seed, 99))
	services := []PortRange{{22, 22}, {53, 53}, {80, 80}, {443, 443}, {3478, 3481}, {5060, 5061}, {8000, 8080}, {993, 993}}
	actions := []Action{
		act(func(a *Action) { a.MaxDelay = 50 * ms }),
		act(func(a *Action) { a.AllowMetered = false }),
		act(func(a *Action) { a.Forbid = []string{"satellite"}; a.Prefer = []Criterion{CriterionDelay} }),
		act(func(a *Action) { a.MinBandwidth = 15e6 }),
		DefaultAction(),
	}
	ps := make([]Policy, n)
	for i := range ps {
		var s Selector
		switch i % 4 {
		case 0:
			s.Src = []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), 32)}
		case 1:
			s.Src = []netip.Prefix{netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0, 0, 0x10, byte(i >> 8), byte(i)}), 64)}
		case 2:
			s.Src = []netip.Prefix{netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)}), 128)}
		case 3:
			s.Src = []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), 0}), 24)}
		}
		if rng.IntN(3) == 0 {
			if s.Src[0].Addr().Is4() {
				s.Dst = []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 20 + byte(rng.IntN(4)), 0}), 24)}
			} else {
				s.Dst = []netip.Prefix{netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0, 0, 0x20, 0, byte(rng.IntN(4))}), 48)}
			}
		}
		switch rng.IntN(4) {
		case 0, 1:
			s.Proto = []uint8{protoTCP}
			s.DstPorts = []PortRange{services[rng.IntN(len(services))]}
		case 2:
			s.Proto = []uint8{protoUDP}
			s.DstPorts = []PortRange{services[rng.IntN(len(services))], services[rng.IntN(len(services))]}
			if s.DstPorts[0] == s.DstPorts[1] {
				s.DstPorts = s.DstPorts[:1]
			}
		}
		if rng.IntN(5) == 0 {
			s.DSCP = []uint8{46}
		}
		ps[i] = Policy{Name: "p" + strconv.Itoa(i), Selector: s, Action: actions[rng.IntN(len(actions))],
			Priority: rng.IntN(3)}
		switch rng.IntN(10) {
		case 0:
			ps[i].Mode = ModeStripe
		case 1:
			ps[i].Mode = ModeRedundant
		}
	}
	return ps
}

// benchPackets returns packets from the benchmark policies' address space,
// most of them matching some rule.
func benchPackets(n int, seed uint64) []Parsed {
	rng := rand.New(rand.NewPCG(seed, 5))
	ports := []uint16{22, 53, 80, 443, 3479, 5060, 8080, 993, 12345}
	ps := make([]Parsed, n)
	for i := range ps {
		j := rng.IntN(10000)
		p := Parsed{Proto: []uint8{protoTCP, protoUDP}[rng.IntN(2)], SrcPort: uint16(30000 + rng.IntN(30000)),
			DstPort: ports[rng.IntN(len(ports))]}
		if j%2 == 0 {
			p.Version = 4
			p.Src = netip.AddrFrom4([4]byte{198, 18, byte(j >> 8), byte(j)})
			p.Dst = netip.AddrFrom4([4]byte{198, 18, 20 + byte(rng.IntN(4)), byte(rng.IntN(256))})
		} else {
			p.Version = 6
			p.Src = netip.AddrFrom16([16]byte{0xfd, 0, 0, 0x10, byte(j >> 8), byte(j), 15: 1})
			p.Dst = netip.AddrFrom16([16]byte{0xfd, 0, 0, 0x20, 0, byte(rng.IntN(4)), 15: 2})
		}
		ps[i] = p
	}
	return ps
}

func benchTable(b *testing.B, n int) ([]FilterRule, *Table) {
	res := Resolve([]PolicySet{{Requester: "bench", Rules: []Rule{{Name: "r", Policies: benchPolicies(n, 1)}}}},
		benchPaths, now, nil)
	rules := res.Local()
	return rules, mustCompile(b, rules)
}

// BenchmarkFlowCacheHit: lookups of 1024 active flows (at most two per
// set, so that all stay cached) in a cache of 4096 entries, in front of a
// table of 10 000 rules.
func BenchmarkFlowCacheHit(b *testing.B) {
	_, tab := benchTable(b, 10000)
	c := NewFlowCache(4096)
	perSet := map[uint64]int{}
	var ps []Parsed
	var hs []uint64
	for _, p := range benchPackets(4096, 3) {
		h := p.Hash()
		if perSet[h&c.mask] == 2 || len(ps) == 1024 {
			continue
		}
		perSet[h&c.mask]++
		ps, hs = append(ps, p), append(hs, h)
		c.Lookup(tab, &p, h)
	}
	before := c.Snapshot()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		j := i & 1023
		c.Lookup(tab, &ps[j], hs[j])
		i++
	}
	after := c.Snapshot()
	if hits := after.HitsTotal - before.HitsTotal; hits != uint64(i) {
		b.Fatalf("only %d of %d lookups hit", hits, i)
	}
}

// BenchmarkLookupMiss10k: table lookups (a flow cache miss) in 10 000
// rules: packets that match rules, and packets that match none (every
// tuple is probed).
func BenchmarkLookupMiss10k(b *testing.B) {
	rules, tab := benchTable(b, 10000)
	b.Logf("%d rules, %d+%d tuples, %d keys", len(rules), len(tab.tuples[famV4]), len(tab.tuples[famV6]), len(tab.cands))
	for _, kind := range []string{"match", "nomatch"} {
		b.Run(kind, func(b *testing.B) {
			ps := benchPackets(4096, 4)
			if kind == "nomatch" {
				for i := range ps {
					if ps[i].Version == 4 {
						ps[i].Src = netip.AddrFrom4([4]byte{198, 18, 255, byte(i)}) // outside every source
					} else {
						ps[i].Src = netip.AddrFrom16([16]byte{0xfd, 0, 0, 0x11, byte(i)})
					}
				}
			}
			matched := 0
			for i := range ps {
				if linear(rules, &ps[i]) >= 0 {
					matched++
				}
			}
			b.ReportMetric(float64(matched)/float64(len(ps)), "matched/op")
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				tab.Lookup(&ps[i&4095])
				i++
			}
		})
	}
}

// BenchmarkLinear10k is the linear scan the table replaces, for scale.
func BenchmarkLinear10k(b *testing.B) {
	rules, _ := benchTable(b, 10000)
	ps := benchPackets(4096, 4)
	i := 0
	for b.Loop() {
		linear(rules, &ps[i&4095])
		i++
	}
}

// BenchmarkCompile10k: Resolve and Compile of 10 000 policies.
func BenchmarkCompile10k(b *testing.B) {
	sets := []PolicySet{{Requester: "bench", Rules: []Rule{{Name: "r", Policies: benchPolicies(10000, 1)}}}}
	b.ReportAllocs()
	for b.Loop() {
		res := Resolve(sets, benchPaths, now, nil)
		if _, err := Compile(res.Local()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReresolve: a path event (the Wi-Fi goes down, or comes back),
// from the paths to the new table: Resolve against the previous
// resolution and Table.Update of the previous table, with 10 000 and with
// 100 policies.
func BenchmarkReresolve(b *testing.B) {
	benchReresolve(b, func(t *Table, rules []FilterRule) (*Table, error) { return t.Update(rules) })
}

// BenchmarkReresolveCompile is BenchmarkReresolve with a full Compile.
func BenchmarkReresolveCompile(b *testing.B) {
	benchReresolve(b, func(_ *Table, rules []FilterRule) (*Table, error) { return Compile(rules) })
}

func benchReresolve(b *testing.B, build func(*Table, []FilterRule) (*Table, error)) {
	for _, n := range []int{100, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			sets := []PolicySet{{Requester: "bench", Rules: []Rule{{Name: "r", Policies: benchPolicies(n, 1)}}}}
			states := [][]PathInfo{benchPaths, {down(wifi), lte, sat}}
			prev := Resolve(sets, states[0], now, nil)
			tab := mustCompile(b, prev.Local())
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				res := Resolve(sets, states[i%2], now, prev)
				next, err := build(tab, res.Local())
				if err != nil {
					b.Fatal(err)
				}
				prev, tab = res, next
			}
		})
	}
}

// BenchmarkResolve is BenchmarkReresolve without the Compile.
func BenchmarkResolve(b *testing.B) {
	sets := []PolicySet{{Requester: "bench", Rules: []Rule{{Name: "r", Policies: benchPolicies(10000, 1)}}}}
	states := [][]PathInfo{benchPaths, {down(wifi), lte, sat}}
	prev := Resolve(sets, states[0], now, nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		prev = Resolve(sets, states[i%2], now, prev)
	}
}
