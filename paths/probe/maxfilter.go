// SPDX-License-Identifier: MIT

package probe

import "time"

// rateSample is one delivery-rate sample: v bytes/s measured at t.
type rateSample struct {
	t time.Time
	v uint64
}

// maxFilter is a windowed maximum over time-stamped samples in constant
// space: Kathleen Nichols' algorithm, as used for BBR's bottleneck
// bandwidth. It keeps the best, second-best and third-best samples, where
// each later choice is newer than the one before, so that when the best
// ages out of the window the next best of the remaining window is at hand.
// The result is exact whenever the samples within the window are
// non-increasing after their maximum and approximate (never above the true
// maximum, never below the newest sample) otherwise.
type maxFilter struct {
	s  [3]rateSample
	on bool
}

func (f *maxFilter) best() uint64 { return f.s[0].v }

// update adds sample v at t (t not before the previous sample's) and ages
// out samples older than win.
func (f *maxFilter) update(t time.Time, v uint64, win time.Duration) {
	n := rateSample{t: t, v: v}
	if !f.on || v >= f.s[0].v || t.Sub(f.s[2].t) > win {
		// A new maximum, or even the newest choice is out of the window.
		f.s = [3]rateSample{n, n, n}
		f.on = true
		return
	}
	switch {
	case v >= f.s[1].v:
		f.s[1], f.s[2] = n, n
	case v >= f.s[2].v:
		f.s[2] = n
	}
	age := t.Sub(f.s[0].t)
	switch {
	case age > win:
		// The best is too old: promote the others, newest last; the
		// promoted one may be too old as well.
		f.s = [3]rateSample{f.s[1], f.s[2], n}
		if t.Sub(f.s[0].t) > win {
			f.s = [3]rateSample{f.s[1], f.s[2], n}
		}
	case f.s[1].t.Equal(f.s[0].t) && age > win/4:
		// The best has stood alone for a quarter window: take a fresh
		// second choice from this quarter, so that one exists when the
		// best ages out.
		f.s[1], f.s[2] = n, n
	case f.s[2].t.Equal(f.s[1].t) && age > win/2:
		// Likewise for the third choice after half a window.
		f.s[2] = n
	}
}
