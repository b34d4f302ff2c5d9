// SPDX-License-Identifier: MIT

package classifier

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync/atomic"

	"monami/paths"
)

// This file is the installation side of the paper's framework (module G):
// filter rules compiled into an immutable table the data path reads, and
// the per-reader flow cache in front of it.
//
// The table is a tuple space search. Every rule is entered under keys made
// of its fields that can be hashed: source and destination prefixes (per
// address family), protocol and exact destination port. Rules whose keys
// have the same shape (prefix lengths; protocol or port keyed or not) form
// a tuple, and one open-addressing hash table holds the keys of all tuples,
// each pointing to its rules in match order. A lookup probes each tuple of
// the packet's family once, with the packet's fields masked to the tuple's
// shape, and checks the candidates fully; tuples are visited in order of
// their first rule, so the search stops as soon as no tuple can hold an
// earlier match. When many prefix lengths are in use, the lengths of the
// keys are rounded down (a coarser key is only a filter: the full check
// decides), which bounds the number of tuples, and so the cost of a lookup.

// MaxBIDs is the most paths one Decision names.
const MaxBIDs = 8

const (
	maxTuples   = 24 // per family, after rounding prefix lengths
	maxExpand   = 64 // keys per rule and family before fields are left out of them
	maxKeyPorts = 16 // a rule's destination ports are keyed if it lists at most this many
	famV4       = 0  // index of the IPv4 tuples
	famV6       = 1  // index of the IPv6 tuples
	slotUsed    = 1 << 63
)

// Decision is what the table says about one packet: the mode and the BIDs
// of the first rule that matches. It is a value without pointers.
type Decision struct {
	Mode Mode
	// N is the number of BIDs (and Weights) in use; 0 for drop and for a
	// rule without paths.
	N       uint8
	BIDs    [MaxBIDs]paths.BID
	Weights [MaxBIDs]uint32
	// Rule is the index, in the slice given to Compile, of the rule that
	// matched; -1 if none did, in which case the caller applies its
	// default (hashing the flow over the Up paths).
	Rule int32
}

// Table is a compiled set of filter rules: an immutable value, safe for
// concurrent readers. The data path holds the current one in an
// atomic.Pointer and the control plane swaps in a new one after each
// resolution. A nil *Table matches nothing.
type Table struct {
	id     uint64 // identity for FlowCache entries; never 0
	rules  []crule
	tuples [2][]tuple // per family, by their first rule
	slots  []slot     // open addressing, linear probing
	mask   uint64     // len(slots) - 1
	cands  []int32    // rule indexes of the slots, each run ascending

	// The rules' lists, which crules refer to by span, so that nothing
	// above holds a pointer for the garbage collector to scan.
	prefixes []cprefix
	ports    []PortRange
	labels   []uint32
	sigs     []uint64 // selectorHash of each rule, for Update
}

// span is a part of one of the Table's lists.
type span struct{ off, n uint32 }

func of[T any](list []T, s span) []T { return list[s.off : s.off+s.n] }

// crule is one rule in the form the table checks it.
type crule struct {
	src, dst       span      // of Table.prefixes
	sports, dports span      // of Table.ports
	labels         span      // of Table.labels
	proto          [4]uint64 // bitmap, when flags has fProto
	dscp           uint64    // bitmap, when flags has fDSCP
	flags          uint8
	dec            Decision
}

const (
	fProto uint8 = 1 << iota
	fDSCP
	fPorts
	fLabel
	fV4 // the rule can match IPv4 packets
	fV6 // the rule can match IPv6 packets
)

// cprefix is a prefix as masked 128-bit words: an IPv4 address fills the
// top 32 bits of hi.
type cprefix struct {
	hi, lo, mhi, mlo uint64
	bits             uint8
	v6               bool
}

