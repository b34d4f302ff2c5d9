// SPDX-License-Identifier: MIT

package classifier

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"monami/paths"
)

const ms = time.Millisecond

// The paths of the resolution tests: a cheap fast Wi-Fi, a metered LTE
// and a slow expensive satellite.
var (
	wifi = PathInfo{BID: 10, Name: "wan1", Up: true, RTT: 20 * ms, Jitter: 2 * ms, Loss: 0.001, Capacity: 50e6,
		Tags: []string{"wifi"}}
	lte = PathInfo{BID: 20, Name: "wan2", Up: true, RTT: 60 * ms, Jitter: 8 * ms, Loss: 0.01, Capacity: 20e6,
		CostPerGB: 2, Metered: true, Tags: []string{"lte"}}
	sat = PathInfo{BID: 30, Name: "wan3", Up: true, RTT: 600 * ms, Jitter: 30 * ms, Loss: 0.02, Capacity: 10e6,
		CostPerGB: 5, Metered: true, Tags: []string{"satellite"}}
)

// with returns p changed by f.
func with(p PathInfo, f func(*PathInfo)) PathInfo {
	f(&p)
	return p
}

func down(p PathInfo) PathInfo { return with(p, func(p *PathInfo) { p.Up = false }) }

// pol returns a policy named name changed by f, with DefaultAction.
func pol(name string, f func(*Policy)) Policy {
	p := Policy{Name: name, Action: DefaultAction()}
	if f != nil {
		f(&p)
	}
	return p
}

// set returns a set of requester req with one rule "r" of policies.
func set(req string, ps ...Policy) PolicySet {
	return PolicySet{Requester: req, Rules: []Rule{{Name: "r", Policies: ps}}}
}

// distinct gives each policy a selector of its own (DSCP i+1), so that
// they do not conflict.
func distinct(ps ...Policy) []Policy {
	for i := range ps {
		ps[i].Selector.DSCP = []uint8{uint8(i + 1)}
	}
	return ps
}

// summary writes the rules of res one per line: "ref mode bids [weights]
// [fallback]", then the errors "error ref code: msg" and the warnings
// "kind removed kept".
func summary(res *Resolution) []string {
	var out []string
	for i, fr := range res.Rules {
		if fr.Index != i {
			out = append(out, fmt.Sprintf("bad index %d at %d", fr.Index, i))
		}
		line := fr.Ref.String() + " " + fr.Mode.String() + " " + bidList(fr.BIDs)
		if fr.Weights != nil {
			line += " w" + fmt.Sprint(fr.Weights)
		}
		if fr.Target != TargetLocal {
			line += " " + fr.Target.String()
		}
		if fr.Fallback {
			line += " fallback"
		}
		out = append(out, line)
	}
	for _, e := range res.Errors {
		out = append(out, "error "+e.Ref.String()+" "+strconv.Itoa(int(e.Code))+": "+e.Msg)
	}
	for _, w := range res.Warnings {
		out = append(out, w.Kind+" "+w.Removed.String()+" kept "+w.Kept.String())
	}
	return out
}

func bidList(bids []paths.BID) string {
	s := make([]string, len(bids))
	for i, b := range bids {
		s[i] = b.String()
	}
	return "[" + strings.Join(s, ",") + "]"
}

