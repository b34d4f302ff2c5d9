// SPDX-License-Identifier: MIT

package classifier

import (
	"cmp"
	"encoding/binary"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"monami/paths"
)

// This file is the condition decision and the path decision of the paper
// (modules C and D, §5.2): merge the requesters' policy sets, elect the
// rules whose conditions hold, settle duplicates and contradictions, and
// turn each elected policy into a FilterRule, or an error and a fallback.

// Status codes of a PolicyError, taken from the flow binding status
// registry of RFC 6089 §4.2 so that the home agent's per-rule answers and
// the mobile router's own resolution errors speak one vocabulary:
//
//	code  RFC 6089 name                               used when
//	130   flow identification option malformed        the policy (or a condition of its rule)
//	                                                   is invalid: a value out of range, a
//	                                                   duplicate name, a selector matching nothing
//	131   BID not found                               no path satisfies the policy's action
const (
	CodeInvalid uint8 = 130
	CodeNoPath  uint8 = 131
)

// Hysteresis margins: a policy moves off the path it is on only for a path
// better by more than these, on the first criterion of its Prefer where
// the two differ by more than the margin. Cost is configured, not
// measured, so any difference counts.
const (
	marginRatio = 0.2                        // delay, jitter, loss: 20 % lower; bandwidth: 20 % higher
	marginDelay = time.Millisecond           // and at least this much lower delay or jitter
	marginLoss  = 0.005                      // and at least half a percentage point less loss
	weightScale = 1000                       // stripe weights are per mille of the total capacity
	anyPorts    = 65536                      // the port span of "any port", for specificity
	stripeNone  = uint32(1)                  // the weight of each path when capacities are unknown
	hashSeed    = uint64(0x9e3779b97f4a7c15) // start value of the reference and selector hashes
)

// PolicyRef names a policy within the merged sets: by the names its
// requester gave, and by its indexes in that requester's set.
type PolicyRef struct {
	Requester   string `json:"requester"`
	Rule        string `json:"rule"`
	Policy      string `json:"policy"`
	RuleIndex   int    `json:"rule_index"`
	PolicyIndex int    `json:"policy_index"`
}

// String returns "requester/rule/policy".
func (r PolicyRef) String() string { return r.Requester + "/" + r.Rule + "/" + r.Policy }

// PolicyError reports a policy that resolution could not honour (R3, R6):
// invalid, or unsatisfiable on the current paths. Code is from
// the RFC 6089 flow binding status registry (CodeInvalid, CodeNoPath).
type PolicyError struct {
	Ref  PolicyRef `json:"ref"`
	Code uint8     `json:"code"`
	Msg  string    `json:"msg"`
}

func (e *PolicyError) Error() string { return e.Ref.String() + ": " + e.Msg }

// Warning reports a policy removed because another one with the same
// selector and an overlapping target was kept (R3).
type Warning struct {
	// Kind is "duplicate" (the same action) or "contradiction" (a
	// different action).
	Kind    string    `json:"kind"`
	Removed PolicyRef `json:"removed"`
	Kept    PolicyRef `json:"kept"`
	Msg     string    `json:"msg"`
}

func (w Warning) String() string { return w.Removed.String() + ": " + w.Msg }

// FilterRule is one resolved policy (paper §2.1): the flows of Selector go
// to BIDs in Mode. It carries all a packet filter needs (R4).
type FilterRule struct {
	// Index is the rule's position in Resolution.Rules.
	Index int       `json:"index"`
	Ref   PolicyRef `json:"ref"`
	// Target says which side installs the rule.
	Target   Target   `json:"target"`
	Selector Selector `json:"selector"`
	Mode     Mode     `json:"mode"`
	// BIDs are the paths, best first, at most MaxBIDs: for single the
	// failover order (the data path uses the first Up one), for stripe the
	// paths to spread over, for redundant the paths that each get a copy.
	// Empty for drop, and for a fallback when no path is Up.
	BIDs []paths.BID `json:"bids"`
	// Weights are the stripe shares of BIDs (per mille of their total
	// capacity, or all equal when a capacity is unknown); nil otherwise.
	Weights  []uint32 `json:"weights,omitempty"`
	Priority int      `json:"priority"`
	// Fallback marks the rule of an unsatisfiable policy: the default path
	// or, if the policy is strict, a drop.
	Fallback bool `json:"fallback,omitempty"`
}

