// SPDX-License-Identifier: MIT

package replay

import (
	"math/rand/v2"
	"testing"
)

func TestWindowSize(t *testing.T) {
	if WindowSize < 8128 {
		t.Fatalf("WindowSize = %d, want >= 8128", WindowSize)
	}
}

// step is one Check call and its expected result.
type step struct {
	c    uint64
	want bool
}

func run(t *testing.T, f *Filter, steps []step) {
	t.Helper()
	for i, s := range steps {
		if got := f.Check(s.c); got != s.want {
			t.Fatalf("step %d: Check(%d) = %v, want %v", i, s.c, got, s.want)
		}
	}
}

func seq(from, to uint64, want bool) []step {
	var s []step
	for c := from; c < to; c++ {
		s = append(s, step{c, want})
	}
	return s
}

func cat(ss ...[]step) []step {
	var out []step
	for _, s := range ss {
		out = append(out, s...)
	}
	return out
}

func TestCheck(t *testing.T) {
	const W = WindowSize
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name:  "zero value accepts 0 once",
			steps: []step{{0, true}, {0, false}, {1, true}, {0, false}, {1, false}},
		},
		{
			name:  "zero value accepts a first counter above 0, then 0",
			steps: []step{{5, true}, {0, true}, {5, false}, {0, false}},
		},
		{
			name:  "in order",
			steps: cat(seq(0, 3*8192, true), seq(3*8192-W, 3*8192, false)),
		},
		{
			name: "out of order within the window",
			steps: []step{
				{1000, true}, {999, true}, {500, true}, {1, true}, {0, true}, {1001, true},
				{999, false}, {500, false}, {1000, false}, {2, true}, {2, false},
			},
		},
		{
			name: "duplicates",
			steps: []step{
				{7, true}, {7, false}, {8, true}, {7, false}, {8, false},
				{100000, true}, {100000, false}, {99999, true}, {99999, false},
			},
		},
		{
			name:  "too old",
			steps: []step{{20000, true}, {20000 - W - 1, false}, {0, false}, {20000 - W - 100, false}, {20000 - W, true}},
		},
		{
			name: "window edge, top at a block start",
			steps: []step{
				{64 * 200, true}, {64*200 - W - 1, false}, {64*200 - W, true}, {64*200 - W, false},
				{64*200 - W + 1, true},
			},
		},
		{
			name: "window edge, top at a block end",
			steps: []step{
				{64*200 + 63, true}, {64*200 + 63 - W - 1, false}, {64*200 + 63 - W, true},
				{64*200 + 63 - W + 1, true},
			},
		},
		{
			name: "edge moves with top",
			steps: []step{
				{10000, true}, {10000 - W, true}, {10001, true}, {10000 - W, false}, {10001 - W, true},
				{10001 - W - 1, false},
			},
		},
		{
			name: "small jump clears only the passed blocks",
			steps: cat(
				seq(0, 8192, true),
				[]step{{8192 + 64*3, true}},
				// Slots 0..3 held counters 0..255; they now hold 8192..8447.
				seq(8192, 8192+64*3, true),
				// Still in the window, still remembered.
				seq(8192+64*3-W, 8192, false),
				// Fell out of the window.
				seq(0, 8192+64*3-W, false),
			),
		},
		{
			name: "jump of exactly one ring",
			steps: cat(
				seq(0, 64, true),
				[]step{{8192, true}, {0, false}, {63, false}, {8192 - W, true}, {64, false}, {65, true}},
			),
		},
		{
			name: "big jump forward clears everything",
			steps: cat(
				seq(0, 8192, true),
				[]step{{1 << 40, true}, {8191, false}, {0, false}},
				seq(1<<40-W, 1<<40, true),
				seq(1<<40-W, 1<<40+1, false),
			),
		},
		{
			name: "reject after",
			steps: []step{
				{RejectAfter, false}, {RejectAfter + 1, false}, {^uint64(0), false},
				{RejectAfter - 1, true}, {RejectAfter - 1, false}, {RejectAfter, false},
				{RejectAfter - 2, true}, {RejectAfter - 1 - W, true}, {RejectAfter - 2 - W, false},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f Filter
			run(t, &f, tc.steps)
		})
	}
}

func TestReset(t *testing.T) {
	var f Filter
	run(t, &f, cat(seq(0, 100, true), []step{{50000, true}}))
	f.Reset()
	run(t, &f, cat(seq(0, 100, true), seq(0, 100, false)))
	if f.top != 99 {
		t.Errorf("top = %d after Reset and 0..99, want 99", f.top)
	}
}

// model is the specification of Filter, written as plainly as possible.
type model struct {
	top  uint64
	seen map[uint64]bool
}

func (m *model) check(c uint64) bool {
	if c >= RejectAfter || m.seen[c] {
		return false
	}
	if c <= m.top && m.top-c > WindowSize {
		return false
	}
	m.seen[c] = true
	m.top = max(m.top, c)
	return true
}

// TestModel compares Filter with the model on random walks: mostly forward
// with reordering, duplicates, stale counters and jumps.
func TestModel(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		var f Filter
		m := model{seen: map[uint64]bool{}}
		var next uint64
		for i := range 50000 {
			var c uint64
			switch r := rng.IntN(100); {
			case r < 60: // in order
				c = next
				next++
			case r < 80: // reordered within about a window
				c = next - min(next, rng.Uint64N(WindowSize+200))
			case r < 90: // duplicate of something recent
				c = next - min(next, rng.Uint64N(64))
			case r < 97: // jump forward by up to two rings
				next += rng.Uint64N(2 * ringBits)
				c = next
			case r < 99: // far in the past
				c = rng.Uint64N(next + 1)
			default: // near or past RejectAfter
				c = RejectAfter - 2 + rng.Uint64N(4)
			}
			if got, want := f.Check(c), m.check(c); got != want {
				t.Fatalf("seed %d, step %d: Check(%d) = %v, model says %v (top %d)", seed, i, c, got, want, m.top)
			}
		}
	}
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	var f Filter
	var c uint64
	if n := testing.AllocsPerRun(1000, func() {
		f.Check(c)
		f.Check(c - min(c, 10))
		c += 3
	}); n != 0 {
		t.Errorf("Check allocates %v times", n)
	}
}

func BenchmarkCheckInOrder(b *testing.B) {
	var f Filter
	var c uint64
	b.ReportAllocs()
	for b.Loop() {
		if !f.Check(c) {
			b.Fatal("rejected")
		}
		c++
	}
}

func BenchmarkCheckReordered(b *testing.B) {
	// Pairs swapped and every 16th packet late by 1000: the shape of
	// multipath reordering.
	var f Filter
	var i uint64
	b.ReportAllocs()
	for b.Loop() {
		c := i ^ 1
		if i%16 == 0 && i > 1000 {
			c = i - 1000
		}
		f.Check(c)
		i++
	}
}