// checkSummary compares got with want line by line; a want line ending
// in "..." matches any line that starts with the rest.
func checkSummary(t *testing.T, got, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		w, prefix := strings.CutSuffix(want[i], "...")
		ok = got[i] == w || prefix && strings.HasPrefix(got[i], w)
	}
	if !ok {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestResolve(t *testing.T) {
	sshSel := Selector{Src: []netip.Prefix{pfx("fd00:10::/64")}, Proto: []uint8{6}, DstPorts: []PortRange{{22, 22}}}
	prefixSel := Selector{Src: []netip.Prefix{pfx("fd00:10::/64")}}
	tests := []struct {
		name  string
		sets  []PolicySet
		paths []PathInfo
		want  []string
	}{
		{
			name: "R1 delay limit picks the fast path",
			sets: []PolicySet{set("a", pol("p", func(p *Policy) { p.Action.MaxDelay = 20 * ms }))},
			// one-way delay is RTT/2: wifi 10ms, lte 30ms, satellite 300ms
			paths: []PathInfo{wifi, lte, sat},
			want:  []string{"a/r/p single [10]"},
		},
		{
			name:  "R1 delay limit is RTT/2, inclusive",
			sets:  []PolicySet{set("a", pol("p", func(p *Policy) { p.Action.MaxDelay = 30 * ms }))},
			paths: []PathInfo{wifi, lte, sat},
			want:  []string{"a/r/p single [10,20]"},
		},
		{
			name: "R1 jitter, loss, bandwidth",
			sets: []PolicySet{set("a", distinct(
				pol("jitter", func(p *Policy) { p.Action.MaxJitter = 10 * ms }),
				pol("loss", func(p *Policy) { p.Action.MaxLoss = 0.015 }),
				pol("bandwidth", func(p *Policy) { p.Action.MinBandwidth = 15e6 }),
			)...)},
			paths: []PathInfo{wifi, lte, sat},
			want:  []string{"a/r/jitter single [10,20]", "a/r/loss single [10,20]", "a/r/bandwidth single [10,20]"},
		},
		{
			name: "R1 cost, metered and tags",
			sets: []PolicySet{set("a", distinct(
				pol("cheap", func(p *Policy) { p.Action.MaxCost = 2 }),
				pol("unmetered", func(p *Policy) { p.Action.AllowMetered = false }),
				pol("tagged", func(p *Policy) { p.Action.Require = []string{"satellite"} }),
				pol("forbidden", func(p *Policy) { p.Action.Forbid = []string{"wifi"} }),
			)...)},
			paths: []PathInfo{wifi, lte, sat},
			want: []string{"a/r/cheap single [10,20]", "a/r/unmetered single [10]", "a/r/tagged single [30]",
				"a/r/forbidden single [20,30]"},
		},
		{
			name: "R1 prefer orders the failover list",
			sets: []PolicySet{set("a", distinct(
				pol("default", nil), // cost, then delay
				pol("bandwidth", func(p *Policy) { p.Action.Prefer = []Criterion{CriterionBandwidth} }),
				pol("loss", func(p *Policy) { p.Action.Prefer = []Criterion{CriterionLoss} }),
				pol("jitter", func(p *Policy) { p.Action.Prefer = []Criterion{CriterionJitter} }),
			)...)},
			paths: []PathInfo{sat, with(lte, func(p *PathInfo) { p.CostPerGB = 0; p.Capacity = 90e6 }), wifi},
			want: []string{"a/r/default single [10,20,30]", "a/r/bandwidth single [20,10,30]",
				"a/r/loss single [10,20,30]", "a/r/jitter single [10,20,30]"},
		},
		{
			name: "unmeasured path satisfies no measured limit",
			sets: []PolicySet{set("a", distinct(
				pol("delay", func(p *Policy) { p.Action.MaxDelay = time.Second }),
				pol("loss", func(p *Policy) { p.Action.MaxLoss = 1 }),
				pol("bandwidth", func(p *Policy) { p.Action.MinBandwidth = 1 }),
				pol("any", nil),
			)...)},
			paths: []PathInfo{with(wifi, func(p *PathInfo) { p.RTT, p.Capacity = 0, 0 }), lte},
			want: []string{"a/r/delay single [20]", "a/r/loss single [20]", "a/r/bandwidth single [20]",
				"a/r/any single [10,20]"},
		},
		{
			name: "R2 two requesters merged in submission order",
			sets: []PolicySet{
				set("alice", pol("web", func(p *Policy) { p.Selector.DstPorts = []PortRange{{443, 443}} })),
				set("bob", pol("dns", func(p *Policy) {
					p.Selector.DstPorts = []PortRange{{53, 53}}
					p.Action.Require = []string{"lte"}
				})),
			},
			paths: []PathInfo{wifi, lte},
			want:  []string{"alice/r/web single [10,20]", "bob/r/dns single [20]"},
		},
		{
			name:  "R3 unsatisfiable: error naming each path's failures, fallback to the default path",
			sets:  []PolicySet{set("a", pol("p", func(p *Policy) { p.Action.MaxDelay = 5 * ms; p.Action.AllowMetered = false }))},
			paths: []PathInfo{lte, down(sat), wifi},
			want: []string{
				"a/r/p single [10,20] fallback",
				"error a/r/p 131: no path satisfies the policy: wan1: delay 10ms > 5ms; wan2: delay 30ms > 5ms, metered; " +
					"wan3: down; falling back to the default path wan1",
			},
		},
		{
			name:  "R3 unsatisfiable and strict: drop",
			sets:  []PolicySet{set("a", pol("p", func(p *Policy) { p.Action.Require = []string{"5g"}; p.Strict = true }))},
			paths: []PathInfo{wifi},
			want: []string{"a/r/p drop [] fallback",
				"error a/r/p 131: no path satisfies the policy: wan1: no tag 5g; dropping its flows (strict)"},
		},
		{
			name:  "R3 no paths at all",
			sets:  []PolicySet{set("a", pol("p", nil))},
			paths: nil,
			want: []string{"a/r/p single [] fallback",
				"error a/r/p 131: no path satisfies the policy: there are no paths; no path is up"},
		},
		{
			name: "R3 contradiction: the higher priority wins",
			sets: []PolicySet{
				set("alice", pol("ssh", func(p *Policy) { p.Selector = sshSel; p.Priority = 5 })),
				set("bob", pol("ssh", func(p *Policy) {
					p.Selector = Selector{Src: sshSel.Src, Proto: sshSel.Proto, DstPorts: sshSel.DstPorts}
					p.Action.Require = []string{"lte"}
					p.Priority = 10
				})),
			},
			paths: []PathInfo{wifi, lte},
			want:  []string{"bob/r/ssh single [20]", "contradiction alice/r/ssh kept bob/r/ssh"},
		},
		{
			name: "R3 contradiction at equal priority: the earlier set wins",
			sets: []PolicySet{
				set("alice", pol("ssh", func(p *Policy) { p.Selector = sshSel })),
				set("bob", pol("ssh", func(p *Policy) { p.Selector = sshSel; p.Mode = ModeDrop })),
			},
			paths: []PathInfo{wifi, lte},
			want:  []string{"alice/r/ssh single [10,20]", "contradiction bob/r/ssh kept alice/r/ssh"},
		},
		{
			name: "R3 duplicates removed, lists in any order",
			sets: []PolicySet{
				set("alice", pol("x", func(p *Policy) { p.Selector.Proto = []uint8{6, 17} })),
				set("bob", pol("y", func(p *Policy) { p.Selector.Proto = []uint8{17, 6} })),
				set("carol", pol("z", func(p *Policy) { p.Selector.Proto = []uint8{17, 6}; p.Priority = 1 })),
			},
			paths: []PathInfo{wifi},
			want: []string{"carol/r/z single [10]", "duplicate bob/r/y kept alice/r/x",
				"duplicate alice/r/x kept carol/r/z"},
		},
		{
			name: "R3 same selector for different targets is no conflict",
			sets: []PolicySet{set("a",
				pol("up", func(p *Policy) { p.Selector = prefixSel }),
				pol("down", func(p *Policy) { p.Selector = prefixSel; p.Target = TargetPeer; p.Action.Require = []string{"lte"} }),
				pol("both", func(p *Policy) { p.Selector = prefixSel; p.Target = TargetBoth; p.Mode = ModeDrop }),
			)},
			paths: []PathInfo{wifi, lte},
			want: []string{"a/r/up single [10,20]", "a/r/down single [20] peer",
				"contradiction a/r/both kept a/r/down"},
		},
		{
			name: "match order: priority, then specificity, then submission",
			sets: []PolicySet{
				set("a",
					pol("any", nil),
					pol("prefix", func(p *Policy) { p.Selector = prefixSel }),
					pol("ssh", func(p *Policy) { p.Selector = sshSel }),
					pol("urgent", func(p *Policy) { p.Priority = 1; p.Selector.DSCP = []uint8{46} }),
					pol("host", func(p *Policy) { p.Selector.Src = []netip.Prefix{pfx("fd00:10::2/128")} }),
					pol("ports", func(p *Policy) { p.Selector.DstPorts = []PortRange{{1, 1000}} }),
					pol("port", func(p *Policy) { p.Selector.DstPorts = []PortRange{{80, 80}} }),
				),
				set("b", pol("any", func(p *Policy) { p.Selector.DSCP = []uint8{0} })),
			},
			paths: []PathInfo{wifi},
			want: []string{"a/r/urgent single [10]", "a/r/host single [10]", "a/r/ssh single [10]", "a/r/prefix single [10]",
				"a/r/port single [10]", "a/r/ports single [10]", "b/r/any single [10]", "a/r/any single [10]"},
		},
		{
			name: "modes",
			sets: []PolicySet{set("a",
				pol("stripe", func(p *Policy) { p.Mode = ModeStripe; p.Selector.DSCP = []uint8{1} }),
				pol("redundant", func(p *Policy) { p.Mode = ModeRedundant; p.Selector.DSCP = []uint8{2} }),
				pol("three", func(p *Policy) { p.Mode = ModeRedundant; p.Copies = 3; p.Selector.DSCP = []uint8{3} }),
				pol("one", func(p *Policy) { p.Mode = ModeRedundant; p.Copies = 1; p.Selector.DSCP = []uint8{4} }),
				pol("drop", func(p *Policy) { p.Mode = ModeDrop; p.Selector.DSCP = []uint8{5} }),
			)},
			paths: []PathInfo{wifi, lte, sat},
			want: []string{"a/r/stripe stripe [10,20,30] w[625 250 125]", "a/r/redundant redundant [10,20]",
				"a/r/three redundant [10,20,30]", "a/r/one redundant [10]", "a/r/drop drop []"},
		},
		{
			name:  "stripe over paths of unknown capacity: equal weights",
			sets:  []PolicySet{set("a", pol("stripe", func(p *Policy) { p.Mode = ModeStripe }))},
			paths: []PathInfo{wifi, with(lte, func(p *PathInfo) { p.Capacity = 0 })},
			want:  []string{"a/r/stripe stripe [10,20] w[1 1]"},
		},
		{
			name:  "stripe keeps a share for a path that carried little: floor 1/(4n)",
			sets:  []PolicySet{set("a", pol("stripe", func(p *Policy) { p.Mode = ModeStripe }))},
			paths: []PathInfo{wifi, with(lte, func(p *PathInfo) { p.Capacity = 1e5 })},
			want:  []string{"a/r/stripe stripe [10,20] w[998 125]"},
		},
		{
			name: "conditions",
			sets: []PolicySet{
				{Requester: "a", Rules: []Rule{
					{Name: "wifi-exists", When: []Condition{{Exists: true, Match: act(func(a *Action) { a.Require = []string{"wifi"} })}},
						Policies: []Policy{pol("p", func(p *Policy) { p.Selector.DSCP = []uint8{1} })}},
					{Name: "no-sat", When: []Condition{{Exists: false, Match: act(func(a *Action) { a.Require = []string{"satellite"} })}},
						Policies: []Policy{pol("p", func(p *Policy) { p.Selector.DSCP = []uint8{2} })}},
					{Name: "fast-and-cheap", When: []Condition{
						{Exists: true, Match: act(func(a *Action) { a.MaxDelay = 15 * ms })},
						{Exists: true, Match: act(func(a *Action) { a.MaxCost = 0 })},
					}, Policies: []Policy{pol("p", func(p *Policy) { p.Selector.DSCP = []uint8{3} })}},
					{Name: "very-fast", When: []Condition{{Exists: true, Match: act(func(a *Action) { a.MaxDelay = 5 * ms })}},
						Policies: []Policy{pol("p", func(p *Policy) { p.Selector.DSCP = []uint8{4} })}},
					{Name: "down-path-counts-not", When: []Condition{{Exists: true, Match: act(func(a *Action) { a.Require = []string{"satellite"} })}},
						Policies: []Policy{pol("p", func(p *Policy) { p.Selector.DSCP = []uint8{5} })}},
				}},
			},
			paths: []PathInfo{wifi, lte, down(sat)},
			want:  []string{"a/wifi-exists/p single [10,20]", "a/no-sat/p single [10,20]", "a/fast-and-cheap/p single [10,20]"},
		},
		{
			name: "lifetimes: expired policies are skipped",
			sets: []PolicySet{set("a",
				pol("expired", func(p *Policy) { p.Expires = now.Add(-time.Second); p.Selector.DSCP = []uint8{1} }),
				pol("expiring-now", func(p *Policy) { p.Expires = now; p.Selector.DSCP = []uint8{2} }),
				pol("live", func(p *Policy) { p.Expires = now.Add(time.Second); p.Selector.DSCP = []uint8{3} }),
				pol("forever", func(p *Policy) { p.Selector.DSCP = []uint8{4} }),
			)},
			paths: []PathInfo{wifi},
			want:  []string{"a/r/live single [10]", "a/r/forever single [10]"},
		},
		{
			name:  "cap demotion: a capped path is not used while another is up",
			sets:  []PolicySet{set("a", pol("any", nil), pol("lte", func(p *Policy) { p.Action.Require = []string{"lte"}; p.Selector.DSCP = []uint8{1} }))},
			paths: []PathInfo{with(wifi, func(p *PathInfo) { p.CapReached = true }), lte},
			want:  []string{"a/r/lte single [20]", "a/r/any single [20]"},
		},
		{
			name: "cap demotion: a capped path is used when no other is up",
			sets: []PolicySet{set("a", pol("any", nil), pol("wifi", func(p *Policy) { p.Action.Require = []string{"wifi"}; p.Selector.DSCP = []uint8{1} }))},
			paths: []PathInfo{with(wifi, func(p *PathInfo) { p.CapReached = true }), with(lte, func(p *PathInfo) { p.CapReached = true }),
				down(sat)},
			want: []string{"a/r/wifi single [10]", "a/r/any single [10,20]"},
		},
		{
			name:  "cap demotion in the error message",
			sets:  []PolicySet{set("a", pol("wifi", func(p *Policy) { p.Action.Require = []string{"wifi"} }))},
			paths: []PathInfo{with(wifi, func(p *PathInfo) { p.CapReached = true }), lte},
			want: []string{"a/r/wifi single [20] fallback",
				"error a/r/wifi 131: no path satisfies the policy: wan1: at its data cap; wan2: no tag wifi; falling back to the default path wan2"},
		},
		{
			name: "invalid policies and conditions are errors, the rest resolves",
			sets: []PolicySet{{Requester: "a", Rules: []Rule{
				{Name: "r", Policies: []Policy{
					pol("bad-loss", func(p *Policy) { p.Action.MaxLoss = 2 }),
					pol("bad prefix", func(p *Policy) { p.Selector.Src = []netip.Prefix{pfx("fd00::1/64")} }),
					pol("ok", nil),
				}},
				{Name: "cond", When: []Condition{{Exists: true, Match: act(func(a *Action) { a.Prefer = []Criterion{CriterionCost} })}},
					Policies: []Policy{pol("p", nil)}},
				{Name: "bad rule name!", Policies: []Policy{pol("p", nil)}},
			}}},
			paths: []PathInfo{wifi},
			want: []string{
				"a/r/ok single [10]",
				"error a/r/bad-loss 130: max_loss: 2 is not a loss ratio; valid: 0..1 or 0%..100%",
				"error a/r/bad prefix 130: name: \"bad prefix\" is not a valid name...",
				"error a/cond/p 130: when[0].prefer: a condition ranks no paths; prefer belongs in a policy",
				"error a/bad rule name!/p 130: rule name \"bad rule name!\" is not valid...",
			},
		},
		{
			name: "duplicate names in a set",
			sets: []PolicySet{{Requester: "a", Rules: []Rule{
				{Name: "r", Policies: []Policy{pol("p", nil)}},
				{Name: "r", Policies: []Policy{pol("p", func(p *Policy) { p.Selector.DSCP = []uint8{1} })}},
			}}},
			paths: []PathInfo{wifi},
			want:  []string{"a/r/p single [10]", "error a/r/p 130: the name a/r/p is used twice..."},
		},
		{
			name: "paths: BID 0 and repeated BIDs are ignored",
			sets: []PolicySet{set("a", pol("p", nil))},
			paths: []PathInfo{{BID: 0, Up: true}, wifi, with(wifi, func(p *PathInfo) { p.Up = false }),
				with(lte, func(p *PathInfo) { p.Name = "" })},
			want: []string{"a/r/p single [10,20]"},
		},
		{
			name:  "unnamed path in messages",
			sets:  []PolicySet{set("a", pol("p", func(p *Policy) { p.Action.MaxCost = 0 }))},
			paths: []PathInfo{with(lte, func(p *PathInfo) { p.Name = "" })},
			want: []string{"a/r/p single [20] fallback",
				"error a/r/p 131: no path satisfies the policy: bid 20: cost 2 > 0; falling back to the default path bid 20"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Resolve(tc.sets, tc.paths, now, nil)
			checkSummary(t, summary(res), tc.want)
			if _, err := Compile(res.Local()); err != nil {
				t.Errorf("Compile(Local()): %v", err)
			}
			if _, err := Compile(res.Peer()); err != nil {
				t.Errorf("Compile(Peer()): %v", err)
			}
		})
	}
}

// TestResolveManyRules (R6): many policies resolve together, and each
// error carries the indexes of its policy.
func TestResolveManyRules(t *testing.T) {
	var rules []Rule
	for r := range 40 {
		rule := Rule{Name: "r" + strconv.Itoa(r)}
		for p := range 25 {
			po := pol("p"+strconv.Itoa(p), func(po *Policy) {
				po.Selector.Src = []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(r), byte(p)}), 32)}
			})
			switch {
			case r == 7 && p == 13:
				po.Action.MaxDelay = ms // unsatisfiable
			case r == 31 && p == 2:
				po.Copies = 3 // invalid for single
			}
			rule.Policies = append(rule.Policies, po)
		}
		rules = append(rules, rule)
	}
	res := Resolve([]PolicySet{{Requester: "many", Rules: rules}}, []PathInfo{wifi, lte}, now, nil)
	if len(res.Rules) != 999 {
		t.Fatalf("%d rules, want 999", len(res.Rules))
	}
	want := []PolicyError{
		{Ref: PolicyRef{Requester: "many", Rule: "r7", Policy: "p13", RuleIndex: 7, PolicyIndex: 13}, Code: CodeNoPath},
		{Ref: PolicyRef{Requester: "many", Rule: "r31", Policy: "p2", RuleIndex: 31, PolicyIndex: 2}, Code: CodeInvalid},
	}
	slices.SortFunc(res.Errors, func(a, b PolicyError) int { return a.Ref.RuleIndex - b.Ref.RuleIndex })
	if len(res.Errors) != len(want) {
		t.Fatalf("errors: %v", res.Errors)
	}
	for i, w := range want {
		if g := res.Errors[i]; g.Ref != w.Ref || g.Code != w.Code {
			t.Errorf("error %d = %+v, want %+v", i, g, w)
		}
	}
	for _, fr := range res.Rules {
		if fr.Ref.Rule != "r"+strconv.Itoa(fr.Ref.RuleIndex) || fr.Ref.Policy != "p"+strconv.Itoa(fr.Ref.PolicyIndex) {
			t.Fatalf("rule %+v: indexes do not match the names", fr.Ref)
		}
	}
}