// Resolution is the outcome of Resolve: the filter rules in match order,
// and what went wrong. It is immutable once returned (its rules share the
// selectors' slices with the policy sets), and safe for concurrent reads.
type Resolution struct {
	Rules    []FilterRule  `json:"rules"`
	Errors   []PolicyError `json:"errors,omitempty"`
	Warnings []Warning     `json:"warnings,omitempty"`

	// For the next Resolve's hysteresis: per policy of the sets in
	// submission order, its refHash and the index of its rule (-1: none).
	seqHash []uint64
	seqRule []int32
}

// Local returns the rules the mobile router installs (Target local or
// both), in match order, for Compile and the encoders. When all rules are
// local it returns r.Rules itself (with its capacity cut to its length):
// the result is read-only either way.
func (r *Resolution) Local() []FilterRule {
	n := 0
	for i := range r.Rules {
		if r.Rules[i].Target.local() {
			n++
		}
	}
	if n == len(r.Rules) {
		return r.Rules[:n:n]
	}
	out := make([]FilterRule, 0, n)
	for _, fr := range r.Rules {
		if fr.Target.local() {
			out = append(out, fr)
		}
	}
	return out
}

// Peer returns the rules for the home agent (Target peer or both), in
// match order, with their selectors mirrored ([Selector.Reverse]) to match
// the downlink packets of the same flows.
func (r *Resolution) Peer() []FilterRule {
	n := 0
	for i := range r.Rules {
		if r.Rules[i].Target.peer() {
			n++
		}
	}
	out := make([]FilterRule, 0, n)
	for _, fr := range r.Rules {
		if fr.Target.peer() {
			fr.Selector = fr.Selector.Reverse()
			out = append(out, fr)
		}
	}
	return out
}

// cand is an elected policy on its way to a filter rule.
// It holds no pointers, so that the garbage collector has nothing to scan.
type cand struct {
	hash       uint64 // refHash of its names
	si, ri, pi int32  // set, rule and policy index
	seq        int32  // submission order, counting every policy of every set
	removed    bool
}

func (c *cand) pol(sets []PolicySet) *Policy { return &sets[c.si].Rules[c.ri].Policies[c.pi] }

func (c *cand) ref(sets []PolicySet) PolicyRef {
	s := &sets[c.si]
	r := &s.Rules[c.ri]
	return PolicyRef{Requester: s.Requester, Rule: r.Name, Policy: r.Policies[c.pi].Name,
		RuleIndex: int(c.ri), PolicyIndex: int(c.pi)}
}

// Resolve merges the policy sets of all requesters (R2) and resolves them
// against the paths ps at time now (R3): it skips expired policies, elects
// the rules whose conditions hold, removes duplicates and the losers of
// contradictions (with a warning), and turns every remaining policy into
// one FilterRule, or into a PolicyError and a fallback rule.
//
// Paths in use are the Up ones, except that paths at their data cap are
// used only when no other path is Up. A path satisfies an Action if it is
// in use and meets every stated limit; a limit on something not measured
// yet (delay, jitter and loss before the first RTT sample, bandwidth of
// unknown capacity) is not met. The satisfying paths are ranked by the
// policy's Prefer, ties by BID; with prev, the Resolution this one
// replaces, a policy stays on the path(s) it had unless they no longer
// satisfy it or a path better by a margin (20 % and 1 ms on delay and
// jitter, 20 % and 0.5 points on loss, 20 % on bandwidth, any amount on
// cost) appears, so that flows do not flip between near-equal paths.
//
// The rules are in match order: Priority descending, then the more
// specific selector (longer prefixes, then fewer ports), then submission
// order (set, rule, policy). Resolve does not modify sets or ps, and the
// result shares the selectors' slices with sets. It never fails: every
// problem is in Errors or Warnings.
func Resolve(sets []PolicySet, ps []PathInfo, now time.Time, prev *Resolution) *Resolution {
	return ResolveWith(nil, sets, ps, now, prev)
}

