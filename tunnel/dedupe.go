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
// let a late copy through (delivered twice, never lost).
const (
	dupSlots  = 4096
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
	h := maphash.Bytes(f.seed, pkt) | 1 // never 0, the empty slot
	s := &f.slots[h&(dupSlots-1)]
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.h == h && now-s.at < dupWindow {
		return true
	}
	s.h, s.at = h, now
	return false
}