// TestResolveHysteresis: a policy stays on its path unless another is
// better by the margin, or its path no longer satisfies it.
func TestResolveHysteresis(t *testing.T) {
	fastest := set("a", pol("p", func(p *Policy) { p.Action.Prefer = []Criterion{CriterionDelay} }))
	redundant := set("a", pol("p", func(p *Policy) {
		p.Action.Prefer = []Criterion{CriterionDelay}
		p.Mode = ModeRedundant
	}))
	rtt := func(p PathInfo, d time.Duration) PathInfo { return with(p, func(p *PathInfo) { p.RTT = d }) }
	tests := []struct {
		name   string
		set    PolicySet
		before []PathInfo
		after  []PathInfo
		want   string
	}{
		{name: "near-equal: stays", set: fastest,
			before: []PathInfo{rtt(wifi, 50*ms), rtt(lte, 45*ms)}, after: []PathInfo{rtt(wifi, 42*ms), rtt(lte, 45*ms)},
			want: "a/r/p single [20,10]"},
		{name: "better by the margin: moves", set: fastest,
			before: []PathInfo{rtt(wifi, 50*ms), rtt(lte, 45*ms)}, after: []PathInfo{rtt(wifi, 30*ms), rtt(lte, 45*ms)},
			want: "a/r/p single [10,20]"},
		{name: "relative margin but under 1ms: stays", set: fastest,
			before: []PathInfo{rtt(wifi, 2*ms), rtt(lte, 1200*time.Microsecond)}, after: []PathInfo{rtt(wifi, 500*time.Microsecond), rtt(lte, 1200*time.Microsecond)},
			want: "a/r/p single [20,10]"},
		{name: "old path down: moves", set: fastest,
			before: []PathInfo{rtt(wifi, 50*ms), rtt(lte, 45*ms)}, after: []PathInfo{rtt(wifi, 50*ms), down(lte)},
			want: "a/r/p single [10]"},
		{name: "old path no longer satisfies: moves",
			set:    set("a", pol("p", func(p *Policy) { p.Action.Prefer = []Criterion{CriterionDelay}; p.Action.MaxDelay = 30 * ms })),
			before: []PathInfo{rtt(wifi, 50*ms), rtt(lte, 45*ms)}, after: []PathInfo{rtt(wifi, 50*ms), rtt(lte, 70*ms)},
			want: "a/r/p single [10]"},
		{name: "cost counts at any difference", set: set("a", pol("p", nil)),
			before: []PathInfo{with(wifi, func(p *PathInfo) { p.CostPerGB = 1 }), with(lte, func(p *PathInfo) { p.CostPerGB = 0.9 })},
			after:  []PathInfo{with(wifi, func(p *PathInfo) { p.CostPerGB = 0.8 }), with(lte, func(p *PathInfo) { p.CostPerGB = 0.9 })},
			want:   "a/r/p single [10,20]"},
		{name: "redundant keeps both copies", set: redundant,
			before: []PathInfo{rtt(wifi, 50*ms), rtt(lte, 45*ms), rtt(sat, 60*ms)},
			after:  []PathInfo{rtt(wifi, 50*ms), rtt(lte, 45*ms), rtt(sat, 41*ms)},
			want:   "a/r/p redundant [20,10]"},
		{name: "redundant replaces a copy on a clearly better path", set: redundant,
			before: []PathInfo{rtt(wifi, 50*ms), rtt(lte, 45*ms), rtt(sat, 60*ms)},
			after:  []PathInfo{rtt(wifi, 50*ms), rtt(lte, 45*ms), rtt(sat, 20*ms)},
			want:   "a/r/p redundant [30,20]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev := Resolve([]PolicySet{tc.set}, tc.before, now, nil)
			res := Resolve([]PolicySet{tc.set}, tc.after, now, prev)
			checkSummary(t, summary(res), []string{tc.want})
			// The same through a Resolution that was not made by Resolve
			// (as after a JSON round trip).
			copied := &Resolution{Rules: prev.Rules}
			checkSummary(t, summary(Resolve([]PolicySet{tc.set}, tc.after, now, copied)), []string{tc.want})
		})
	}
}

