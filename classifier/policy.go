// SPDX-License-Identifier: MIT

package classifier

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"monami/paths"
)

// This file holds the policy model (paper §5.1): what a requester writes.
// A policy names the characteristics a flow needs, never a BID or an
// interface (R1.2); resolve.go turns policies into FilterRules, table.go
// compiles those into the lookup table.

// PathInfo is what resolution knows of one path: the output of the path
// characteristics examiner (paper module B). It is a plain value.
type PathInfo struct {
	// BID names the path. Paths with BID 0 are ignored, and of two with
	// the same BID the first is used.
	BID paths.BID `json:"bid"`
	// Name is the uplink's name, used in messages only: policies never
	// match it.
	Name string `json:"name,omitempty"`
	// Up reports whether the path carries traffic.
	Up bool `json:"up"`
	// RTT and Jitter are the smoothed round-trip time and its variation;
	// 0 means not measured yet. The one-way delay policies limit is
	// estimated as RTT/2.
	RTT, Jitter time.Duration `json:"-"`
	// Loss is the measured loss ratio, 0..1. It counts as measured once
	// RTT is.
	Loss float64 `json:"loss"`
	// Capacity is the estimated capacity in bit/s; 0 means unknown.
	Capacity float64 `json:"capacity,omitempty"`
	// CostPerGB is the configured cost of a gigabyte on this path, in the
	// operator's currency.
	CostPerGB float64 `json:"cost_per_gb,omitempty"`
	// Metered marks a path billed by volume.
	Metered bool `json:"metered,omitempty"`
	// CapReached marks a path at its data cap: it is demoted, used only if
	// no other path is Up.
	CapReached bool `json:"cap_reached,omitempty"`
	// Tags are the operator's labels ("wifi", "satellite").
	Tags []string `json:"tags,omitempty"`
}

