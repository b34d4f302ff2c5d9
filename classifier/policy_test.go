// SPDX-License-Identifier: MIT

package classifier

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestJSON: the model marshals to readable JSON (prefixes, durations,
// modes and protocols as strings) and reads back to the same values.
func TestJSON(t *testing.T) {
	p := Policy{
		Name:   "ssh",
		Target: TargetBoth,
		Selector: Selector{
			Src: []netip.Prefix{pfx("fd00:10::/64")}, Dst: []netip.Prefix{pfx("198.18.20.0/24")},
			SrcPorts: []PortRange{{1024, 65535}}, DstPorts: []PortRange{{22, 22}},
			Proto: []uint8{6, 47}, DSCP: []uint8{46}, FlowLabel: []uint32{7},
		},
		Action: Action{MaxDelay: 50 * ms, MaxJitter: 5 * ms, MaxLoss: 0.02, MinBandwidth: 1.5e6, MaxCost: 0,
			Require: []string{"wifi"}, Forbid: []string{"satellite"}, Prefer: []Criterion{CriterionDelay, CriterionBandwidth}},
		Mode: ModeRedundant, Copies: 3, Priority: -2, Lifetime: 90 * time.Second,
		Expires: time.Date(2026, 1, 1, 0, 1, 30, 0, time.UTC), Strict: true,
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"target":"both"`, `"src":["fd00:10::/64"]`, `"src_ports":["1024-65535"]`, `"dst_ports":["22"]`,
		`"proto":["tcp","gre"]`, `"dscp":[46]`, `"flow_label":[7]`, `"max_delay":"50ms"`, `"max_jitter":"5ms"`,
		`"max_loss":0.02`, `"min_bandwidth":"1.5Mbit"`, `"max_cost":0`, `"metered":false`,
		`"prefer":["delay","bandwidth"]`, `"mode":"redundant"`, `"copies":3`, `"lifetime":"1m30s"`,
		`"expires":"2026-01-01T00:01:30Z"`, `"strict":true`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
	var back Policy
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("round trip:\n%+v\n%+v", back, p)
	}

	// Limits that are not set are left out, and read back as not set.
	b, _ = json.Marshal(DefaultAction())
	if string(b) != `{"metered":true}` {
		t.Errorf("DefaultAction = %s", b)
	}
	var a Action
	if err := json.Unmarshal([]byte(`{}`), &a); err != nil || !reflect.DeepEqual(a, DefaultAction()) {
		t.Errorf("{} reads as %+v, %v", a, err)
	}
	var q Policy
	if err := json.Unmarshal([]byte(`{"name":"p"}`), &q); err != nil || !reflect.DeepEqual(q.Action, DefaultAction()) {
		t.Errorf("a policy without action reads as %+v, %v", q, err)
	}

	pi := with(lte, func(p *PathInfo) { p.CapReached = true })
	b, _ = json.Marshal(pi)
	if !strings.Contains(string(b), `"rtt":"60ms","jitter":"8ms"`) || !strings.Contains(string(b), `"cap_reached":true`) {
		t.Errorf("PathInfo JSON %s", b)
	}
	var pb PathInfo
	if err := json.Unmarshal(b, &pb); err != nil || !reflect.DeepEqual(pb, pi) {
		t.Errorf("PathInfo round trip %+v, %v", pb, err)
	}

	for _, bad := range []string{
		`{"mode":"fast"}`, `{"target":"remote"}`, `{"action":{"prefer":["speed"]}}`, `{"selector":{"proto":["tpc"]}}`,
		`{"selector":{"dscp":[64]}}`, `{"selector":{"dst_ports":["9-1"]}}`, `{"action":{"max_delay":"soon"}}`,
		`{"action":{"min_bandwidth":"1MB"}}`, `{"lifetime":"forever"}`,
	} {
		var p Policy
		if err := json.Unmarshal([]byte(bad), &p); err == nil {
			t.Errorf("%s: accepted as %+v", bad, p)
		}
	}
	if _, err := json.Marshal(Policy{Mode: 7}); err == nil {
		t.Error("an invalid mode marshals")
	}
}

func TestEnumStrings(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{name: "target", got: TargetPeer.String(), want: "peer"},
		{name: "bad target", got: Target(9).String(), want: "target(9)"},
		{name: "mode", got: ModeStripe.String(), want: "stripe"},
		{name: "criterion", got: CriterionJitter.String(), want: "jitter"},
		{name: "port", got: PortRange{80, 80}.String(), want: "80"},
		{name: "range", got: PortRange{1, 1023}.String(), want: "1-1023"},
		{name: "proto", got: formatProto(136), want: "udplite"},
		{name: "unnamed proto", got: formatProto(99), want: "99"},
		{name: "bandwidth", got: formatBandwidth(2.5e9), want: "2.5Gbit"},
		{name: "small bandwidth", got: formatBandwidth(999), want: "999bit"},
		{name: "odd bandwidth", got: formatBandwidth(1234567.5), want: "1234567.5bit"},
		{name: "loss", got: formatLoss(0.025), want: "2.5%"},
		{name: "ref", got: PolicyRef{Requester: "a", Rule: "b", Policy: "c"}.String(), want: "a/b/c"},
		{name: "error", got: (&PolicyError{Ref: PolicyRef{Requester: "a", Rule: "b", Policy: "c"}, Msg: "m"}).Error(), want: "a/b/c: m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestSelectorMatches(t *testing.T) {
	tcp := Parsed{Version: 4, Proto: 6, Src: lan4, Dst: srv4, SrcPort: 40000, DstPort: 443, DSCP: 10}
	tests := []struct {
		name string
		s    Selector
		p    Parsed
		want bool
	}{
		{name: "any", s: Selector{}, p: tcp, want: true},
		{name: "src", s: Selector{Src: []netip.Prefix{pfx("198.18.10.0/24")}}, p: tcp, want: true},
		{name: "src of another family", s: Selector{Src: []netip.Prefix{pfx("fd00::/8")}}, p: tcp, want: false},
		{name: "any-of", s: Selector{Dst: []netip.Prefix{pfx("fd00::/8"), pfx("198.18.20.2/32")}}, p: tcp, want: true},
		{name: "port range", s: Selector{DstPorts: []PortRange{{400, 500}}}, p: tcp, want: true},
		{name: "ports and proto", s: Selector{Proto: []uint8{17}, DstPorts: []PortRange{{443, 443}}}, p: tcp, want: false},
		{name: "src ports", s: Selector{SrcPorts: []PortRange{{1, 1023}}}, p: tcp, want: false},
		{name: "dscp", s: Selector{DSCP: []uint8{10}}, p: tcp, want: true},
		{name: "flow label on ipv4", s: Selector{FlowLabel: []uint32{0}}, p: tcp, want: false},
		{name: "flow label", s: Selector{FlowLabel: []uint32{5}},
			p: Parsed{Version: 6, Src: lan6, Dst: srv6, FlowLabel: 5}, want: true},
		{name: "echo id is no port", s: Selector{DstPorts: []PortRange{{7, 7}}},
			p: Parsed{Version: 4, Proto: 1, Src: lan4, Dst: srv4, SrcPort: 7, DstPort: 7}, want: false},
		{name: "fragment has no ports", s: Selector{DstPorts: []PortRange{{0, 0}}},
			p: Parsed{Version: 4, Proto: 6, Src: lan4, Dst: srv4, Fragment: true}, want: false},
		{name: "invalid packet", s: Selector{}, p: Parsed{}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Matches(&tc.p); got != tc.want {
				t.Errorf("Matches = %v, want %v", got, tc.want)
			}
		})
	}
	s := Selector{Src: []netip.Prefix{pfx("198.18.10.0/24")}, DstPorts: []PortRange{{443, 443}}}
	reply := Parsed{Version: 4, Proto: 6, Src: srv4, Dst: lan4, SrcPort: 443, DstPort: 40000}
	if r := s.Reverse(); !r.Matches(&reply) || s.Matches(&reply) || !s.Matches(&tcp) {
		t.Errorf("Reverse: %+v", r)
	}
}