// ResolveWith is Resolve with defaultPrefer as the ranking of the policies
// that state none (a router's policy.default_prefer); nil or empty means
// cost, then delay.
func ResolveWith(defaultPrefer []Criterion, sets []PolicySet, ps []PathInfo, now time.Time, prev *Resolution) *Resolution {
	res := &Resolution{}
	e := newEnv(ps)
	e.defPrefer = defaultPrefer
	total := 0
	for si := range sets {
		for ri := range sets[si].Rules {
			total += len(sets[si].Rules[ri].Policies)
		}
	}
	res.seqHash = make([]uint64, total)
	res.seqRule = make([]int32, total)

	// C: elect.
	cands := make([]cand, 0, total)
	seq := int32(-1)
	for si := range sets {
		set := &sets[si]
		for ri := range set.Rules {
			rule := &set.Rules[ri]
			condErr := ""
			for ci := range rule.When {
				if errs := checkCondition(&rule.When[ci]); len(errs) > 0 {
					condErr = joinFieldErrors("when["+strconv.Itoa(ci)+"].", errs)
					break
				}
			}
			elected := condErr == "" && e.holds(rule.When)
			for pi := range rule.Policies {
				p := &rule.Policies[pi]
				seq++
				h := refHash(set.Requester, rule.Name, p.Name)
				res.seqHash[seq], res.seqRule[seq] = h, -1
				if !p.Expires.IsZero() && !now.Before(p.Expires) {
					continue
				}
				ref := PolicyRef{Requester: set.Requester, Rule: rule.Name, Policy: p.Name, RuleIndex: ri, PolicyIndex: pi}
				msg := condErr
				if errs := checkPolicy(p); len(errs) > 0 {
					msg = joinFieldErrors("", errs)
				}
				if msg == "" && !validName(rule.Name) {
					msg = "rule name " + strconv.Quote(rule.Name) + " is not valid: use " + nameRule
				}
				if msg != "" {
					res.Errors = append(res.Errors, PolicyError{Ref: ref, Code: CodeInvalid, Msg: msg})
					continue
				}
				if elected {
					cands = append(cands, cand{hash: h, si: int32(si), ri: int32(ri), pi: int32(pi), seq: seq})
				}
			}
		}
	}

	// Names must be unique: sorted by name hash, repeats are adjacent.
	keys := make([]sortKey, len(cands))
	for i := range cands {
		keys[i] = sortKey{cands[i].hash, uint64(i)}
	}
	sortByHi(keys)
	for i := 1; i < len(keys); i++ {
		c := &cands[keys[i].lo]
		for j := i - 1; j >= 0 && keys[j].hi == c.hash; j-- {
			if sameRef(cands[keys[j].lo].ref(sets), c.ref(sets)) {
				c.removed = true
				res.Errors = append(res.Errors, PolicyError{Ref: c.ref(sets), Code: CodeInvalid,
					Msg: "the name " + c.ref(sets).String() + " is used twice; policies need unique names within a rule, rules within a set"})
				break
			}
		}
	}

	// R3: one policy per selector and target. Sorted by selector hash,
	// candidates with the same selector are adjacent, in submission order.
	keys = keys[:0]
	for i := range cands {
		if !cands[i].removed {
			keys = append(keys, sortKey{selectorHash(&cands[i].pol(sets).Selector), uint64(i)})
		}
	}
	sortByHi(keys)
	for i := 1; i < len(keys); i++ {
		c := &cands[keys[i].lo]
		for j := i - 1; j >= 0 && keys[j].hi == keys[i].hi && !c.removed; j-- {
			o := &cands[keys[j].lo]
			if o.removed || !targetsOverlap(o.pol(sets).Target, c.pol(sets).Target) || !sameSelector(&o.pol(sets).Selector, &c.pol(sets).Selector) {
				continue
			}
			res.Warnings = append(res.Warnings, settle(sets, o, c))
		}
	}

	// Match order, which depends on the selectors alone.
	keys = keys[:0]
	for i := range cands {
		if c := &cands[i]; !c.removed {
			keys = append(keys, newOrderKey(c.pol(sets), i))
		}
	}
	sortByHi(keys)

	// D: decide the paths of each remaining policy.
	find := prevFinder{prev: prev}
	res.Rules = make([]FilterRule, len(keys))
	var bids []paths.BID
	for pos, k := range keys {
		c := &cands[k.lo]
		res.seqRule[c.seq] = int32(pos)
		p := c.pol(sets)
		fr := &res.Rules[pos]
		*fr = FilterRule{Index: pos, Ref: c.ref(sets), Target: p.Target, Selector: p.Selector, Mode: p.Mode, Priority: p.Priority}
		if p.Mode == ModeDrop {
			continue
		}
		var was []paths.BID
		if pr := find.rule(sets, c); pr != nil {
			was = pr.BIDs
		}
		order := e.satisfying(&p.Action)
		if len(order) == 0 {
			res.Errors = append(res.Errors, PolicyError{Ref: c.ref(sets), Code: CodeNoPath, Msg: e.explain(p)})
			fr.Fallback = true
			if p.Strict {
				fr.Mode = ModeDrop
				continue
			}
			fr.Mode = ModeSingle
			order = e.ranked(e.usable, e.prefer(&p.Action), was, 1)
		} else {
			k := 1
			switch p.Mode {
			case ModeRedundant:
				k = p.copies()
			case ModeStripe:
				k = 0
			}
			order = e.ranked(order, e.prefer(&p.Action), was, k)
			if p.Mode == ModeRedundant && len(order) > k {
				order = order[:k]
			}
		}
		order = order[:min(len(order), MaxBIDs)]
		start := len(bids)
		for _, pi := range order {
			bids = append(bids, e.paths[pi].BID)
		}
		fr.BIDs = bids[start:len(bids):len(bids)]
		if fr.Mode == ModeStripe {
			fr.Weights = e.weights(order)
		}
	}
	return res
}