// MarshalJSON writes RTT and Jitter as duration strings ("12ms").
func (pi PathInfo) MarshalJSON() ([]byte, error) {
	type plain PathInfo
	return json.Marshal(struct {
		plain
		RTT    jsonDuration `json:"rtt,omitzero"`
		Jitter jsonDuration `json:"jitter,omitzero"`
	}{plain(pi), jsonDuration(pi.RTT), jsonDuration(pi.Jitter)})
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (pi *PathInfo) UnmarshalJSON(b []byte) error {
	type plain PathInfo
	var v struct {
		plain
		RTT    jsonDuration `json:"rtt"`
		Jitter jsonDuration `json:"jitter"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*pi = PathInfo(v.plain)
	pi.RTT, pi.Jitter = time.Duration(v.RTT), time.Duration(v.Jitter)
	return nil
}

// name returns the path's name for messages.
func (pi *PathInfo) name() string {
	if pi.Name != "" {
		return pi.Name
	}
	return "bid " + pi.BID.String()
}

// Target says where a policy applies: on the mobile router's uplink
// (local), at the home agent for the downlink (peer), or both. The zero
// value is TargetLocal.
type Target uint8

// Targets (TOML "local", "peer", "both").
const (
	TargetLocal Target = iota
	TargetPeer
	TargetBoth
)

var targetNames = [...]string{"local", "peer", "both"}

func (t Target) String() string { return enumString(targetNames[:], uint8(t), "target") }

// MarshalText returns the TOML name of t.
func (t Target) MarshalText() ([]byte, error) { return enumText(targetNames[:], uint8(t), "target") }

// UnmarshalText parses a TOML name.
func (t *Target) UnmarshalText(b []byte) error {
	return enumParse(targetNames[:], string(b), "target", (*uint8)(t))
}

// local and peer report whether t applies on the mobile router and at the
// home agent.
func (t Target) local() bool { return t != TargetPeer }
func (t Target) peer() bool  { return t != TargetLocal }

// Mode is what the data path does with a flow's packets. The zero value is
// ModeSingle.
type Mode uint8

// Modes (TOML "single", "stripe", "redundant", "drop").
const (
	// ModeSingle pins each flow to the first Up BID of the decision; the
	// rest is the failover order.
	ModeSingle Mode = iota
	// ModeStripe spreads the flows of a rule over all its BIDs in
	// proportion to their weights, each flow on one path (a flow-hash
	// pick). Spreading one flow's packets, with a reorder buffer at the
	// receiver, is not built yet.
	ModeStripe
	// ModeRedundant sends a copy of every packet on each BID; the first
	// copy to arrive wins.
	ModeRedundant
	// ModeDrop drops the flow.
	ModeDrop
)

var modeNames = [...]string{"single", "stripe", "redundant", "drop"}

func (m Mode) String() string { return enumString(modeNames[:], uint8(m), "mode") }

// MarshalText returns the TOML name of m.
func (m Mode) MarshalText() ([]byte, error) { return enumText(modeNames[:], uint8(m), "mode") }

// UnmarshalText parses a TOML name.
func (m *Mode) UnmarshalText(b []byte) error {
	return enumParse(modeNames[:], string(b), "mode", (*uint8)(m))
}

// Criterion is one measure by which satisfying paths are ranked.
type Criterion uint8

// Criteria (TOML "cost", "delay", "jitter", "loss", "bandwidth"). Lower is
// better, except for bandwidth; an unmeasured value ranks last.
const (
	CriterionCost Criterion = iota
	CriterionDelay
	CriterionJitter
	CriterionLoss
	CriterionBandwidth
)

var criterionNames = [...]string{"cost", "delay", "jitter", "loss", "bandwidth"}

func (c Criterion) String() string { return enumString(criterionNames[:], uint8(c), "criterion") }

// MarshalText returns the TOML name of c.
func (c Criterion) MarshalText() ([]byte, error) {
	return enumText(criterionNames[:], uint8(c), "criterion")
}

// UnmarshalText parses a TOML name.
func (c *Criterion) UnmarshalText(b []byte) error {
	return enumParse(criterionNames[:], string(b), "criterion", (*uint8)(c))
}

// defaultPrefer is the ranking used when an Action's Prefer is empty:
// cheapest first, then lowest delay.
var defaultPrefer = []Criterion{CriterionCost, CriterionDelay}

func enumString(names []string, v uint8, kind string) string {
	if int(v) < len(names) {
		return names[v]
	}
	return kind + "(" + strconv.Itoa(int(v)) + ")"
}

func enumText(names []string, v uint8, kind string) ([]byte, error) {
	if int(v) < len(names) {
		return []byte(names[v]), nil
	}
	return nil, fmt.Errorf("invalid %s %d", kind, v)
}

func enumParse(names []string, s, kind string, v *uint8) error {
	if i := slices.Index(names, s); i >= 0 {
		*v = uint8(i)
		return nil
	}
	return fmt.Errorf("unknown %s %q; valid: %s", kind, s, strings.Join(names, ", "))
}

// PortRange is an inclusive range of transport ports.
type PortRange struct{ Lo, Hi uint16 }

// MarshalText returns "22" or "8000-8080".
func (r PortRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses the form MarshalText returns.
func (r *PortRange) UnmarshalText(b []byte) error {
	v, err := parsePortRange(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

func (r PortRange) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(int(r.Lo))
	}
	return strconv.Itoa(int(r.Lo)) + "-" + strconv.Itoa(int(r.Hi))
}

func (r PortRange) contains(p uint16) bool { return r.Lo <= p && p <= r.Hi }

// size is the number of ports in r.
func (r PortRange) size() int { return int(r.Hi) - int(r.Lo) + 1 }

func parsePortRange(s string) (PortRange, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := parsePort(lo)
	if err != nil {
		return PortRange{}, err
	}
	b := a
	if isRange {
		if b, err = parsePort(hi); err != nil {
			return PortRange{}, err
		}
		if b < a {
			return PortRange{}, fmt.Errorf("range %q runs backwards; write %d-%d", s, b, a)
		}
	}
	return PortRange{a, b}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%q is not a port (0..65535) or a range of ports like 8000-8080", s)
	}
	return uint16(n), nil
}

// Selector describes a set of flows (paper §5.1). Each list is an any-of
// set and empty means any; a packet matches when it matches every list.
// Selectors describe a flow as the mobile router's side sends it (uplink):
// Src is the address on the mobile network. [Resolution.Peer] mirrors them
// for the home agent, which sees the same flows' downlink packets.
type Selector struct {
	// Src and Dst are address prefixes (masked; IPv4 prefixes in IPv4
	// form). A packet's family must match one of the listed prefixes.
	Src []netip.Prefix `json:"src,omitempty"`
	Dst []netip.Prefix `json:"dst,omitempty"`
	// SrcPorts and DstPorts are port ranges. A port constraint matches only
	// TCP, UDP, UDP-Lite and SCTP packets that carry their ports (not a
	// non-first fragment).
	SrcPorts []PortRange `json:"src_ports,omitempty"`
	DstPorts []PortRange `json:"dst_ports,omitempty"`
	// Proto lists IP protocol numbers (TOML also takes "tcp", "udp",
	// "icmp", "icmpv6", "sctp", "udplite", "gre", "esp").
	Proto []uint8 `json:"-"`
	// DSCP lists Differentiated Services code points, 0..63 (TOML also
	// takes "ef", "af11".."af43", "cs0".."cs7", "le", "va").
	DSCP []uint8 `json:"-"`
	// FlowLabel lists IPv6 flow labels (20 bits); a selector with flow
	// labels matches IPv6 packets only.
	FlowLabel []uint32 `json:"flow_label,omitempty"`
}

// protoName is an IP protocol number that marshals as its name.
type protoName uint8

var protoNames = []struct {
	name  string
	proto uint8
}{
	{"icmp", protoICMP}, {"tcp", protoTCP}, {"udp", protoUDP}, {"gre", 47}, {"esp", 50},
	{"icmpv6", protoICMPv6}, {"sctp", protoSCTP}, {"udplite", protoUDPLite},
}

func (p protoName) MarshalText() ([]byte, error) { return []byte(formatProto(uint8(p))), nil }

func (p *protoName) UnmarshalText(b []byte) error {
	v, err := parseProto(string(b))
	*p = protoName(v)
	return err
}

func formatProto(p uint8) string {
	for _, n := range protoNames {
		if n.proto == p {
			return n.name
		}
	}
	return strconv.Itoa(int(p))
}

func parseProto(s string) (uint8, error) {
	for _, n := range protoNames {
		if strings.EqualFold(n.name, s) {
			return n.proto, nil
		}
	}
	if n, err := strconv.ParseUint(s, 10, 8); err == nil {
		return uint8(n), nil
	}
	names := make([]string, len(protoNames))
	for i, n := range protoNames {
		names[i] = n.name
	}
	return 0, fmt.Errorf("unknown protocol %q; use %s or a number 0..255", s, strings.Join(names, ", "))
}

// parseDSCP parses a DSCP name (RFC 2474 class selectors, RFC 2597 AF,
// RFC 3246 EF, RFC 5865 VA, RFC 8622 LE) or a number 0..63.
func parseDSCP(s string) (uint8, error) {
	l := strings.ToLower(s)
	switch {
	case l == "ef":
		return 46, nil
	case l == "va":
		return 44, nil
	case l == "le":
		return 1, nil
	case len(l) == 3 && l[:2] == "cs" && l[2] >= '0' && l[2] <= '7':
		return (l[2] - '0') * 8, nil
	case len(l) == 4 && l[:2] == "af" && l[2] >= '1' && l[2] <= '4' && l[3] >= '1' && l[3] <= '3':
		return (l[2]-'0')*8 + (l[3]-'0')*2, nil
	}
	if n, err := strconv.ParseUint(s, 10, 8); err == nil && n <= 63 {
		return uint8(n), nil
	}
	return 0, fmt.Errorf("%q is not a DSCP; use 0..63 or ef, af11..af43, cs0..cs7, le, va", s)
}

// MarshalJSON writes protocols by name and DSCPs as numbers.
func (s Selector) MarshalJSON() ([]byte, error) {
	type plain Selector
	v := struct {
		plain
		Proto []protoName `json:"proto,omitempty"`
		DSCP  []int       `json:"dscp,omitempty"`
	}{plain: plain(s)}
	for _, p := range s.Proto {
		v.Proto = append(v.Proto, protoName(p))
	}
	for _, d := range s.DSCP {
		v.DSCP = append(v.DSCP, int(d))
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (s *Selector) UnmarshalJSON(b []byte) error {
	type plain Selector
	var v struct {
		plain
		Proto []protoName `json:"proto"`
		DSCP  []uint16    `json:"dscp"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Selector(v.plain)
	for _, p := range v.Proto {
		s.Proto = append(s.Proto, uint8(p))
	}
	for _, d := range v.DSCP {
		if d > 63 {
			return fmt.Errorf("dscp %d out of range 0..63", d)
		}
		s.DSCP = append(s.DSCP, uint8(d))
	}
	return nil
}

// isPortProto reports whether packets of protocol p carry ports first in
// their header (the ones Decode reads ports from).
func isPortProto(p uint8) bool {
	return p == protoTCP || p == protoUDP || p == protoUDPLite || p == protoSCTP
}

// Matches reports whether the packet p matches s. It is the reference
// semantics of a selector (a compiled [Table] matches the same packets) and
// does not allocate. A Parsed with addresses of no or of different
// families (one Decode did not fill) matches nothing.
func (s *Selector) Matches(p *Parsed) bool {
	if !p.Src.IsValid() || p.Src.Is4() != p.Dst.Is4() || !p.Dst.IsValid() {
		return false
	}
	if !matchPrefixes(s.Src, p.Src) || !matchPrefixes(s.Dst, p.Dst) {
		return false
	}
	if len(s.SrcPorts) > 0 || len(s.DstPorts) > 0 {
		if p.Fragment || !isPortProto(p.Proto) ||
			!matchPorts(s.SrcPorts, p.SrcPort) || !matchPorts(s.DstPorts, p.DstPort) {
			return false
		}
	}
	if len(s.Proto) > 0 && !slices.Contains(s.Proto, p.Proto) {
		return false
	}
	if len(s.DSCP) > 0 && !slices.Contains(s.DSCP, p.DSCP) {
		return false
	}
	if len(s.FlowLabel) > 0 && (!p.Src.Is6() || !slices.Contains(s.FlowLabel, p.FlowLabel)) {
		return false
	}
	return true
}

func matchPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	if len(ps) == 0 {
		return true
	}
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func matchPorts(rs []PortRange, port uint16) bool {
	if len(rs) == 0 {
		return true
	}
	for _, r := range rs {
		if r.contains(port) {
			return true
		}
	}
	return false
}

// Reverse returns s mirrored: source and destination swapped, so that it
// matches the replies of the flows s matches. The lists are shared with s.
func (s Selector) Reverse() Selector {
	s.Src, s.Dst = s.Dst, s.Src
	s.SrcPorts, s.DstPorts = s.DstPorts, s.SrcPorts
	return s
}

// families returns whether s can match IPv4 and IPv6 packets.
func (s *Selector) families() (v4, v6 bool) {
	v4, v6 = true, true
	for _, ps := range [2][]netip.Prefix{s.Src, s.Dst} {
		if len(ps) == 0 {
			continue
		}
		var has4, has6 bool
		for _, p := range ps {
			has4 = has4 || p.Addr().Is4()
			has6 = has6 || p.Addr().Is6()
		}
		v4, v6 = v4 && has4, v6 && has6
	}
	if len(s.FlowLabel) > 0 {
		v4 = false
	}
	return v4, v6
}

// Action is the characteristics a path must have to carry a policy's flows
// (paper §5.1), and how to rank the paths that have them. Use
// [DefaultAction] as the starting point: the zero Action allows no loss, no
// cost and no metered path.
type Action struct {
	// MaxDelay limits the one-way delay, estimated as RTT/2; MaxJitter
	// limits the jitter. 0 means no limit. A path whose RTT is not measured
	// yet satisfies neither limit.
	MaxDelay  time.Duration `json:"-"`
	MaxJitter time.Duration `json:"-"`
	// MaxLoss limits the loss ratio, 0..1 (TOML "2%" or 0.02); negative
	// means no limit. An unmeasured path does not satisfy it.
	MaxLoss float64 `json:"-"`
	// MinBandwidth is the least capacity in bit/s (TOML "10Mbit"); 0 means
	// none. A path of unknown capacity does not satisfy it.
	MinBandwidth float64 `json:"-"`
	// MaxCost limits the cost per GB; negative means no limit.
	MaxCost float64 `json:"-"`
	// AllowMetered admits metered paths (TOML metered = true, the
	// default).
	AllowMetered bool `json:"-"`
	// Require and Forbid are path tags that must all be present, and none
	// of which may be (TOML require_tags, forbid_tags).
	Require []string `json:"require_tags,omitempty"`
	Forbid  []string `json:"forbid_tags,omitempty"`
	// Prefer ranks the satisfying paths, most important criterion first;
	// ties go to the lower BID. Empty means cost, then delay.
	Prefer []Criterion `json:"prefer,omitempty"`
}

// DefaultAction returns the Action that any Up path satisfies: no limits,
// metered paths allowed, the default ranking. It is what a policy file's
// action starts from.
func DefaultAction() Action {
	return Action{MaxLoss: -1, MaxCost: -1, AllowMetered: true}
}

// prefer returns a's ranking with the default applied.
func (a *Action) prefer() []Criterion {
	if len(a.Prefer) == 0 {
		return defaultPrefer
	}
	return a.Prefer
}

// MarshalJSON writes durations and the bandwidth as strings ("50ms",
// "10Mbit"), the loss as a ratio, and leaves out limits that are not set.
func (a Action) MarshalJSON() ([]byte, error) {
	type plain Action
	v := struct {
		plain
		MaxDelay     jsonDuration `json:"max_delay,omitzero"`
		MaxJitter    jsonDuration `json:"max_jitter,omitzero"`
		MaxLoss      *float64     `json:"max_loss,omitempty"`
		MinBandwidth string       `json:"min_bandwidth,omitempty"`
		MaxCost      *float64     `json:"max_cost,omitempty"`
		Metered      bool         `json:"metered"`
	}{plain: plain(a), MaxDelay: jsonDuration(a.MaxDelay), MaxJitter: jsonDuration(a.MaxJitter), Metered: a.AllowMetered}
	if a.MaxLoss >= 0 {
		v.MaxLoss = &a.MaxLoss
	}
	if a.MaxCost >= 0 {
		v.MaxCost = &a.MaxCost
	}
	if a.MinBandwidth > 0 {
		v.MinBandwidth = formatBandwidth(a.MinBandwidth)
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads the form MarshalJSON writes; absent keys take the
// values of DefaultAction.
func (a *Action) UnmarshalJSON(b []byte) error {
	type plain Action
	var v struct {
		plain
		MaxDelay     jsonDuration `json:"max_delay"`
		MaxJitter    jsonDuration `json:"max_jitter"`
		MaxLoss      *float64     `json:"max_loss"`
		MinBandwidth string       `json:"min_bandwidth"`
		MaxCost      *float64     `json:"max_cost"`
		Metered      *bool        `json:"metered"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*a = Action(v.plain)
	d := DefaultAction()
	a.MaxDelay, a.MaxJitter = time.Duration(v.MaxDelay), time.Duration(v.MaxJitter)
	a.MaxLoss, a.MaxCost, a.AllowMetered = d.MaxLoss, d.MaxCost, d.AllowMetered
	if v.MaxLoss != nil {
		a.MaxLoss = *v.MaxLoss
	}
	if v.MaxCost != nil {
		a.MaxCost = *v.MaxCost
	}
	if v.Metered != nil {
		a.AllowMetered = *v.Metered
	}
	if v.MinBandwidth != "" {
		bw, err := parseBandwidth(v.MinBandwidth)
		if err != nil {
			return err
		}
		a.MinBandwidth = bw
	}
	return nil
}

// Policy associates the flows of a selector with the characteristics of
// the path they need (paper §5.1).
type Policy struct {
	// Name identifies the policy within its rule: 1..64 characters of
	// A-Z a-z 0-9 _ . -.
	Name string `json:"name"`
	// Target says where the policy applies.
	Target   Target   `json:"target"`
	Selector Selector `json:"selector"`
	Action   Action   `json:"action"`
	Mode     Mode     `json:"mode"`
	// Copies is the number of paths a redundant policy sends on, 1..8;
	// 0 means 2. Other modes leave it 0.
	Copies int `json:"copies,omitempty"`
	// Priority orders overlapping policies, higher first, and settles
	// contradictions between policies with the same selector.
	Priority int `json:"priority,omitempty"`
	// Lifetime is how long the policy lasts after it is loaded (0 =
	// forever); the loader sets Expires from it. Resolve skips a policy
	// whose Expires is set and not after now.
	Lifetime time.Duration `json:"-"`
	Expires  time.Time     `json:"expires,omitzero"`
	// Strict makes an unsatisfiable policy drop its flows instead of
	// falling back to the default path.
	Strict bool `json:"strict,omitempty"`
}

// copies returns how many paths a redundant policy uses.
func (p *Policy) copies() int {
	if p.Copies == 0 {
		return 2
	}
	return p.Copies
}

// MarshalJSON writes the lifetime as a duration string.
func (p Policy) MarshalJSON() ([]byte, error) {
	type plain Policy
	return json.Marshal(struct {
		plain
		Lifetime jsonDuration `json:"lifetime,omitzero"`
	}{plain(p), jsonDuration(p.Lifetime)})
}

// UnmarshalJSON reads the form MarshalJSON writes; an absent action is
// DefaultAction.
func (p *Policy) UnmarshalJSON(b []byte) error {
	type plain Policy
	v := struct {
		plain
		Lifetime jsonDuration `json:"lifetime"`
	}{plain: plain{Action: DefaultAction()}}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = Policy(v.plain)
	p.Lifetime = time.Duration(v.Lifetime)
	return nil
}

// Condition holds when a path satisfying Match exists (Exists true) or when
// none does (Exists false), among the paths in use.
type Condition struct {
	Exists bool   `json:"exists"`
	Match  Action `json:"match"`
}

// Rule is a policy rule (paper §5.1): its Policies are elected when all
// its conditions hold. A rule with no conditions is always elected.
type Rule struct {
	// Name identifies the rule within its set, like Policy.Name.
	Name     string      `json:"name"`
	When     []Condition `json:"when,omitempty"`
	Policies []Policy    `json:"policies"`
}

// PolicySet is one requester's submission (paper §5.1 "policy data set").
type PolicySet struct {
	// Requester names who submitted the set, for messages and references.
	Requester string `json:"requester"`
	Rules     []Rule `json:"rules"`
}

// jsonDuration is a time.Duration in JSON as a string ("1m30s").
type jsonDuration time.Duration

func (d jsonDuration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *jsonDuration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = jsonDuration(v)
	return err
}

// formatBandwidth writes bit/s with the largest decimal unit that keeps it
// exact to three decimals ("1.5Mbit").
func formatBandwidth(bw float64) string {
	units := []struct {
		name  string
		scale float64
	}{{"Tbit", 1e12}, {"Gbit", 1e9}, {"Mbit", 1e6}, {"kbit", 1e3}}
	for _, u := range units {
		if v := bw / u.scale; v >= 1 && math.Abs(v*1000-math.Round(v*1000)) < 1e-6 {
			return strconv.FormatFloat(v, 'f', -1, 64) + u.name
		}
	}
	return strconv.FormatFloat(bw, 'f', -1, 64) + "bit"
}

// parseBandwidth parses a rate in bits per second: a number and an
// optional unit bit, kbit, Mbit, Gbit, Tbit (or bps, kbps, Mbps, ...;
// decimal prefixes).
func parseBandwidth(s string) (float64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("%q is not a bandwidth; write a number and a unit like 10Mbit or 500kbit", s)
	}
	if strings.ContainsRune(unit, 'B') {
		return 0, fmt.Errorf("%q: bandwidths are in bits per second; write 8Mbit for 1 MB/s", s)
	}
	scale := 1.0
	u := strings.ToLower(unit)
	if len(u) > 0 {
		switch u[0] {
		case 'k':
			scale, u = 1e3, u[1:]
		case 'm':
			scale, u = 1e6, u[1:]
		case 'g':
			scale, u = 1e9, u[1:]
		case 't':
			scale, u = 1e12, u[1:]
		}
	}
	if u != "" && u != "bit" && u != "bps" && u != "bit/s" && u != "b/s" {
		return 0, fmt.Errorf("%q has an unknown unit; use bit, kbit, Mbit, Gbit or Tbit", s)
	}
	return v * scale, nil
}

// formatLoss writes a ratio as a percentage ("2%").
func formatLoss(l float64) string { return strconv.FormatFloat(l*100, 'g', 4, 64) + "%" }

// formatNum writes a cost.
func formatNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Checks of the model, shared by the loader (which reports them at their
// TOML keys) and Resolve (which reports them as a PolicyError). Keys are
// the TOML keys relative to the policy or condition.

type fieldError struct{ key, msg string }

type checker struct{ errs []fieldError }

func (c *checker) add(key, format string, args ...any) {
	c.errs = append(c.errs, fieldError{key, fmt.Sprintf(format, args...)})
}

// addAt adds an error about element i of the list key.
func (c *checker) addAt(key string, i int, format string, args ...any) {
	c.add(key+"["+strconv.Itoa(i)+"]", format, args...)
}

const maxNameLen = 64

// validName reports whether s is 1..64 characters of A-Z a-z 0-9 _ . -.
func validName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

const nameRule = "1..64 characters of A-Z a-z 0-9 _ . -"

// checkPolicy checks everything about p that the model allows but means
// nothing: values out of range, duplicates, and combinations that can never
// match or have no effect.
func checkPolicy(p *Policy) []fieldError {
	var c checker
	if !validName(p.Name) {
		c.add("name", "%q is not a valid name: use %s", p.Name, nameRule)
	}
	if p.Target > TargetBoth {
		c.add("target", "invalid target %d; valid: local, peer, both", p.Target)
	}
	switch {
	case p.Mode > ModeDrop:
		c.add("mode", "invalid mode %d; valid: single, stripe, redundant, drop", p.Mode)
	case p.Copies != 0 && p.Mode != ModeRedundant:
		c.add("copies", "copies applies only to mode = \"redundant\"")
	case p.Copies < 0 || p.Copies > MaxBIDs:
		c.add("copies", "%d copies; valid: 1..%d", p.Copies, MaxBIDs)
	}
	if p.Lifetime < 0 {
		c.add("lifetime", "must be positive, not %v", p.Lifetime)
	}
	checkSelector(&c, &p.Selector)
	checkAction(&c, &p.Action, true)
	return c.errs
}

// checkCondition checks a condition's action (which takes no prefer).
func checkCondition(cd *Condition) []fieldError {
	var c checker
	checkAction(&c, &cd.Match, false)
	return c.errs
}

func checkSelector(c *checker, s *Selector) {
	for _, f := range []struct {
		key string
		ps  []netip.Prefix
	}{{"src", s.Src}, {"dst", s.Dst}} {
		for i, p := range f.ps {
			switch {
			case !p.IsValid():
				c.addAt(f.key, i, "invalid prefix")
			case p.Addr().Is4In6():
				c.addAt(f.key, i, "%v: write IPv4 prefixes in IPv4 form", p)
			case p.Addr().Zone() != "":
				c.addAt(f.key, i, "%v: a prefix has no zone", p)
			case p != p.Masked():
				c.addAt(f.key, i, "%v has host bits set; did you mean %v?", p, p.Masked())
			case slices.Contains(f.ps[:i], p):
				c.addAt(f.key, i, "%v is listed twice", p)
			}
		}
	}
	v4, v6 := s.families()
	if !v4 && !v6 {
		switch {
		case len(s.FlowLabel) > 0:
			c.add("flow_label", "flow labels match IPv6 only, and the prefixes are IPv4")
		default:
			c.add("dst", "src and dst have no address family in common: the selector matches nothing")
		}
	}
	for _, f := range []struct {
		key string
		rs  []PortRange
	}{{"src_ports", s.SrcPorts}, {"dst_ports", s.DstPorts}} {
		for i, r := range f.rs {
			switch {
			case r.Lo > r.Hi:
				c.addAt(f.key, i, "range %d-%d runs backwards", r.Lo, r.Hi)
			case slices.Contains(f.rs[:i], r):
				c.addAt(f.key, i, "%v is listed twice", r)
			}
		}
	}
	if len(s.SrcPorts)+len(s.DstPorts) > 0 && len(s.Proto) > 0 && !slices.ContainsFunc(s.Proto, isPortProto) {
		key := "dst_ports"
		if len(s.DstPorts) == 0 {
			key = "src_ports"
		}
		c.add(key, "ports need proto tcp, udp, udplite or sctp (or no proto)")
	}
	for i, p := range s.Proto {
		if slices.Contains(s.Proto[:i], p) {
			c.add("proto["+strconv.Itoa(i)+"]", "%s is listed twice", formatProto(p))
		}
	}
	for i, d := range s.DSCP {
		switch {
		case d > 63:
			c.addAt("dscp", i, "%d is not a DSCP; valid: 0..63", d)
		case slices.Contains(s.DSCP[:i], d):
			c.addAt("dscp", i, "%d is listed twice", d)
		}
	}
	for i, l := range s.FlowLabel {
		switch {
		case l > 0xfffff:
			c.addAt("flow_label", i, "%d is not a flow label; valid: 0..1048575 (20 bits)", l)
		case slices.Contains(s.FlowLabel[:i], l):
			c.addAt("flow_label", i, "%d is listed twice", l)
		}
	}
}

func checkAction(c *checker, a *Action, policy bool) {
	if a.MaxDelay < 0 {
		c.add("max_delay", "must be positive, not %v (0 = no limit)", a.MaxDelay)
	}
	if a.MaxJitter < 0 {
		c.add("max_jitter", "must be positive, not %v (0 = no limit)", a.MaxJitter)
	}
	if math.IsNaN(a.MaxLoss) || a.MaxLoss > 1 {
		c.add("max_loss", "%v is not a loss ratio; valid: 0..1 or 0%%..100%%", a.MaxLoss)
	}
	if math.IsNaN(a.MinBandwidth) || math.IsInf(a.MinBandwidth, 0) || a.MinBandwidth < 0 {
		c.add("min_bandwidth", "%v is not a bandwidth in bit/s", a.MinBandwidth)
	}
	if math.IsNaN(a.MaxCost) || math.IsInf(a.MaxCost, 1) {
		c.add("max_cost", "%v is not a cost", a.MaxCost)
	}
	for _, f := range []struct {
		key  string
		tags []string
	}{{"require_tags", a.Require}, {"forbid_tags", a.Forbid}} {
		for i, t := range f.tags {
			switch {
			case !validName(t):
				c.addAt(f.key, i, "%q is not a valid tag: use %s", t, nameRule)
			case slices.Contains(f.tags[:i], t):
				c.addAt(f.key, i, "%q is listed twice", t)
			}
		}
	}
	for i, t := range a.Forbid {
		if slices.Contains(a.Require, t) {
			c.add("forbid_tags["+strconv.Itoa(i)+"]", "%q is both required and forbidden", t)
		}
	}
	if !policy && len(a.Prefer) > 0 {
		c.add("prefer", "a condition ranks no paths; prefer belongs in a policy")
	}
	for i, cr := range a.Prefer {
		switch {
		case int(cr) >= len(criterionNames):
			c.addAt("prefer", i, "invalid criterion %d; valid: %s", cr, strings.Join(criterionNames[:], ", "))
		case slices.Contains(a.Prefer[:i], cr):
			c.addAt("prefer", i, "%v is listed twice", cr)
		}
	}
}
