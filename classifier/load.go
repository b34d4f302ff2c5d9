// SPDX-License-Identifier: MIT

package classifier

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"monami/configs"
)

// The policy file is decoded into a generic map and read against the
// schema here, as configs does with the daemon files: every problem is
// found at once, named by its key path, and no key is matched without
// regard to case.

// ParsePolicies parses the policy file src (see the package doc for the
// language) and returns its rules, or the errors.Join of every problem,
// each a *configs.Error with File name, the line and the key path
// ("rule[0].policy[1].max_delay"). A policy's lifetime starts now.
func ParsePolicies(name string, src []byte) ([]Rule, error) {
	return ParsePoliciesAt(name, src, time.Now())
}

// ParsePoliciesAt is ParsePolicies with the load time given: a policy's
// Expires is now plus its lifetime.
func ParsePoliciesAt(name string, src []byte, now time.Time) ([]Rule, error) {
	r := &reader{file: name}
	var m map[string]any
	if _, err := toml.Decode(string(src), &m); err != nil {
		e := &configs.Error{File: name, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
		if pe, ok := errors.AsType[toml.ParseError](err); ok {
			e.Line, e.Msg = pe.Position.Line, pe.Message
		}
		return nil, e
	}
	r.lines = configs.Lines(src)
	root := node{r: r, m: m}
	root.known("root", rootKeys)
	var rules []Rule
	names := map[string]string{}
	for _, n := range root.tables("rule") {
		rule := n.rule(now)
		n.unique(names, rule.Name)
		rules = append(rules, rule)
	}
	if err := r.err(); err != nil {
		return nil, err
	}
	return rules, nil
}

var (
	rootKeys   = []string{"rule"}
	ruleKeys   = []string{"name", "when", "policy"}
	actionKeys = []string{"max_delay", "max_jitter", "max_loss", "min_bandwidth", "max_cost", "metered",
		"require_tags", "tags", "forbid_tags"}
	whenKeys   = append([]string{"exists"}, actionKeys...)
	policyKeys = append([]string{"name", "target", "src", "dst", "src_ports", "dst_ports", "proto", "dscp",
		"flow_label", "prefer", "mode", "copies", "priority", "lifetime", "strict"}, actionKeys...)
)

// pathKeys are keys people write when they think of paths rather than of
// what their traffic needs (R1.2).
var pathKeys = []string{"bid", "bids", "interface", "interfaces", "iface", "dev", "device", "uplink",
	"uplinks", "path", "paths", "mark", "route", "via", "gateway"}

// aliases maps keys written in other tools' words to ours.
var aliases = map[string]string{
	"sport": "src_ports", "dport": "dst_ports", "src_port": "src_ports", "dst_port": "dst_ports",
	"protocol": "proto", "source": "src", "destination": "dst", "tag": "tags",
	"delay": "max_delay", "jitter": "max_jitter", "loss": "max_loss", "bandwidth": "min_bandwidth",
	"cost": "max_cost", "policies": "policy", "rules": "rule", "condition": "when", "conditions": "when",
}

type reader struct {
	file  string
	lines configs.LineIndex
	errs  []*configs.Error
	bad   []string // keys with a problem already, so that checks do not restate it
}

func (r *reader) add(key, format string, args ...any) {
	r.bad = append(r.bad, key)
	r.errs = append(r.errs, &configs.Error{File: r.file, Line: r.lines.Line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// reported reports whether key, or a key inside or around it, already has
// a problem.
func (r *reader) reported(key string) bool {
	for _, k := range r.bad {
		a, b := k, key
		if len(a) > len(b) {
			a, b = b, a
		}
		if strings.HasPrefix(b, a) && (len(a) == len(b) || b[len(a)] == '.' || b[len(a)] == '[') {
			return true
		}
	}
	return false
}

func (r *reader) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(r.errs, func(a, b *configs.Error) int { return a.Line - b.Line })
	es := make([]error, len(r.errs))
	for i, e := range r.errs {
		es[i] = e
	}
	return errors.Join(es...)
}

// node is one TOML table of the file; a missing or mistyped one has a nil
// map.
type node struct {
	r    *reader
	path string
	m    map[string]any
}

func (n node) key(k string) string {
	if n.path == "" {
		return k
	}
	return n.path + "." + k
}

// known reports the keys of n that are not among known; level is "root",
// "rule", "when" or "policy".
func (n node) known(level string, known []string) {
	var unknown []string
	for k := range n.m {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		key := n.key(quoteKey(k))
		lk := strings.ToLower(k)
		switch {
		case slices.Contains(pathKeys, lk) && (level == "policy" || level == "when"):
			n.r.add(key, "policies name the characteristics their traffic needs (%s), never a path or an "+
				"interface: monami picks the paths that have them", strings.Join(actionKeys[:6], ", "))
		case level == "when" && slices.Contains(policyKeys, lk):
			n.r.add(key, "a condition only tests whether a path with the given characteristics exists; "+
				"%s belongs in a [[rule.policy]]; valid keys here: %s", lk, strings.Join(known, ", "))
		case (level == "rule" || level == "root") && (slices.Contains(policyKeys, lk) || slices.Contains(pathKeys, lk)):
			n.r.add(key, "%s belongs in a [[rule.policy]]", lk)
		case level == "root" && lk == "policy":
			n.r.add(key, "policies go inside a rule: [[rule]] with name, then [[rule.policy]]")
		case aliases[lk] != "" && slices.Contains(known, aliases[lk]):
			n.r.add(key, "unknown key; did you mean %s?", aliases[lk])
		default:
			if s := configs.Suggest(k, known); s != "" {
				n.r.add(key, "unknown key; did you mean %s?", s)
			} else {
				n.r.add(key, "unknown key; valid keys here: %s", strings.Join(known, ", "))
			}
		}
	}
}

// quoteKey writes k as a TOML key path segment.
func quoteKey(k string) string {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return strconv.Quote(k)
		}
	}
	if k == "" {
		return `""`
	}
	return k
}

// tables returns the array of tables k of n.
func (n node) tables(k string) []node {
	key := n.key(k)
	v, has := n.m[k]
	if !has {
		return nil
	}
	elems, ok := configs.TableArray(v)
	if !ok {
		n.r.add(key, "must be an array of tables ([[%s]]), not %s", key, configs.TypeName(v))
		return nil
	}
	nodes := make([]node, len(elems))
	for i, e := range elems {
		nodes[i] = node{r: n.r, path: key + "[" + strconv.Itoa(i) + "]"}
		if m, ok := e.(map[string]any); ok {
			nodes[i].m = m
		} else {
			n.r.add(nodes[i].path, "must be a table, not %s", configs.TypeName(e))
		}
	}
	return nodes
}

func (n node) has(k string) bool { _, ok := n.m[k]; return ok }

func (n node) str(k string, what string) (string, bool) {
	switch v := n.m[k].(type) {
	case nil:
		return "", false
	case string:
		return v, true
	default:
		n.r.add(n.key(k), "must be %s, not %s", what, configs.TypeName(v))
		return "", false
	}
}

func (n node) boolean(k string, def bool) bool {
	switch v := n.m[k].(type) {
	case nil:
		return def
	case bool:
		return v
	default:
		n.r.add(n.key(k), "must be true or false, not %s", configs.TypeName(v))
		return def
	}
}

// integer reads an integer in lo..hi.
func (n node) integer(k string, lo, hi int64) (int, bool) {
	switch v := n.m[k].(type) {
	case nil:
		return 0, false
	case int64:
		if v < lo || v > hi {
			n.r.add(n.key(k), "%d is out of range; valid: %d..%d", v, lo, hi)
			return 0, false
		}
		return int(v), true
	default:
		n.r.add(n.key(k), "must be an integer %d..%d, not %s", lo, hi, configs.TypeName(v))
		return 0, false
	}
}

// name reads the required name key.
func (n node) name(what string) string {
	if n.m == nil {
		return "" // the table itself is reported
	}
	s, ok := n.str("name", "a string")
	switch {
	case !ok && !n.has("name"):
		n.r.add(n.path, "%s needs a name (%s)", what, nameRule)
	case ok && !validName(s):
		n.r.add(n.key("name"), "%q is not a valid name: use %s", s, nameRule)
	}
	return s
}

// unique records name among the names of its level, reporting a repeat.
func (n node) unique(seen map[string]string, name string) {
	if name == "" || !validName(name) {
		return
	}
	if first, ok := seen[name]; ok {
		n.r.add(n.key("name"), "name %q is already used by %s", name, first)
		return
	}
	seen[name] = n.path
}

// list reads k as one value or an array of them, calling elem with each
// value and its key.
func (n node) list(k string, elem func(key string, v any)) {
	switch v := n.m[k].(type) {
	case nil:
	case []any:
		if len(v) == 0 {
			n.r.add(n.key(k), "is empty; leave it out to match any")
		}
		for i, e := range v {
			elem(n.key(k)+"["+strconv.Itoa(i)+"]", e)
		}
	case []map[string]any:
		n.r.add(n.key(k), "must be a value or an array of values, not an array of tables")
	default:
		elem(n.key(k), v)
	}
}

func (n node) rule(now time.Time) Rule {
	n.known("rule", ruleKeys)
	rule := Rule{Name: n.name("a rule")}
	for _, w := range n.tables("when") {
		rule.When = append(rule.When, w.condition())
	}
	names := map[string]string{}
	pols := n.tables("policy")
	if len(pols) == 0 && n.m != nil && !n.has("policy") {
		n.r.add(n.path, "a rule needs at least one [[%s.policy]]", n.path)
	}
	for _, pn := range pols {
		p := pn.policy(now)
		pn.unique(names, p.Name)
		rule.Policies = append(rule.Policies, p)
	}
	return rule
}

func (n node) condition() Condition {
	n.known("when", whenKeys)
	c := Condition{Exists: n.boolean("exists", true), Match: DefaultAction()}
	n.action(&c.Match)
	n.checks(checkCondition(&c))
	return c
}

func (n node) policy(now time.Time) Policy {
	n.known("policy", policyKeys)
	p := Policy{Name: n.name("a policy"), Action: DefaultAction()}
	if s, ok := n.str("target", `"local", "peer" or "both"`); ok {
		if err := p.Target.UnmarshalText([]byte(s)); err != nil {
			n.r.add(n.key("target"), "%q is not a target; valid: local (this router's uplink), peer (the home "+
				"agent's downlink), both", s)
		}
	}
	p.Selector = n.selector()
	n.action(&p.Action)
	n.list("prefer", func(key string, v any) {
		s, ok := v.(string)
		var c Criterion
		if !ok || c.UnmarshalText([]byte(s)) != nil {
			n.r.add(key, "%s is not a criterion; valid: %s", show(v), strings.Join(criterionNames[:], ", "))
			return
		}
		p.Action.Prefer = append(p.Action.Prefer, c)
	})
	if s, ok := n.str("mode", `"single", "stripe", "redundant" or "drop"`); ok {
		if err := p.Mode.UnmarshalText([]byte(s)); err != nil {
			n.r.add(n.key("mode"), "%q is not a mode; valid: %s", s, strings.Join(modeNames[:], ", "))
		}
	}
	if c, ok := n.integer("copies", 1, MaxBIDs); ok {
		p.Copies = c
	} else if p.Mode == ModeRedundant && !n.has("copies") {
		p.Copies = 2
	}
	if v, ok := n.integer("priority", math.MinInt32, math.MaxInt32); ok {
		p.Priority = v
	}
	if d, ok := n.duration("lifetime"); ok {
		p.Lifetime = d
		p.Expires = now.Add(d)
	}
	p.Strict = n.boolean("strict", false)
	if p.Mode == ModeDrop {
		for _, k := range append(actionKeys, "prefer", "strict") {
			if n.has(k) && !n.r.reported(n.key(k)) {
				n.r.add(n.key(k), "mode = \"drop\" sends the flows nowhere, so %s has no effect; remove it", k)
			}
		}
	}
	n.checks(checkPolicy(&p))
	return p
}

// checks reports the model's checks that the reading did not already.
func (n node) checks(errs []fieldError) {
	for _, e := range errs {
		k := e.key
		if base, ok := strings.CutSuffix(k, "[0]"); ok {
			if _, isList := n.m[base].([]any); !isList {
				k = base // written as a single value
			}
		}
		key := n.key(k)
		if e.key == "name" || n.r.reported(key) {
			continue // a bad name was reported while reading
		}
		n.r.add(key, "%s", e.msg)
	}
}

func (n node) selector() Selector {
	var s Selector
	for _, f := range []struct {
		key string
		to  *[]netip.Prefix
	}{{"src", &s.Src}, {"dst", &s.Dst}} {
		n.list(f.key, func(key string, v any) {
			str, ok := v.(string)
			if !ok {
				n.r.add(key, "must be a prefix string like \"2001:db8::/64\" or \"198.18.0.0/15\", not %s", configs.TypeName(v))
				return
			}
			p, err := netip.ParsePrefix(str)
			if err != nil {
				a, aerr := netip.ParseAddr(str)
				if aerr != nil || a.Zone() != "" {
					n.r.add(key, "%q is not a prefix; write an address/length like \"2001:db8::/64\"", str)
					return
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			*f.to = append(*f.to, p)
		})
	}
	for _, f := range []struct {
		key string
		to  *[]PortRange
	}{{"src_ports", &s.SrcPorts}, {"dst_ports", &s.DstPorts}} {
		n.list(f.key, func(key string, v any) {
			switch v := v.(type) {
			case int64:
				if v < 0 || v > 65535 {
					n.r.add(key, "%d is not a port; valid: 0..65535", v)
					return
				}
				*f.to = append(*f.to, PortRange{uint16(v), uint16(v)})
			case string:
				r, err := parsePortRange(v)
				if err != nil {
					n.r.add(key, "%v", err)
					return
				}
				*f.to = append(*f.to, r)
			default:
				n.r.add(key, "must be a port (22) or a range (\"8000-8080\"), not %s", configs.TypeName(v))
			}
		})
	}
	n.list("proto", func(key string, v any) {
		switch v := v.(type) {
		case int64:
			if v < 0 || v > 255 {
				n.r.add(key, "%d is not a protocol number; valid: 0..255", v)
				return
			}
			s.Proto = append(s.Proto, uint8(v))
		case string:
			p, err := parseProto(v)
			if err != nil {
				n.r.add(key, "%v", err)
				return
			}
			s.Proto = append(s.Proto, p)
		default:
			n.r.add(key, "must be a protocol name (\"tcp\") or number (6), not %s", configs.TypeName(v))
		}
	})
	n.list("dscp", func(key string, v any) {
		switch v := v.(type) {
		case int64:
			if v < 0 || v > 63 {
				n.r.add(key, "%d is not a DSCP; valid: 0..63", v)
				return
			}
			s.DSCP = append(s.DSCP, uint8(v))
		case string:
			d, err := parseDSCP(v)
			if err != nil {
				n.r.add(key, "%v", err)
				return
			}
			s.DSCP = append(s.DSCP, d)
		default:
			n.r.add(key, "must be a DSCP number (46) or name (\"ef\"), not %s", configs.TypeName(v))
		}
	})
	n.list("flow_label", func(key string, v any) {
		l, ok := v.(int64)
		if !ok || l < 0 || l > 0xfffff {
			n.r.add(key, "%s is not a flow label; valid: an integer 0..1048575 (20 bits)", show(v))
			return
		}
		s.FlowLabel = append(s.FlowLabel, uint32(l))
	})
	return s
}

// show writes a decoded value for a message.
func show(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case int64, float64, bool:
		return fmt.Sprint(v)
	}
	return configs.TypeName(v)
}

// action reads the action keys of n into a.
func (n node) action(a *Action) {
	if d, ok := n.duration("max_delay"); ok {
		a.MaxDelay = d
	}
	if d, ok := n.duration("max_jitter"); ok {
		a.MaxJitter = d
	}
	switch v := n.m["max_loss"].(type) {
	case nil:
	case string:
		pct, isPct := strings.CutSuffix(strings.TrimSpace(v), "%")
		f, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if !isPct || err != nil || f < 0 || f > 100 || math.IsNaN(f) {
			n.r.add(n.key("max_loss"), "%q is not a loss; write a percentage 0%%..100%% (\"2%%\") or a ratio 0..1 (0.02)", v)
			break
		}
		a.MaxLoss = f / 100
	case float64, int64:
		f := toFloat(v)
		if f < 0 || f > 1 || math.IsNaN(f) {
			n.r.add(n.key("max_loss"), "%v is not a loss ratio; valid: 0..1 (0.02), or a percentage string (\"2%%\")", v)
			break
		}
		a.MaxLoss = f
	default:
		n.r.add(n.key("max_loss"), "must be a percentage (\"2%%\") or a ratio (0.02), not %s", configs.TypeName(v))
	}
	switch v := n.m["min_bandwidth"].(type) {
	case nil:
	case string:
		bw, err := parseBandwidth(v)
		switch {
		case err != nil:
			n.r.add(n.key("min_bandwidth"), "%v", err)
		case bw <= 0 || math.IsInf(bw, 0):
			n.r.add(n.key("min_bandwidth"), "must be more than 0; leave it out for no minimum")
		default:
			a.MinBandwidth = bw
		}
	case float64, int64:
		f := toFloat(v)
		if !(f > 0) || math.IsInf(f, 0) {
			n.r.add(n.key("min_bandwidth"), "%v is not a bandwidth; write it with a unit, like \"10Mbit\"", v)
			break
		}
		a.MinBandwidth = f
	default:
		n.r.add(n.key("min_bandwidth"), "must be a bandwidth like \"10Mbit\", not %s", configs.TypeName(v))
	}
	switch v := n.m["max_cost"].(type) {
	case nil:
	case float64, int64:
		f := toFloat(v)
		if !(f >= 0) || math.IsInf(f, 0) {
			n.r.add(n.key("max_cost"), "%v is not a cost; valid: a number >= 0 (per GB)", v)
			break
		}
		a.MaxCost = f
	default:
		n.r.add(n.key("max_cost"), "must be a number >= 0 (the cost per GB), not %s", configs.TypeName(v))
	}
	a.AllowMetered = n.boolean("metered", true)
	tagKey := "require_tags"
	if n.has("tags") {
		if n.has("require_tags") {
			n.r.add(n.key("tags"), "tags is another name for require_tags; give one of them")
		}
		tagKey = "tags"
	}
	for _, f := range []struct {
		key string
		to  *[]string
	}{{tagKey, &a.Require}, {"forbid_tags", &a.Forbid}} {
		n.list(f.key, func(key string, v any) {
			s, ok := v.(string)
			if !ok || !validName(s) {
				n.r.add(key, "%s is not a tag; use a string of %s", show(v), nameRule)
				return
			}
			*f.to = append(*f.to, s)
		})
	}
	if tagKey == "tags" {
		// Report the model's checks on require_tags at the key written.
		for i := range a.Require {
			if slices.Contains(a.Require[:i], a.Require[i]) {
				n.r.add(n.key("tags["+strconv.Itoa(i)+"]"), "%q is listed twice", a.Require[i])
			}
		}
		n.r.bad = append(n.r.bad, n.key("require_tags"))
	}
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case int64:
		return float64(v)
	case float64:
		return v
	}
	return math.NaN()
}

// duration reads a positive duration string.
func (n node) duration(k string) (time.Duration, bool) {
	switch v := n.m[k].(type) {
	case nil:
		return 0, false
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(v))
		switch {
		case err != nil:
			n.r.add(n.key(k), "%q is not a duration; write a number and a unit like \"50ms\", \"1.5s\" or \"10m\"", v)
		case d <= 0:
			n.r.add(n.key(k), "must be more than 0; leave it out for no limit")
		default:
			return d, true
		}
	default:
		n.r.add(n.key(k), "must be a duration string like \"50ms\", not %s", configs.TypeName(v))
	}
	return 0, false
}