// sortKey is a 128-bit key for sorting.
type sortKey struct{ hi, lo uint64 }

// sortByHi sorts keys by hi, stably, so that keys made in order of lo end
// up in order of (hi, lo). It is a radix sort: resolution sorts every
// policy three times, and comparison sorts were a quarter of its time.
func sortByHi(keys []sortKey) {
	if len(keys) < 256 {
		slices.SortStableFunc(keys, func(a, b sortKey) int { return cmp.Compare(a.hi, b.hi) })
		return
	}
	src, dst := keys, make([]sortKey, len(keys))
	for shift := 0; shift < 64; shift += 8 {
		var count [256]int
		for i := range src {
			count[byte(src[i].hi>>shift)]++
		}
		if count[byte(src[0].hi>>shift)] == len(src) {
			continue // all alike in this byte
		}
		sum := 0
		for b, n := range count {
			count[b], sum = sum, sum+n
		}
		for i := range src {
			b := byte(src[i].hi >> shift)
			dst[count[b]] = src[i]
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

// newOrderKey returns the key that sorts candidate i, policy p, into match
// order: Priority descending, then the shortest listed prefix of Src plus
// that of Dst descending, then the ports covered ascending, then the number
// of Proto, DSCP and FlowLabel lists that are not "any" descending, then
// submission order.
func newOrderKey(p *Policy, i int) sortKey {
	s := &p.Selector
	lists := uint64(0)
	for _, n := range [3]int{len(s.Proto), len(s.DSCP), len(s.FlowLabel)} {
		if n > 0 {
			lists++
		}
	}
	prio := uint64(math.MaxInt32 - int64(max(min(p.Priority, math.MaxInt32), math.MinInt32))) // < 2^32, high first
	bits := uint64(256 - minBits(s.Src) - minBits(s.Dst))                                     // < 2^9, long first
	span := uint64(portSpan(s.SrcPorts) + portSpan(s.DstPorts))                               // < 2^18
	return sortKey{hi: prio<<29 | bits<<20 | span<<2 | (3 - lists), lo: uint64(i)}
}

// prevFinder finds a policy's rule in the previous resolution: by its
// submission position when the sets are unchanged, else by its names.
type prevFinder struct {
	prev  *Resolution
	byRef map[uint64]int32 // built on first need
}

func (f *prevFinder) rule(sets []PolicySet, c *cand) *FilterRule {
	pr := f.prev
	if pr == nil {
		return nil
	}
	j := int32(-1)
	if int(c.seq) < len(pr.seqHash) && pr.seqHash[c.seq] == c.hash {
		j = pr.seqRule[c.seq]
	} else {
		if f.byRef == nil {
			f.byRef = make(map[uint64]int32, len(pr.Rules))
			for i := range pr.Rules {
				r := &pr.Rules[i].Ref
				f.byRef[refHash(r.Requester, r.Rule, r.Policy)] = int32(i)
			}
		}
		if i, ok := f.byRef[c.hash]; ok {
			j = i
		}
	}
	if j < 0 || int(j) >= len(pr.Rules) || !sameRef(pr.Rules[j].Ref, c.ref(sets)) {
		return nil
	}
	return &pr.Rules[j]
}

func sameRef(a, b PolicyRef) bool {
	return a.Requester == b.Requester && a.Rule == b.Rule && a.Policy == b.Policy
}

// settle decides between two candidates with the same selector and
// overlapping targets, o submitted before c: the higher priority wins, and
// on a tie the earlier. It marks the loser removed.
func settle(sets []PolicySet, o, c *cand) Warning {
	win, lose := o, c
	if c.pol(sets).Priority > o.pol(sets).Priority {
		win, lose = c, o
	}
	lose.removed = true
	w := Warning{Removed: lose.ref(sets), Kept: win.ref(sets)}
	why := "the higher priority wins"
	if win.pol(sets).Priority == lose.pol(sets).Priority {
		why = "at equal priority the earlier submission wins"
	}
	if sameAction(o.pol(sets), c.pol(sets)) {
		w.Kind = "duplicate"
		w.Msg = "duplicate of " + win.ref(sets).String() + " (same selector and action), removed"
		if win.pol(sets).Priority != lose.pol(sets).Priority {
			w.Msg += "; " + why
		}
		return w
	}
	w.Kind = "contradiction"
	w.Msg = "same selector as " + win.ref(sets).String() + " (priority " + strconv.Itoa(win.pol(sets).Priority) +
		") but a different action (priority " + strconv.Itoa(lose.pol(sets).Priority) + "): removed, " + why
	return w
}

func targetsOverlap(a, b Target) bool { return a == b || a == TargetBoth || b == TargetBoth }

// sameAction reports whether two policies with the same selector would
// send their flows the same way.
func sameAction(p, q *Policy) bool {
	a, b := &p.Action, &q.Action
	limit := func(x, y float64) bool { return x < 0 && y < 0 || x == y }
	return p.Target == q.Target && p.Mode == q.Mode && p.Strict == q.Strict &&
		(p.Mode != ModeRedundant || p.copies() == q.copies()) &&
		a.MaxDelay == b.MaxDelay && a.MaxJitter == b.MaxJitter && limit(a.MaxLoss, b.MaxLoss) &&
		a.MinBandwidth == b.MinBandwidth && limit(a.MaxCost, b.MaxCost) && a.AllowMetered == b.AllowMetered &&
		sameSet(a.Require, b.Require) && sameSet(a.Forbid, b.Forbid) && slices.Equal(a.prefer(), b.prefer())
}

// sameSet reports whether a and b, lists without repeats, hold the same
// elements.
func sameSet[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func sameSelector(a, b *Selector) bool {
	return sameSet(a.Src, b.Src) && sameSet(a.Dst, b.Dst) && sameSet(a.SrcPorts, b.SrcPorts) &&
		sameSet(a.DstPorts, b.DstPorts) && sameSet(a.Proto, b.Proto) && sameSet(a.DSCP, b.DSCP) &&
		sameSet(a.FlowLabel, b.FlowLabel)
}

// refHash hashes a policy's names.
func refHash(req, rule, pol string) uint64 {
	h := hashString(hashSeed, req)
	h = hashString(h^k1, rule)
	return hashString(h^k2, pol)
}

// hashString mixes s into h.
func hashString(h uint64, s string) uint64 {
	h = mum(h^k0, uint64(len(s))^k3)
	for len(s) >= 8 {
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h = mum(h^w, k1)
		s = s[8:]
	}
	var w uint64
	for i := 0; i < len(s); i++ {
		w |= uint64(s[i]) << (8 * i)
	}
	return fmix(mum(h^w, k2))
}

// selectorHash hashes a selector so that selectors with the same sets (in
// any order) hash alike: each list hashes to the sum of its elements'
// mixed hashes.
func selectorHash(s *Selector) uint64 {
	var sums [7]uint64
	for l, ps := range [2][]netip.Prefix{s.Src, s.Dst} {
		for _, p := range ps {
			a := p.Addr().As16()
			w0, w1 := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])
			if p.Addr().Is4() {
				w0 ^= 4
			}
			sums[l] += fmix(mum(w0^k0, w1^k1) ^ uint64(p.Bits()) ^ k3)
		}
	}
	for l, rs := range [2][]PortRange{s.SrcPorts, s.DstPorts} {
		for _, r := range rs {
			sums[2+l] += fmix(uint64(r.Lo)<<16 | uint64(r.Hi) ^ k3)
		}
	}
	for _, p := range s.Proto {
		sums[4] += fmix(uint64(p) ^ k3)
	}
	for _, d := range s.DSCP {
		sums[5] += fmix(uint64(d) ^ k3)
	}
	for _, f := range s.FlowLabel {
		sums[6] += fmix(uint64(f) ^ k3)
	}
	h := hashSeed
	for _, v := range sums {
		h = mum(h^v, k1)
	}
	return h
}

func minBits(ps []netip.Prefix) int {
	if len(ps) == 0 {
		return 0
	}
	m := ps[0].Bits()
	for _, p := range ps[1:] {
		m = min(m, p.Bits())
	}
	return m
}

func portSpan(rs []PortRange) int {
	if len(rs) == 0 {
		return anyPorts
	}
	n := 0
	for _, r := range rs {
		n += r.size()
	}
	return min(n, anyPorts)
}

func joinFieldErrors(prefix string, errs []fieldError) string {
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(prefix + e.key + ": " + e.msg)
	}
	return b.String()
}

// env is the paths as resolution sees them.
type env struct {
	paths   []PathInfo // BID order, no BID 0, no repeats
	inUse   []bool     // Up, and not at the data cap unless no other path is Up
	usable  []int      // indexes of the paths in use
	scratch []int      // for satisfying
	rank    []int      // for ranked

	defPrefer []Criterion // the ranking of policies that state none; nil: defaultPrefer
}

// prefer returns a's ranking, or the default one if a states none.
func (e *env) prefer(a *Action) []Criterion {
	if len(a.Prefer) == 0 && len(e.defPrefer) > 0 {
		return e.defPrefer
	}
	return a.prefer()
}

func newEnv(ps []PathInfo) *env {
	e := &env{}
	for _, p := range ps {
		if p.BID == 0 || slices.ContainsFunc(e.paths, func(q PathInfo) bool { return q.BID == p.BID }) {
			continue
		}
		e.paths = append(e.paths, p)
	}
	slices.SortFunc(e.paths, func(a, b PathInfo) int { return cmp.Compare(a.BID, b.BID) })
	uncapped := slices.ContainsFunc(e.paths, func(p PathInfo) bool { return p.Up && !p.CapReached })
	e.inUse = make([]bool, len(e.paths))
	for i, p := range e.paths {
		if p.Up && (!p.CapReached || !uncapped) {
			e.inUse[i] = true
			e.usable = append(e.usable, i)
		}
	}
	return e
}

// holds reports whether all conditions hold.
func (e *env) holds(when []Condition) bool {
	for i := range when {
		c := &when[i]
		exists := false
		for _, pi := range e.usable {
			if e.satisfies(&c.Match, pi) {
				exists = true
				break
			}
		}
		if exists != c.Exists {
			return false
		}
	}
	return true
}

// satisfying returns the paths in use that satisfy a, in BID order, in a
// scratch slice valid until the next call.
func (e *env) satisfying(a *Action) []int {
	out := e.scratch[:0]
	for _, pi := range e.usable {
		if e.satisfies(a, pi) {
			out = append(out, pi)
		}
	}
	e.scratch = out
	return out
}

// satisfies reports whether path i, in use, meets every limit of a.
func (e *env) satisfies(a *Action, i int) bool {
	p := &e.paths[i]
	measured := p.RTT > 0
	switch {
	case a.MaxDelay > 0 && (!measured || p.RTT/2 > a.MaxDelay),
		a.MaxJitter > 0 && (!measured || p.Jitter > a.MaxJitter),
		a.MaxLoss >= 0 && (!measured || p.Loss > a.MaxLoss),
		a.MinBandwidth > 0 && !(p.Capacity >= a.MinBandwidth),
		a.MaxCost >= 0 && !(p.CostPerGB <= a.MaxCost),
		!a.AllowMetered && p.Metered:
		return false
	}
	for _, t := range a.Require {
		if !slices.Contains(p.Tags, t) {
			return false
		}
	}
	for _, t := range a.Forbid {
		if slices.Contains(p.Tags, t) {
			return false
		}
	}
	return true
}

// explain says why no path satisfies p: each path's failed limits.
func (e *env) explain(p *Policy) string {
	var b strings.Builder
	b.WriteString("no path satisfies the policy: ")
	if len(e.paths) == 0 {
		b.WriteString("there are no paths")
	}
	for i := range e.paths {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.paths[i].name() + ": " + e.failures(&p.Action, i))
	}
	switch {
	case p.Strict:
		b.WriteString("; dropping its flows (strict)")
	case len(e.usable) == 0:
		b.WriteString("; no path is up")
	default:
		best := e.ranked(e.usable, e.prefer(&p.Action), nil, 0)[0]
		b.WriteString("; falling back to the default path " + e.paths[best].name())
	}
	return b.String()
}

