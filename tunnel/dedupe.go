// SPDX-License-Identifier: MIT

package tunnel

import (
	"hash/maphash"
	"sync"
	"time"
)

// dupSlots is the size of a dupFilter: copies of one packet arrive within
// the paths' delay difference, so this many packets of redundant flows
// per dupWindow are told apart exactly; beyond that, an evicted entry can
// let a late copy through (delivered twice, never lost). The slots form
// sets of dupWays: a packet can take any slot of its set, so two packets
// whose hashes share a set do not evict each other (with one slot per
// hash, two of twenty packets in a row shared a slot about once in two
// hundred runs, and the late copy of the first got through).
const (
	dupSlots  = 4096
	dupWays   = 4
	dupWindow = int64(time.Second)
)

// dupFilter remembers the inner packets of recent copy frames
// (frame.TypeDataCopy), so that of the copies of one packet sent on
// several paths only the first to arrive is delivered. It is shared by
// the receive loops of one peer's paths. The zero value is not usable;
// use newDupFilter.
type dupFilter struct {
	seed  maphash.Seed
	mu    sync.Mutex
	slots [dupSlots]struct {
		h  uint64
		at int64
	}
}

func newDupFilter() *dupFilter { return &dupFilter{seed: maphash.MakeSeed()} }

// seen reports whether pkt was seen in the last dupWindow, and records it.
// It does not allocate.
func (f *dupFilter) seen(pkt []byte, now int64) bool {
	return f.seenHash(maphash.Bytes(f.seed, pkt)|1, now) // never 0, the empty slot
}

// seenHash is seen for a packet hash h (not 0). A new hash takes the
// empty or oldest slot of its set.
func (f *dupFilter) seenHash(h uint64, now int64) bool {
	set := f.slots[h&(dupSlots-1)&^(dupWays-1):][:dupWays]
	f.mu.Lock()
	defer f.mu.Unlock()
	victim := 0
	for i := range set {
		s := &set[i]
		if s.h == h && now-s.at < dupWindow {
			return true
		}
		if v := &set[victim]; v.h != 0 && (s.h == 0 || s.at < v.at) {
			victim = i
		}
	}
	set[victim].h, set[victim].at = h, now
	return false
}