// TestReresolvePathDown (paper §5.2): when a path goes down, resolving
// again moves its policies, and the new table sends their flows elsewhere.
func TestReresolvePathDown(t *testing.T) {
	rules := mustParse(t, "mobile-router.toml", readTestdata(t, "policies/mobile-router.toml"))
	sets := []PolicySet{{Requester: "vehicle", Rules: rules}}
	before := Resolve(sets, []PathInfo{wifi, lte, sat}, loadTime, nil)
	after := Resolve(sets, []PathInfo{down(wifi), lte, sat}, loadTime, before)
	t1, err := Compile(before.Local())
	if err != nil {
		t.Fatal(err)
	}
	t2, err := Compile(after.Local())
	if err != nil {
		t.Fatal(err)
	}
	ssh := Parsed{Version: 6, Proto: 6, Src: lan6, Dst: srv6, SrcPort: 40000, DstPort: 22}
	d1, d2 := t1.Lookup(&ssh), t2.Lookup(&ssh)
	if d1.N == 0 || d1.BIDs[0] != wifi.BID {
		t.Fatalf("ssh before: %+v", d1)
	}
	if d2.N == 0 || d2.BIDs[0] != lte.BID {
		t.Fatalf("ssh after wifi went down: %+v", d2)
	}
	if len(before.Errors) != 0 {
		t.Errorf("errors before: %v", before.Errors)
	}
	// Updates must not use metered paths: with wifi down, none is left.
	if len(after.Errors) != 1 || after.Errors[0].Ref.Policy != "updates" {
		t.Errorf("errors after: %v", after.Errors)
	}
}