// failures lists the limits of a that path i fails.
func (e *env) failures(a *Action, i int) string {
	p := &e.paths[i]
	switch {
	case !p.Up:
		return "down"
	case !e.inUse[i]:
		return "at its data cap"
	}
	var fs []string
	measured := p.RTT > 0
	if a.MaxDelay > 0 {
		switch {
		case !measured:
			fs = append(fs, "delay not measured yet")
		case p.RTT/2 > a.MaxDelay:
			fs = append(fs, "delay "+(p.RTT/2).String()+" > "+a.MaxDelay.String())
		}
	}
	if a.MaxJitter > 0 {
		switch {
		case !measured:
			fs = append(fs, "jitter not measured yet")
		case p.Jitter > a.MaxJitter:
			fs = append(fs, "jitter "+p.Jitter.String()+" > "+a.MaxJitter.String())
		}
	}
	if a.MaxLoss >= 0 {
		switch {
		case !measured:
			fs = append(fs, "loss not measured yet")
		case p.Loss > a.MaxLoss:
			fs = append(fs, "loss "+formatLoss(p.Loss)+" > "+formatLoss(a.MaxLoss))
		}
	}
	if a.MinBandwidth > 0 {
		switch {
		case p.Capacity <= 0:
			fs = append(fs, "bandwidth unknown")
		case p.Capacity < a.MinBandwidth:
			fs = append(fs, "bandwidth "+formatBandwidth(p.Capacity)+" < "+formatBandwidth(a.MinBandwidth))
		}
	}
	if a.MaxCost >= 0 && !(p.CostPerGB <= a.MaxCost) {
		fs = append(fs, "cost "+formatNum(p.CostPerGB)+" > "+formatNum(a.MaxCost))
	}
	if !a.AllowMetered && p.Metered {
		fs = append(fs, "metered")
	}
	for _, t := range a.Require {
		if !slices.Contains(p.Tags, t) {
			fs = append(fs, "no tag "+t)
		}
	}
	for _, t := range a.Forbid {
		if slices.Contains(p.Tags, t) {
			fs = append(fs, "tag "+t)
		}
	}
	if len(fs) == 0 {
		return "satisfies it"
	}
	return strings.Join(fs, ", ")
}

