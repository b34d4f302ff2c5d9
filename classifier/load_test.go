// SPDX-License-Identifier: MIT

package classifier

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"monami/configs"
)

var loadTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func mustParse(t testing.TB, name string, src []byte) []Rule {
	t.Helper()
	rules, err := ParsePoliciesAt(name, src, loadTime)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return rules
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// act returns DefaultAction changed by f.
func act(f func(*Action)) Action {
	a := DefaultAction()
	if f != nil {
		f(&a)
	}
	return a
}

func TestParsePoliciesFull(t *testing.T) {
	rules := mustParse(t, "full.toml", readTestdata(t, "policies/full.toml"))
	want := []Rule{
		{
			Name: "ssh-when-wifi",
			When: []Condition{{Exists: true, Match: act(func(a *Action) { a.Require = []string{"wifi"} })}},
			Policies: []Policy{{
				Name:   "ssh",
				Target: TargetBoth,
				Selector: Selector{
					Src:      []netip.Prefix{pfx("2001:db8:0:f011::/64")},
					Proto:    []uint8{6},
					DstPorts: []PortRange{{22, 22}, {8000, 8080}},
				},
				Action: Action{
					MaxDelay: 50 * time.Millisecond, MaxLoss: 0.02, MinBandwidth: 1e6, MaxCost: 0.5,
					Require: []string{"wifi"}, Forbid: []string{"satellite"},
					Prefer: []Criterion{CriterionDelay, CriterionCost},
				},
				Priority: 10,
				Lifetime: 10 * time.Minute,
				Expires:  loadTime.Add(10 * time.Minute),
			}},
		},
		{
			Name: "voice",
			Policies: []Policy{
				{
					Name: "rtp",
					Selector: Selector{
						Dst:      []netip.Prefix{pfx("198.18.20.0/24"), pfx("fd00:20::/64")},
						Proto:    []uint8{17},
						SrcPorts: []PortRange{{16384, 32767}},
						DSCP:     []uint8{46},
					},
					Action: act(func(a *Action) { a.MaxDelay, a.MaxJitter = 75*time.Millisecond, 20*time.Millisecond }),
					Mode:   ModeRedundant,
					Copies: 2,
				},
				{
					Name:     "labelled",
					Selector: Selector{FlowLabel: []uint32{4711, 0x1234}},
					Action:   act(func(a *Action) { a.Prefer = []Criterion{CriterionBandwidth} }),
					Mode:     ModeStripe,
				},
			},
		},
		{
			Name: "no-wifi",
			When: []Condition{
				{Exists: false, Match: act(func(a *Action) { a.Require = []string{"wifi"} })},
				{Exists: true, Match: act(func(a *Action) { a.AllowMetered, a.MaxCost = false, 0 })},
			},
			Policies: []Policy{
				{
					Name:     "bulk",
					Target:   TargetPeer,
					Selector: Selector{DstPorts: []PortRange{{873, 873}, {6881, 6889}}},
					Action:   act(func(a *Action) { a.Forbid, a.AllowMetered = []string{"satellite"}, false }),
					Strict:   true,
				},
				{
					Name:     "block-telnet",
					Selector: Selector{Proto: []uint8{6}, DstPorts: []PortRange{{23, 23}}},
					Action:   DefaultAction(),
					Mode:     ModeDrop,
				},
			},
		},
	}
	if !reflect.DeepEqual(rules, want) {
		g, _ := json.MarshalIndent(rules, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("got\n%s\nwant\n%s", g, w)
	}
}

// TestPolicyFiles: every policy file in testdata parses.
func TestPolicyFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/policies/*.toml")
	if len(files) < 3 {
		t.Fatalf("policy examples: %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rules := mustParse(t, f, b)
			if len(rules) == 0 {
				t.Fatal("no rules")
			}
		})
	}
}

// errorsOf returns the *configs.Error values of err, failing on anything
// else.
func errorsOf(t *testing.T, err error) []*configs.Error {
	t.Helper()
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var out []*configs.Error
	for _, e := range errs {
		ce, ok := e.(*configs.Error)
		if !ok {
			t.Fatalf("%T in the error: %v", e, e)
		}
		out = append(out, ce)
	}
	return out
}

func TestParsePoliciesErrors(t *testing.T) {
	const head = "[[rule]]\nname = \"r\"\n[[rule.policy]]\nname = \"p\"\n" // the policy's keys start on line 5
	tests := []struct {
		name string
		src  string
		// want lists "line key: message fragment" of every error, in order.
		want []string
	}{
		{name: "syntax", src: "[[rule]\n", want: []string{"2 : expected"}},
		{name: "bid is not a policy key (R1.2)", src: head + "bid = 10\n",
			want: []string{"5 rule[0].policy[0].bid: never a path or an interface"}},
		{name: "interface is not a policy key (R1.2)", src: head + "interface = \"wlan0\"\n",
			want: []string{"5 rule[0].policy[0].interface: never a path or an interface"}},
		{name: "nearest key", src: head + "max_dealy = \"5ms\"\n",
			want: []string{"5 rule[0].policy[0].max_dealy: did you mean max_delay?"}},
		{name: "alias", src: head + "dport = 22\n", want: []string{"5 rule[0].policy[0].dport: did you mean dst_ports?"}},
		{name: "unknown root key", src: "foo = 1\n", want: []string{"1 foo: valid keys here: rule"}},
		{name: "policy outside a rule", src: "[[policy]]\nname = \"p\"\n", want: []string{"1 policy: policies go inside a rule"}},
		{name: "policy key in a rule", src: "[[rule]]\nname = \"r\"\nsrc = \"fd00::/8\"\n[[rule.policy]]\nname = \"p\"\n",
			want: []string{"3 rule[0].src: belongs in a [[rule.policy]]"}},
		{name: "mode in a condition", src: "[[rule]]\nname = \"r\"\n[[rule.when]]\nmode = \"drop\"\n[[rule.policy]]\nname = \"p\"\n",
			want: []string{"4 rule[0].when[0].mode: belongs in a [[rule.policy]]"}},
		{name: "wrong type", src: head + "max_delay = 50\n",
			want: []string{"5 rule[0].policy[0].max_delay: must be a duration string like \"50ms\", not an integer"}},
		{name: "bad duration", src: head + "max_delay = \"fast\"\n", want: []string{"5 rule[0].policy[0].max_delay: not a duration"}},
		{name: "zero duration", src: head + "max_jitter = \"0s\"\n", want: []string{"5 rule[0].policy[0].max_jitter: more than 0"}},
		{name: "loss over 100%", src: head + "max_loss = \"120%\"\n", want: []string{"5 rule[0].policy[0].max_loss: 0%..100%"}},
		{name: "loss ratio over 1", src: head + "max_loss = 2\n", want: []string{"5 rule[0].policy[0].max_loss: valid: 0..1"}},
		{name: "loss without percent sign", src: head + "max_loss = \"2\"\n", want: []string{"5 rule[0].policy[0].max_loss: percentage"}},
		{name: "bandwidth in bytes", src: head + "min_bandwidth = \"1MB\"\n", want: []string{"5 rule[0].policy[0].min_bandwidth: bits per second"}},
		{name: "bandwidth unit", src: head + "min_bandwidth = \"1 furlong\"\n", want: []string{"5 rule[0].policy[0].min_bandwidth: unknown unit"}},
		{name: "negative cost", src: head + "max_cost = -1\n", want: []string{"5 rule[0].policy[0].max_cost: >= 0"}},
		{name: "nan cost", src: head + "max_cost = nan\n", want: []string{"5 rule[0].policy[0].max_cost: >= 0"}},
		{name: "bad prefix", src: head + "src = \"fd00::/200\"\n", want: []string{"5 rule[0].policy[0].src: not a prefix"}},
		{name: "host bits", src: head + "src = [\"fd00::/64\", \"fd00:1::1/64\"]\n",
			want: []string{"5 rule[0].policy[0].src[1]: did you mean fd00:1::/64?"}},
		{name: "mapped prefix", src: head + "dst = \"::ffff:198.18.0.0/111\"\n", want: []string{"5 rule[0].policy[0].dst: IPv4 form"}},
		{name: "no common family", src: head + "src = \"198.18.0.0/15\"\ndst = \"fd00::/8\"\n",
			want: []string{"6 rule[0].policy[0].dst: no address family in common"}},
		{name: "flow label with ipv4", src: head + "src = \"198.18.0.0/15\"\nflow_label = 1\n",
			want: []string{"6 rule[0].policy[0].flow_label: IPv6 only"}},
		{name: "port out of range", src: head + "dst_ports = [22, 70000]\n", want: []string{"5 rule[0].policy[0].dst_ports[1]: valid: 0..65535"}},
		{name: "backwards range", src: head + "dst_ports = \"90-80\"\n", want: []string{"5 rule[0].policy[0].dst_ports: runs backwards; write 80-90"}},
		{name: "ports without port protocol", src: head + "proto = \"icmp\"\ndst_ports = 7\n",
			want: []string{"6 rule[0].policy[0].dst_ports: ports need proto tcp"}},
		{name: "unknown protocol", src: head + "proto = \"tpc\"\n", want: []string{"5 rule[0].policy[0].proto: unknown protocol \"tpc\""}},
		{name: "protocol listed twice", src: head + "proto = [\"tcp\", 6]\n", want: []string{"5 rule[0].policy[0].proto[1]: listed twice"}},
		{name: "dscp", src: head + "dscp = [64, \"af44\"]\n",
			want: []string{"5 rule[0].policy[0].dscp[0]: valid: 0..63", "5 rule[0].policy[0].dscp[1]: not a DSCP"}},
		{name: "flow label", src: head + "flow_label = 1048576\n", want: []string{"5 rule[0].policy[0].flow_label: 20 bits"}},
		{name: "empty list", src: head + "src = []\n", want: []string{"5 rule[0].policy[0].src: is empty"}},
		{name: "bad target", src: head + "target = \"remote\"\n", want: []string{"5 rule[0].policy[0].target: valid: local"}},
		{name: "bad mode", src: head + "mode = \"fast\"\n", want: []string{"5 rule[0].policy[0].mode: valid: single, stripe, redundant, drop"}},
		{name: "copies without redundant", src: head + "copies = 3\n", want: []string{"5 rule[0].policy[0].copies: only to mode = \"redundant\""}},
		{name: "too many copies", src: head + "mode = \"redundant\"\ncopies = 9\n", want: []string{"6 rule[0].policy[0].copies: valid: 1..8"}},
		{name: "drop with limits", src: head + "mode = \"drop\"\nmax_delay = \"5ms\"\n",
			want: []string{"6 rule[0].policy[0].max_delay: has no effect"}},
		{name: "bad criterion", src: head + "prefer = [\"speed\"]\n", want: []string{"5 rule[0].policy[0].prefer[0]: valid: cost, delay"}},
		{name: "criterion twice", src: head + "prefer = [\"cost\", \"cost\"]\n", want: []string{"5 rule[0].policy[0].prefer[1]: listed twice"}},
		{name: "tag required and forbidden", src: head + "require_tags = [\"a\"]\nforbid_tags = [\"a\"]\n",
			want: []string{"6 rule[0].policy[0].forbid_tags[0]: both required and forbidden"}},
		{name: "tags and require_tags", src: head + "tags = [\"a\"]\nrequire_tags = [\"b\"]\n",
			want: []string{"5 rule[0].policy[0].tags: another name for require_tags"}},
		{name: "bad tag", src: head + "tags = [\"wi fi\"]\n", want: []string{"5 rule[0].policy[0].tags[0]: not a tag"}},
		{name: "priority range", src: head + "priority = 4294967296\n", want: []string{"5 rule[0].policy[0].priority: out of range"}},
		{name: "bad name", src: "[[rule]]\nname = \"a b\"\n[[rule.policy]]\nname = \"p\"\n", want: []string{"2 rule[0].name: not a valid name"}},
		{name: "long name", src: "[[rule]]\nname = \"" + strings.Repeat("x", 65) + "\"\n[[rule.policy]]\nname = \"p\"\n",
			want: []string{"2 rule[0].name: 1..64 characters"}},
		{name: "missing names", src: "[[rule]]\n[[rule.policy]]\nmode = \"drop\"\n",
			want: []string{"1 rule[0]: a rule needs a name", "2 rule[0].policy[0]: a policy needs a name"}},
		{name: "duplicate rule names", src: "[[rule]]\nname = \"r\"\n[[rule.policy]]\nname = \"p\"\n[[rule]]\nname = \"r\"\n[[rule.policy]]\nname = \"p\"\n",
			want: []string{"6 rule[1].name: already used by rule[0]"}},
		{name: "duplicate policy names", src: head + "[[rule.policy]]\nname = \"p\"\n",
			want: []string{"6 rule[0].policy[1].name: already used by rule[0].policy[0]"}},
		{name: "rule without policies", src: "[[rule]]\nname = \"r\"\n", want: []string{"1 rule[0]: at least one"}},
		{name: "rule is a table", src: "[rule]\nname = \"r\"\n", want: []string{"1 rule: must be an array of tables"}},
		{name: "condition is a value", src: "[[rule]]\nname = \"r\"\nwhen = 1\n[[rule.policy]]\nname = \"p\"\n",
			want: []string{"3 rule[0].when: must be an array of tables"}},
		{name: "condition bad value", src: "[[rule]]\nname = \"r\"\n[[rule.when]]\nexists = \"yes\"\nmax_delay = \"x\"\n[[rule.policy]]\nname = \"p\"\n",
			want: []string{"4 rule[0].when[0].exists: true or false", "5 rule[0].when[0].max_delay: not a duration"}},
		{name: "every error at once", src: head + "max_dealy = 1\nbid = 2\nmax_loss = \"x\"\n[[rule.policy]]\nname = \"p\"\nproto = \"x\"\n",
			want: []string{
				"5 rule[0].policy[0].max_dealy: did you mean max_delay?",
				"6 rule[0].policy[0].bid: never a path",
				"7 rule[0].policy[0].max_loss: not a loss",
				"9 rule[0].policy[1].name: already used",
				"10 rule[0].policy[1].proto: unknown protocol",
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := ParsePoliciesAt("p.toml", []byte(tc.src), loadTime)
			if err == nil {
				t.Fatalf("accepted: %+v", rules)
			}
			if rules != nil {
				t.Errorf("rules returned with an error")
			}
			errs := errorsOf(t, err)
			var got []string
			for _, e := range errs {
				if e.File != "p.toml" {
					t.Errorf("error without the file: %v", e)
				}
				got = append(got, strings.TrimSpace(strings.Join([]string{strconv.Itoa(e.Line), e.Key + ":", e.Msg}, " ")))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i, w := range tc.want {
				lineKey, frag, _ := strings.Cut(w, ": ")
				if !strings.HasPrefix(got[i], lineKey+":") || !strings.Contains(got[i], frag) {
					t.Errorf("error %d = %q, want %q", i, got[i], w)
				}
			}
			var ce *configs.Error
			if !errors.As(err, &ce) {
				t.Error("errors.As finds no *configs.Error")
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		name string
		key  string // one line of a policy
		want func(*Policy) bool
	}{
		{name: "loss percent", key: `max_loss = "0.5%"`, want: func(p *Policy) bool { return p.Action.MaxLoss == 0.005 }},
		{name: "loss ratio", key: `max_loss = 0.02`, want: func(p *Policy) bool { return p.Action.MaxLoss == 0.02 }},
		{name: "loss zero integer", key: `max_loss = 0`, want: func(p *Policy) bool { return p.Action.MaxLoss == 0 }},
		{name: "bandwidth kbit", key: `min_bandwidth = "500kbit"`, want: func(p *Policy) bool { return p.Action.MinBandwidth == 5e5 }},
		{name: "bandwidth Gbps", key: `min_bandwidth = "1.5 Gbps"`, want: func(p *Policy) bool { return p.Action.MinBandwidth == 1.5e9 }},
		{name: "bandwidth number", key: `min_bandwidth = 64000`, want: func(p *Policy) bool { return p.Action.MinBandwidth == 64000 }},
		{name: "cost integer", key: `max_cost = 0`, want: func(p *Policy) bool { return p.Action.MaxCost == 0 }},
		{name: "no cost limit", key: `strict = false`, want: func(p *Policy) bool { return p.Action.MaxCost < 0 && p.Action.MaxLoss < 0 }},
		{name: "address as prefix", key: `src = "fd00::1"`, want: func(p *Policy) bool { return p.Selector.Src[0] == pfx("fd00::1/128") }},
		{name: "ipv4 address", key: `dst = "198.18.0.1"`, want: func(p *Policy) bool { return p.Selector.Dst[0] == pfx("198.18.0.1/32") }},
		{name: "dscp names", key: `dscp = ["af41", "cs6", "le", 0]`,
			want: func(p *Policy) bool { return reflect.DeepEqual(p.Selector.DSCP, []uint8{34, 48, 1, 0}) }},
		{name: "protocol names", key: `proto = ["UDP", "icmpv6", "sctp", "47"]`,
			want: func(p *Policy) bool { return reflect.DeepEqual(p.Selector.Proto, []uint8{17, 58, 132, 47}) }},
		{name: "redundant copies default", key: `mode = "redundant"`, want: func(p *Policy) bool { return p.Copies == 2 }},
		{name: "metered default", key: `priority = -5`, want: func(p *Policy) bool { return p.Action.AllowMetered && p.Priority == -5 }},
		{name: "no lifetime", key: `strict = true`, want: func(p *Policy) bool { return p.Expires.IsZero() && p.Strict }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "[[rule]]\nname = \"r\"\n[[rule.policy]]\nname = \"p\"\n" + tc.key + "\n"
			rules := mustParse(t, "p.toml", []byte(src))
			if p := &rules[0].Policies[0]; !tc.want(p) {
				b, _ := json.Marshal(p)
				t.Errorf("%s gave %s", tc.key, b)
			}
		})
	}
}

// checkParsePolicies asserts the loader's contract on any input: rules
// that pass the model's checks, or only *configs.Error values naming the
// file, reported the same way twice.
func checkParsePolicies(t *testing.T, b []byte) {
	rules, err := ParsePoliciesAt("f.toml", b, loadTime)
	if err == nil {
		for ri := range rules {
			for ci := range rules[ri].When {
				if errs := checkCondition(&rules[ri].When[ci]); len(errs) > 0 {
					t.Fatalf("accepted an invalid condition: %v", errs)
				}
			}
			for pi := range rules[ri].Policies {
				if errs := checkPolicy(&rules[ri].Policies[pi]); len(errs) > 0 {
					t.Fatalf("accepted an invalid policy: %v", errs)
				}
			}
		}
		// The JSON form reads back to the same rules.
		j, err := json.Marshal(rules)
		if err != nil {
			t.Fatal(err)
		}
		var back []Rule
		if err := json.Unmarshal(j, &back); err != nil {
			t.Fatalf("%s: %v", j, err)
		}
		if len(rules) > 0 && !reflect.DeepEqual(back, rules) {
			t.Fatalf("JSON round trip:\n%s\n%+v\n%+v", j, back, rules)
		}
		// Resolution never fails on what the loader accepts.
		Resolve([]PolicySet{{Requester: "fuzz", Rules: rules}}, fuzzPaths, loadTime, nil)
		return
	}
	if rules != nil {
		t.Fatal("rules returned with an error")
	}
	errs := errorsOf(t, err)
	for _, e := range errs {
		if e.File != "f.toml" || e.Msg == "" || e.Line < 0 {
			t.Fatalf("malformed error %#v", e)
		}
	}
	if _, again := ParsePoliciesAt("f.toml", b, loadTime); again == nil || again.Error() != err.Error() {
		t.Fatalf("two reports of one input:\n%v\n%v", err, again)
	}
}

var fuzzPaths = []PathInfo{
	{BID: 1, Name: "wifi", Up: true, RTT: 20 * time.Millisecond, Capacity: 50e6, Tags: []string{"wifi"}},
	{BID: 2, Name: "lte", Up: true, RTT: 60 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.01, Metered: true, CostPerGB: 2},
}

func FuzzParsePolicies(f *testing.F) {
	// The seeds are in testdata/fuzz/FuzzParsePolicies: the example files
	// without comments and indentation (short seeds keep the minimization
	// of new inputs short), and the loader's error cases.
	f.Fuzz(func(t *testing.T, b []byte) {
		checkParsePolicies(t, b)
	})
}