// TestPeer: peer rules are mirrored for the home agent's downlink, and
// Local and Peer split the rules by target.
func TestPeer(t *testing.T) {
	ssh := Selector{Src: []netip.Prefix{pfx("fd00:10::/64")}, Proto: []uint8{6}, DstPorts: []PortRange{{22, 22}}}
	res := Resolve([]PolicySet{set("a",
		pol("local", func(p *Policy) { p.Selector = ssh; p.Selector.DSCP = []uint8{1} }),
		pol("peer", func(p *Policy) { p.Selector = ssh; p.Target = TargetPeer; p.Selector.DSCP = []uint8{2} }),
		pol("both", func(p *Policy) { p.Selector = ssh; p.Target = TargetBoth }),
	)}, []PathInfo{wifi}, now, nil)
	names := func(frs []FilterRule) (s []string) {
		for _, fr := range frs {
			s = append(s, fr.Ref.Policy)
		}
		return s
	}
	if got := names(res.Local()); !slices.Equal(got, []string{"local", "both"}) {
		t.Errorf("Local = %v", got)
	}
	peer := res.Peer()
	if got := names(peer); !slices.Equal(got, []string{"peer", "both"}) {
		t.Errorf("Peer = %v", got)
	}
	for _, fr := range peer {
		s := fr.Selector
		if len(s.Dst) != 1 || s.Dst[0] != ssh.Src[0] || len(s.Src) != 0 || len(s.SrcPorts) != 1 || s.SrcPorts[0] != (PortRange{22, 22}) || len(s.DstPorts) != 0 {
			t.Errorf("peer selector not mirrored: %+v", s)
		}
	}
	if res.Rules[1].Selector.Src == nil {
		t.Error("Peer changed the resolution's rules")
	}
	tab, err := Compile(peer)
	if err != nil {
		t.Fatal(err)
	}
	reply := Parsed{Version: 6, Proto: 6, Src: srv6, Dst: netip.MustParseAddr("fd00:10::2"), SrcPort: 22, DstPort: 40000}
	if d := tab.Lookup(&reply); d.Rule != 1 || d.BIDs[0] != wifi.BID {
		t.Errorf("the home agent's table gives the reply %+v", d)
	}
}