// ranked returns the paths of set (indexes into e.paths) best first by
// prefer, ties by BID, in a slice valid until the next call. With was, the
// BIDs a policy had, the first k places keep the previous choices unless a
// path better by a margin takes them.
func (e *env) ranked(set []int, prefer []Criterion, was []paths.BID, k int) []int {
	order := append(e.rank[:0], set...)
	e.rank = order
	slices.SortStableFunc(order, func(a, b int) int { return e.compare(a, b, prefer) })
	for pos := 0; pos < k && pos < len(order); pos++ {
		for _, bid := range was[:min(k, len(was))] {
			j := slices.IndexFunc(order[pos:], func(pi int) bool { return e.paths[pi].BID == bid })
			if j < 0 {
				continue // no longer satisfies, or already placed
			}
			j += pos
			if j != pos && !e.better(order[pos], order[j], prefer) {
				keep := order[j]
				copy(order[pos+1:j+1], order[pos:j])
				order[pos] = keep
			}
			break
		}
	}
	return order
}

// value returns path i's value for criterion c, lower is better, and
// whether it is known.
func (e *env) value(i int, c Criterion) (float64, bool) {
	p := &e.paths[i]
	switch c {
	case CriterionCost:
		return p.CostPerGB, true
	case CriterionDelay:
		return float64(p.RTT), p.RTT > 0
	case CriterionJitter:
		return float64(p.Jitter), p.RTT > 0
	case CriterionLoss:
		return p.Loss, p.RTT > 0
	case CriterionBandwidth:
		return -p.Capacity, p.Capacity > 0
	}
	return 0, true
}