func addrWords(a netip.Addr) (hi, lo uint64) {
	if a.Is4() {
		b := a.As4()
		return uint64(binary.BigEndian.Uint32(b[:])) << 32, 0
	}
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

func maskWords(n int) (hi, lo uint64) {
	switch {
	case n <= 0:
		return 0, 0
	case n < 64:
		return ^uint64(0) << (64 - n), 0
	case n < 128:
		return ^uint64(0), ^uint64(0) << (128 - n)
	}
	return ^uint64(0), ^uint64(0)
}

func newCprefix(p netip.Prefix) cprefix {
	hi, lo := addrWords(p.Addr())
	mhi, mlo := maskWords(p.Bits())
	return cprefix{hi: hi & mhi, lo: lo & mlo, mhi: mhi, mlo: mlo, bits: uint8(p.Bits()), v6: p.Addr().Is6()}
}

func matchCprefixes(ps []cprefix, v6 bool, hi, lo uint64) bool {
	for i := range ps {
		p := &ps[i]
		if p.v6 == v6 && hi&p.mhi == p.hi && lo&p.mlo == p.lo {
			return true
		}
	}
	return false
}

// match reports whether rule r matches the packet p whose addresses, of
// family v6, are (sh, sl) and (dh, dl). It agrees with Selector.Matches.
func (t *Table) match(r *crule, v6 bool, sh, sl, dh, dl uint64, p *Parsed) bool {
	fam := fV4
	if v6 {
		fam = fV6
	}
	if r.flags&fam == 0 ||
		r.src.n > 0 && !matchCprefixes(of(t.prefixes, r.src), v6, sh, sl) ||
		r.dst.n > 0 && !matchCprefixes(of(t.prefixes, r.dst), v6, dh, dl) {
		return false
	}
	if r.flags&fPorts != 0 && (p.Fragment || !isPortProto(p.Proto) ||
		!matchPorts(of(t.ports, r.sports), p.SrcPort) || !matchPorts(of(t.ports, r.dports), p.DstPort)) {
		return false
	}
	if r.flags&fProto != 0 && r.proto[p.Proto>>6]&(1<<(p.Proto&63)) == 0 {
		return false
	}
	if r.flags&fDSCP != 0 && (p.DSCP > 63 || r.dscp&(1<<p.DSCP) == 0) {
		return false
	}
	return r.flags&fLabel == 0 || slices.Contains(of(t.labels, r.labels), p.FlowLabel)
}

// tuple is one key shape.
type tuple struct {
	sm0, sm1, dm0, dm1 uint64 // prefix masks
	id                 uint16
	pk, dk             bool  // protocol, destination port keyed
	first              int32 // lowest rule index in the tuple
}

// slot is one entry of the hash table: a key and its run of cands.
type slot struct {
	s0, s1, d0, d1 uint64
	meta           uint64 // slotUsed | tuple id<<32 | proto<<16 | port
	start, n       uint32
}

func slotHash(s0, s1, d0, d1, meta uint64) uint64 {
	h := mum(s0^k0, s1^k1)
	h = mum(d0^k2^h, d1^k3)
	return fmix(h ^ meta*k1)
}

func keyMeta(id uint16, proto uint8, port uint16) uint64 {
	return slotUsed | uint64(id)<<32 | uint64(proto)<<16 | uint64(port)
}

// Compile builds the lookup table of rules, which match in slice order:
// the first rule that matches a packet decides (Priority is not
// consulted). It checks every rule, since the home agent compiles rules it
// received, and returns the errors.Join of every problem. A rule's BIDs
// beyond MaxBIDs are an error; a stripe rule without Weights gets equal
// ones. Compile keeps no reference to rules.
func Compile(rules []FilterRule) (*Table, error) {
	if len(rules) >= math.MaxInt32 {
		return nil, fmt.Errorf("%d rules is too many", len(rules))
	}
	var errs []error
	var nPrefixes, nPorts, nLabels int
	for i := range rules {
		if err := checkRule(&rules[i]); err != nil {
			errs = append(errs, fmt.Errorf("rule %d (%s): %w", i, rules[i].Ref, err))
		}
		s := &rules[i].Selector
		nPrefixes += len(s.Src) + len(s.Dst)
		nPorts += len(s.SrcPorts) + len(s.DstPorts)
		nLabels += len(s.FlowLabel)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	t := &Table{
		id:       rand.Uint64() | 1,
		rules:    make([]crule, len(rules)),
		prefixes: make([]cprefix, 0, nPrefixes),
		ports:    make([]PortRange, 0, nPorts),
		labels:   make([]uint32, 0, nLabels),
		sigs:     make([]uint64, len(rules)),
	}
	for i := range rules {
		t.compile(&t.rules[i], &rules[i], int32(i))
		t.sigs[i] = selectorHash(&rules[i].Selector)
	}
	t.index(rules, &builder{})
	return t, nil
}

// checkRule checks a filter rule as Compile and the encoders take it.
func checkRule(fr *FilterRule) error {
	var c checker
	checkSelector(&c, &fr.Selector)
	checkPaths(&c, fr)
	if len(c.errs) > 0 {
		return errors.New(joinFieldErrors("", c.errs))
	}
	return nil
}

// checkPaths checks what a filter rule says beyond its selector.
func checkPaths(c *checker, fr *FilterRule) {
	switch {
	case fr.Mode > ModeDrop:
		c.add("mode", "invalid mode %d", fr.Mode)
	case fr.Mode == ModeDrop && len(fr.BIDs) > 0:
		c.add("bids", "a drop rule has no BIDs")
	case len(fr.BIDs) > MaxBIDs:
		c.add("bids", "%d BIDs; at most %d", len(fr.BIDs), MaxBIDs)
	case len(fr.Weights) != 0 && len(fr.Weights) != len(fr.BIDs):
		c.add("weights", "%d weights for %d BIDs", len(fr.Weights), len(fr.BIDs))
	}
	for j, b := range fr.BIDs {
		if b == 0 || slices.Contains(fr.BIDs[:j], b) {
			c.add("bids", "BID %v is zero or repeated", b)
			break
		}
	}
}

// builder holds the scratch space of appendEntries.
type builder struct {
	srcs, dsts []cprefix
	keyPorts   []uint16
	ents       []entry
}

// add appends xs to *list and returns their span.
func add[T any](list *[]T, xs []T) span {
	s := span{uint32(len(*list)), uint32(len(xs))}
	*list = append(*list, xs...)
	return s
}

// compile fills r from fr, which checkRule accepted, adding its lists to
// t's.
func (t *Table) compile(r *crule, fr *FilterRule, i int32) {
	s := &fr.Selector
	*r = crule{sports: add(&t.ports, s.SrcPorts), dports: add(&t.ports, s.DstPorts), labels: add(&t.labels, s.FlowLabel)}
	r.src.off = uint32(len(t.prefixes))
	for _, p := range s.Src {
		t.prefixes = append(t.prefixes, newCprefix(p))
	}
	r.src.n = uint32(len(s.Src))
	r.dst.off = uint32(len(t.prefixes))
	for _, p := range s.Dst {
		t.prefixes = append(t.prefixes, newCprefix(p))
	}
	r.dst.n = uint32(len(s.Dst))
	v4, v6 := s.families() // checkSelector made sure one is true
	if v4 {
		r.flags |= fV4
	}
	if v6 {
		r.flags |= fV6
	}
	if len(s.SrcPorts)+len(s.DstPorts) > 0 {
		r.flags |= fPorts
	}
	if len(s.Proto) > 0 {
		r.flags |= fProto
		for _, p := range s.Proto {
			r.proto[p>>6] |= 1 << (p & 63)
		}
	}
	if len(s.DSCP) > 0 {
		r.flags |= fDSCP
		for _, d := range s.DSCP {
			r.dscp |= 1 << d
		}
	}
	if len(s.FlowLabel) > 0 {
		r.flags |= fLabel
	}
	r.dec = decision(fr, i)
}

// decision returns the Decision of rule i, fr.
func decision(fr *FilterRule, i int32) Decision {
	d := Decision{Mode: fr.Mode, Rule: i}
	if fr.Mode != ModeDrop {
		d.N = uint8(len(fr.BIDs))
		copy(d.BIDs[:], fr.BIDs)
		copy(d.Weights[:], fr.Weights)
		if fr.Mode == ModeStripe && len(fr.Weights) == 0 {
			for j := range d.N {
				d.Weights[j] = 1
			}
		}
	}
	return d
}

// Update returns the table of rules, as Compile does, reusing t's index
// when rules have the same selectors in the same order as t's rules: what
// a path event does, since it changes only BIDs, weights and modes. Then
// it costs a copy of the decisions instead of a compilation (selectors are
// compared by a 64-bit hash of their sets). Otherwise, and for a nil t, it
// compiles. t is not changed.
func (t *Table) Update(rules []FilterRule) (*Table, error) {
	if t == nil || len(rules) != len(t.rules) {
		return Compile(rules)
	}
	for i := range rules {
		if selectorHash(&rules[i].Selector) != t.sigs[i] {
			return Compile(rules)
		}
	}
	var errs []error
	for i := range rules {
		var c checker
		if checkPaths(&c, &rules[i]); len(c.errs) > 0 {
			errs = append(errs, fmt.Errorf("rule %d (%s): %s", i, rules[i].Ref, joinFieldErrors("", c.errs)))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	u := *t // shares the index and the lists, which nobody changes
	u.id = rand.Uint64() | 1
	u.rules = slices.Clone(t.rules)
	for i := range rules {
		u.rules[i].dec = decision(&rules[i], int32(i))
	}
	return &u, nil
}

// entry is one key of one rule: first the rule's prefixes and fields,
// then, once the tuples are fixed, the key itself and its slot.
type entry struct {
	s0, s1, d0, d1 uint64
	meta           uint64
	rule           int32
	slot           uint32
	port           uint16
	proto          uint8
	sbits, dbits   uint8 // prefix lengths; 0 = not keyed
	pk, dk         bool  // proto, port keyed
}

// shape is the form of a key: what a tuple is.
type shape struct {
	sb, db uint8
	pk, dk bool
}

// index builds the tuples and the hash table.
func (t *Table) index(rules []FilterRule, b *builder) {
	var fams [2][]entry
	for fam := famV4; fam <= famV6; fam++ {
		b.ents = b.ents[:0]
		flag := fV4
		if fam == famV6 {
			flag = fV6
		}
		for i := range rules {
			if t.rules[i].flags&flag != 0 {
				r := &t.rules[i]
				b.appendEntries(of(t.prefixes, r.src), of(t.prefixes, r.dst), &rules[i].Selector, fam == famV6, int32(i))
			}
		}
		fams[fam] = slices.Clone(b.ents)
	}
	total := len(fams[famV4]) + len(fams[famV6])
	size := 8
	for size < 2*total {
		size *= 2
	}
	t.slots = make([]slot, size)
	t.mask = uint64(size - 1)
	for fam := famV4; fam <= famV6; fam++ {
		es := fams[fam]
		roundBits(es)
		var shapes []shape // of the tuples, by index
		for i := range es {
			e := &es[i]
			sh := shape{e.sbits, e.dbits, e.pk, e.dk}
			ti := slices.Index(shapes, sh) // at most maxTuples
			if ti < 0 {
				ti = len(shapes)
				shapes = append(shapes, sh)
				sm0, sm1 := maskWords(int(e.sbits))
				dm0, dm1 := maskWords(int(e.dbits))
				t.tuples[fam] = append(t.tuples[fam], tuple{sm0: sm0, sm1: sm1, dm0: dm0, dm1: dm1,
					id: uint16(fam*(maxTuples+1) + ti), pk: e.pk, dk: e.dk, first: e.rule})
			}
			tp := &t.tuples[fam][ti]
			tp.first = min(tp.first, e.rule)
			var proto uint8
			var port uint16
			if e.pk {
				proto = e.proto
			}
			if e.dk {
				port = e.port
			}
			e.s0, e.s1, e.d0, e.d1 = e.s0&tp.sm0, e.s1&tp.sm1, e.d0&tp.dm0, e.d1&tp.dm1
			e.meta = keyMeta(tp.id, proto, port)
			// Find or claim the key's slot, and count the rule in it
			// once (a family's entries come in rule order, so repeats
			// are consecutive; start holds the last rule + 1 for now).
			j := slotHash(e.s0, e.s1, e.d0, e.d1, e.meta) & t.mask
			for {
				s := &t.slots[j]
				if s.meta == 0 {
					*s = slot{s0: e.s0, s1: e.s1, d0: e.d0, d1: e.d1, meta: e.meta}
				}
				if s.meta == e.meta && s.s0 == e.s0 && s.s1 == e.s1 && s.d0 == e.d0 && s.d1 == e.d1 {
					if s.start != uint32(e.rule)+1 {
						s.start = uint32(e.rule) + 1
						s.n++
					}
					break
				}
				j = (j + 1) & t.mask
			}
			e.slot = uint32(j)
		}
		slices.SortFunc(t.tuples[fam], func(a, b tuple) int { return int(a.first) - int(b.first) })
	}
	// Lay the runs out, then fill them in rule order.
	n := uint32(0)
	for j := range t.slots {
		s := &t.slots[j]
		s.start, n = n, n+s.n
		s.n = 0
	}
	t.cands = make([]int32, n)
	for _, es := range fams {
		for i := range es {
			s := &t.slots[es[i].slot]
			if s.n > 0 && t.cands[s.start+s.n-1] == es[i].rule {
				continue
			}
			t.cands[s.start+s.n] = es[i].rule
			s.n++
		}
	}
}

// appendEntries appends to b.ents the keys of rule r for one family: the
// product of its prefixes, protocols and (few, exact) destination ports,
// leaving fields out of the keys while there would be more than maxExpand.
func (b *builder) appendEntries(src, dst []cprefix, s *Selector, v6 bool, i int32) {
	pick := func(to []cprefix, ps []cprefix) []cprefix {
		to = to[:0]
		for _, p := range ps {
			if p.v6 == v6 {
				to = append(to, p)
			}
		}
		if len(ps) == 0 {
			to = append(to, cprefix{})
		}
		return to
	}
	b.srcs, b.dsts = pick(b.srcs, src), pick(b.dsts, dst)
	srcs, dsts := b.srcs, b.dsts
	protos := s.Proto
	ports := b.keyPorts[:0]
	if len(s.DstPorts) > 0 && portSpan(s.DstPorts) <= maxKeyPorts {
		for _, pr := range s.DstPorts {
			for p := int(pr.Lo); p <= int(pr.Hi); p++ {
				ports = append(ports, uint16(p))
			}
		}
	}
	b.keyPorts = ports
	anyPrefix := []cprefix{{}}
	for len(srcs)*len(dsts)*max(1, len(protos))*max(1, len(ports)) > maxExpand {
		switch {
		case len(ports) > 0:
			ports = nil
		case len(protos) > 0:
			protos = nil
		case len(srcs) >= len(dsts):
			srcs = anyPrefix
		default:
			dsts = anyPrefix
		}
	}
	for _, sp := range srcs {
		for _, dp := range dsts {
			for pi := range max(1, len(protos)) {
				for qi := range max(1, len(ports)) {
					e := entry{s0: sp.hi, s1: sp.lo, d0: dp.hi, d1: dp.lo, rule: i, sbits: sp.bits, dbits: dp.bits}
					if len(protos) > 0 {
						e.pk, e.proto = true, protos[pi]
					}
					if len(ports) > 0 {
						e.dk, e.port = true, ports[qi]
					}
					b.ents = append(b.ents, e)
				}
			}
		}
	}
}

// roundBits rounds the prefix lengths of es down to multiples of the
// smallest power of two that leaves at most maxTuples shapes.
func roundBits(es []entry) {
	exact := map[shape]bool{}
	var last shape
	for i := range es {
		if sh := (shape{es[i].sbits, es[i].dbits, es[i].pk, es[i].dk}); i == 0 || sh != last {
			exact[sh], last = true, sh
		}
	}
	g := uint8(1)
	for ; g < 128; g *= 2 {
		rounded := map[shape]bool{}
		for sh := range exact {
			rounded[shape{sh.sb - sh.sb%g, sh.db - sh.db%g, sh.pk, sh.dk}] = true
		}
		if len(rounded) <= maxTuples {
			break
		}
	}
	if g == 1 {
		return
	}
	for i := range es {
		e := &es[i]
		e.sbits, e.dbits = e.sbits-e.sbits%g, e.dbits-e.dbits%g
	}
}

// Len returns the number of rules in t.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.rules)
}

// Lookup returns the decision of the first rule that matches p, or a
// Decision with Rule -1 if none does (or t is nil). It does not allocate
// and keeps no reference to p.
func (t *Table) Lookup(p *Parsed) Decision {
	if i := t.search(p); i >= 0 {
		return t.rules[i].dec
	}
	return Decision{Rule: -1}
}

// search returns the index of the first rule matching p, or -1.
func (t *Table) search(p *Parsed) int32 {
	if t == nil || !p.Src.IsValid() || !p.Dst.IsValid() || p.Src.Is4() != p.Dst.Is4() {
		return -1
	}
	v6 := p.Src.Is6()
	sh, sl := addrWords(p.Src)
	dh, dl := addrWords(p.Dst)
	fam := famV4
	if v6 {
		fam = famV6
	}
	best := int32(math.MaxInt32)
	portOK := !p.Fragment && isPortProto(p.Proto)
	for i := range t.tuples[fam] {
		tp := &t.tuples[fam][i]
		if tp.first >= best {
			break
		}
		if tp.dk && !portOK {
			continue
		}
		var proto uint8
		var port uint16
		if tp.pk {
			proto = p.Proto
		}
		if tp.dk {
			port = p.DstPort
		}
		s0, s1, d0, d1 := sh&tp.sm0, sl&tp.sm1, dh&tp.dm0, dl&tp.dm1
		meta := keyMeta(tp.id, proto, port)
		for j := slotHash(s0, s1, d0, d1, meta) & t.mask; ; j = (j + 1) & t.mask {
			s := &t.slots[j]
			if s.meta == 0 {
				break
			}
			if s.meta != meta || s.s0 != s0 || s.s1 != s1 || s.d0 != d0 || s.d1 != d1 {
				continue
			}
			for _, ri := range t.cands[s.start : s.start+s.n] {
				if ri >= best {
					break
				}
				if t.match(&t.rules[ri], v6, sh, sl, dh, dl, p) {
					best = ri
					break
				}
			}
			break
		}
	}
	if best == math.MaxInt32 {
		return -1
	}
	return best
}

// FlowCache remembers the decisions of recent flows in front of a Table:
// a 2-way set-associative array keyed by the flow (addresses, ports,
// protocol, DSCP, flow label, fragment flag) and the table's identity, so
// entries made with an older Table miss. It is owned by one goroutine, the
// data path's reader; only Snapshot may be called from others.
type FlowCache struct {
	sets [][2]cacheEntry
	mask uint64
	none Decision // returned for a nil table

	hits, misses atomic.Uint64
}

type cacheEntry struct {
	id  uint64 // Table.id; 0 = empty
	key flowKey
	dec Decision
}

type flowKey struct {
	src, dst     netip.Addr
	label        uint32
	sport, dport uint16
	proto, dscp  uint8
	frag         bool
}

// FlowCacheStats are a FlowCache's counters.
type FlowCacheStats struct {
	HitsTotal, MissesTotal uint64
}

// maxCacheEntries bounds a FlowCache (an entry is about 128 bytes).
const maxCacheEntries = 1 << 20

// NewFlowCache returns a cache of entries entries, rounded up to a power
// of two between 2 and 1<<20.
func NewFlowCache(entries int) *FlowCache {
	n := cacheSets(entries)
	return &FlowCache{sets: make([][2]cacheEntry, n), mask: uint64(n - 1), none: Decision{Rule: -1}}
}

// cacheSets returns the number of sets of two for a cache of entries.
func cacheSets(entries int) int {
	n := 1
	for n*2 < min(max(entries, 2), maxCacheEntries) {
		n *= 2
	}
	return n
}

// Lookup returns the decision of t for p, from the cache if this flow was
// looked up in t recently. h must be p.Hash(). The result points into the
// cache: it is valid until the next call and must not be modified. It
// does not allocate.
func (c *FlowCache) Lookup(t *Table, p *Parsed, h uint64) *Decision {
	if t == nil {
		c.none = Decision{Rule: -1}
		return &c.none
	}
	k := flowKey{src: p.Src, dst: p.Dst, label: p.FlowLabel, sport: p.SrcPort, dport: p.DstPort,
		proto: p.Proto, dscp: p.DSCP, frag: p.Fragment}
	set := &c.sets[h&c.mask]
	if set[0].id == t.id && set[0].key == k {
		c.hits.Add(1)
		return &set[0].dec
	}
	if set[1].id == t.id && set[1].key == k {
		c.hits.Add(1)
		return &set[1].dec
	}
	c.misses.Add(1)
	set[1] = set[0]
	set[0] = cacheEntry{id: t.id, key: k, dec: t.Lookup(p)}
	return &set[0].dec
}

// Snapshot returns the cache's counters. It is safe for concurrent use.
func (c *FlowCache) Snapshot() FlowCacheStats {
	return FlowCacheStats{HitsTotal: c.hits.Load(), MissesTotal: c.misses.Load()}
}