// TestPaper: the filter-rule examples of the paper (§4.1) as policies:
// SSH from the prefix on one kind of path, everything else from the prefix
// on another, without naming either.
func TestPaper(t *testing.T) {
	rules := mustParse(t, "paper.toml", readTestdata(t, "policies/paper.toml"))
	res := Resolve([]PolicySet{{Requester: "user", Rules: rules}}, []PathInfo{
		{BID: 10, Name: "wlan0", Up: true, RTT: 30 * ms, Tags: []string{"wifi"}},
		{BID: 20, Name: "wwan0", Up: true, RTT: 80 * ms, Tags: []string{"lte"}},
	}, now, nil)
	checkSummary(t, summary(res), []string{"user/mobile-network/ssh single [10]", "user/mobile-network/rest single [20]"})
	tab, err := Compile(res.Local())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		p    Parsed
		bid  paths.BID
	}{
		{"ssh", Parsed{Version: 6, Proto: 6, Src: netip.MustParseAddr("2001:db8:0:f011::5"), Dst: srv6, SrcPort: 50000, DstPort: 22}, 10},
		{"web", Parsed{Version: 6, Proto: 6, Src: netip.MustParseAddr("2001:db8:0:f011::5"), Dst: srv6, SrcPort: 50000, DstPort: 443}, 20},
		{"udp to 22", Parsed{Version: 6, Proto: 17, Src: netip.MustParseAddr("2001:db8:0:f011::5"), Dst: srv6, SrcPort: 50000, DstPort: 22}, 20},
		{"other prefix", Parsed{Version: 6, Proto: 6, Src: lan6, Dst: srv6, SrcPort: 50000, DstPort: 22}, 0},
	} {
		d := tab.Lookup(&tc.p)
		var got paths.BID
		if d.N > 0 {
			got = d.BIDs[0]
		}
		if got != tc.bid {
			t.Errorf("%s: BID %v, want %v (%+v)", tc.name, got, tc.bid, d)
		}
	}
}