// compare ranks paths a and b exactly: by each criterion (unknown last),
// then by BID.
func (e *env) compare(a, b int, prefer []Criterion) int {
	for _, c := range prefer {
		va, ka := e.value(a, c)
		vb, kb := e.value(b, c)
		switch {
		case ka != kb:
			if ka {
				return -1
			}
			return 1
		case va != vb && ka:
			return cmp.Compare(va, vb)
		}
	}
	return cmp.Compare(e.paths[a].BID, e.paths[b].BID)
}

// better reports whether path a is better than path b by more than the
// hysteresis margin on the first criterion where they differ by more.
func (e *env) better(a, b int, prefer []Criterion) bool {
	for _, c := range prefer {
		va, ka := e.value(a, c)
		vb, kb := e.value(b, c)
		switch {
		case ka != kb:
			return ka
		case !ka:
			continue
		}
		if d := clearlyLess(c, va, vb); d != 0 {
			return d < 0
		}
	}
	return false
}

// clearlyLess compares two known values of criterion c (lower is better):
// -1 if a is lower by more than the margin, 1 if b is, 0 if neither.
func clearlyLess(c Criterion, a, b float64) int {
	lower := func(x, y float64) bool {
		switch c {
		case CriterionCost:
			return x < y
		case CriterionDelay, CriterionJitter:
			return x < y*(1-marginRatio) && y-x >= float64(marginDelay)
		case CriterionLoss:
			return x < y*(1-marginRatio) && y-x >= marginLoss
		case CriterionBandwidth: // negated capacities
			return -x > -y*(1+marginRatio)
		}
		return false
	}
	switch {
	case lower(a, b):
		return -1
	case lower(b, a):
		return 1
	}
	return 0
}

// weights returns the stripe weights of the paths in order: their shares
// of the total capacity, each at least 1/(4n) of it. Capacity estimates
// come from what the paths carried, so a path that got few flows looks
// slow; without the floor it would get ever fewer flows and never show
// what it can do.
func (e *env) weights(order []int) []uint32 {
	w := make([]uint32, len(order))
	total := 0.0
	for _, pi := range order {
		c := e.paths[pi].Capacity
		if !(c > 0) || math.IsInf(c, 0) {
			total = 0
			break
		}
		total += c
	}
	floor := uint32(max(1, weightScale/(4*len(order))))
	for i, pi := range order {
		w[i] = stripeNone
		if total > 0 && !math.IsInf(total, 0) {
			w[i] = max(floor, uint32(math.Round(e.paths[pi].Capacity/total*weightScale)))
		}
	}
	return w
}
