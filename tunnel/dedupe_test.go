// SPDX-License-Identifier: MIT

package tunnel

import (
	"testing"
	"time"
)

func TestDupFilter(t *testing.T) {
	const ms = int64(time.Millisecond)
	f := newDupFilter()
	if f.seen([]byte("a"), 0) {
		t.Fatal("the first copy of a packet counted as a duplicate")
	}
	if !f.seen([]byte("a"), 5*ms) {
		t.Fatal("the second copy of a packet was not a duplicate")
	}
	if f.seen([]byte("b"), 5*ms) {
		t.Fatal("another packet counted as a duplicate")
	}
	if f.seen([]byte("a"), dupWindow+ms) {
		t.Error("a packet a window later counted as a duplicate")
	}

	// Hashes that share a set: up to dupWays of them are remembered at
	// once, whatever order their copies arrive in.
	g := newDupFilter()
	hs := []uint64{0x101, 0x1101, 0x2101, 0x3101} // the same set, different hashes
	for i, h := range hs {
		if g.seenHash(h, int64(i)) {
			t.Fatalf("hash %#x: first copy a duplicate", h)
		}
	}
	for i, h := range hs {
		if !g.seenHash(h, int64(10+i)) {
			t.Errorf("hash %#x: the late copy got through after %d others of its set", h, len(hs)-1)
		}
	}
	// A fifth evicts the oldest, and only that one.
	g.seenHash(0x4101, 20)
	if g.seenHash(0x1101, 21) != true || g.seenHash(0x2101, 21) != true || g.seenHash(0x3101, 21) != true {
		t.Error("a new hash evicted a younger entry of its set")
	}
}

func TestDupFilterAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are not measured under -race")
	}
	f := newDupFilter()
	pkt := make([]byte, 1200)
	var n int64
	if a := testing.AllocsPerRun(1000, func() { n++; f.seen(pkt, n) }); a != 0 {
		t.Errorf("seen allocates %v times per packet", a)
	}
}

func BenchmarkDupFilter(b *testing.B) {
	f := newDupFilter()
	pkt := make([]byte, 200)
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		n++
		pkt[0], pkt[1] = byte(n), byte(n>>8)
		f.seen(pkt, n)
	}
}