func TestResolutionJSON(t *testing.T) {
	rules := mustParse(t, "paper.toml", readTestdata(t, "policies/paper.toml"))
	res := Resolve([]PolicySet{{Requester: "user", Rules: rules}}, []PathInfo{wifi}, now, nil)
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back Resolution
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"selector":{"src":["2001:db8:0:f011::/64"],"dst_ports":["22"],"proto":["tcp"]}`) ||
		!strings.Contains(string(b), `"mode":"single","bids":[10]`) || !strings.Contains(string(b), `"target":"local"`) {
		t.Errorf("JSON not as readable as expected: %s", b)
	}
}

// A router's default_prefer ranks the paths of policies that state no
// preference; a policy's own prefer still wins.
func TestResolveWithDefaultPrefer(t *testing.T) {
	cheapSlow := with(wifi, func(p *PathInfo) { p.RTT = 300 * ms })
	sets := []PolicySet{set("a",
		pol("any", func(p *Policy) { p.Selector.DSCP = []uint8{1} }),
		pol("cost", func(p *Policy) { p.Selector.DSCP = []uint8{2}; p.Action.Prefer = []Criterion{CriterionCost} }),
	)}
	for _, tc := range []struct {
		name   string
		prefer []Criterion
		want   []string
	}{
		{"built-in: cost then delay", nil, []string{"a/r/any single [10,20]", "a/r/cost single [10,20]"}},
		{"delay first", []Criterion{CriterionDelay}, []string{"a/r/any single [20,10]", "a/r/cost single [10,20]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := summary(ResolveWith(tc.prefer, sets, []PathInfo{cheapSlow, lte}, time.Unix(0, 0), nil))
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
