// SPDX-License-Identifier: MIT

package tunnel

import (
	"net/netip"
	"slices"
	"sync/atomic"

	"monami/paths"
)

// flowTable remembers, per flow, the BID its last uplink packet came in on,
// so downlink traffic of the flow goes back over the same path. It is a
// direct-mapped table of atomic words: a collision only means the flow is
// placed by hashing instead, never a wrong delivery. Safe for concurrent
// use without locks.
type flowTable struct {
	slots []atomic.Uint64 // tag (high 48 bits of the hash) | BID
	mask  uint64
}

func (t *flowTable) init(n int) {
	if n <= 0 {
		n = 1 << 18
	}
	size := 1
	for size < n {
		size <<= 1
	}
	t.slots = make([]atomic.Uint64, size)
	t.mask = uint64(size - 1)
}

func (t *flowTable) put(h uint64, bid paths.BID) {
	v := h&^0xffff | uint64(bid)
	s := &t.slots[h&t.mask]
	if s.Load() != v { // avoid dirtying the cache line for every packet
		s.Store(v)
	}
}

func (t *flowTable) get(h uint64) paths.BID {
	v := t.slots[h&t.mask].Load()
	if v&^0xffff != h&^0xffff {
		return 0
	}
	return paths.BID(v & 0xffff)
}

// prefixTable maps addresses to peers by longest prefix match: one map per
// prefix length present, probed from the longest length down. Immutable.
type prefixTable struct {
	v4, v6 []prefixLevel
}

type prefixLevel struct {
	bits int
	m    map[netip.Prefix]*peer
}

type prefixEntry struct {
	p  netip.Prefix
	pe *peer
}

func newPrefixTable(es []prefixEntry) prefixTable {
	var t prefixTable
	for _, e := range es {
		lv := &t.v4
		if e.p.Addr().Is6() {
			lv = &t.v6
		}
		i := slices.IndexFunc(*lv, func(l prefixLevel) bool { return l.bits == e.p.Bits() })
		if i < 0 {
			*lv = append(*lv, prefixLevel{bits: e.p.Bits(), m: map[netip.Prefix]*peer{}})
			i = len(*lv) - 1
		}
		(*lv)[i].m[e.p.Masked()] = e.pe
	}
	for _, lv := range []*[]prefixLevel{&t.v4, &t.v6} {
		slices.SortFunc(*lv, func(a, b prefixLevel) int { return b.bits - a.bits })
	}
	return t
}

func (t *prefixTable) lookup(a netip.Addr) *peer {
	lv := t.v4
	if a.Is6() {
		lv = t.v6
	}
	for _, l := range lv {
		p, _ := a.Prefix(l.bits)
		if pe := l.m[p]; pe != nil {
			return pe
		}
	}
	return nil
}
