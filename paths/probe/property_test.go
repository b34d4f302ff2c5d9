// SPDX-License-Identifier: MIT

package probe

import (
	"math/rand/v2"
	"testing"
	"time"

	"monami/paths"
)

// TestRandomEvents drives Liveness with random event sequences and checks
// its contract: state changes come only from Tick and LinkDown and are
// reported; those from Tick are at least MinDwell after the previous change
// of any kind; Suspect implies Up; NextTick is never in the past, moves past
// a Tick at it, and a Tick before it does nothing.
func TestRandomEvents(t *testing.T) {
	ms := time.Millisecond
	cfgs := []struct {
		name string
		cfg  Config
	}{
		{name: "default"},
		{name: "fast", cfg: Config{
			IdleProbeInterval: 100 * ms, SuspectProbeInterval: 10 * ms, SuspectAfter: 10 * ms,
			DownAfter: 200 * ms, DownAfterProbes: 1, UpAfter: 50 * ms, UpAfterProbes: 1, MinDwell: 300 * ms,
		}},
		{name: "slow", cfg: Config{MinDwell: 5 * time.Second, UpAfterProbes: 10, DownAfterProbes: 8}},
	}
	seeds := 150
	if testing.Short() {
		seeds = 20
	}
	for _, c := range cfgs {
		t.Run(c.name, func(t *testing.T) {
			dwell := c.cfg.withDefaults().MinDwell
			changes, linkChanges := 0, 0
			for seed := range seeds {
				r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
				l := NewLiveness(c.cfg, t0)
				now := t0
				var last time.Time
				changed := false
				fail := func(format string, args ...any) {
					t.Helper()
					t.Fatalf("seed %d at %v: "+format, append([]any{seed, now.Sub(t0)}, args...)...)
				}
				for range 4000 {
					switch n := r.IntN(20); {
					case n < 12:
						now = now.Add(time.Duration(r.IntN(60)) * ms)
					case n < 19:
						now = now.Add(time.Duration(r.IntN(600)) * ms)
					default:
						now = now.Add(time.Duration(r.IntN(4000)) * ms)
					}
					state, suspect := l.State(), l.Suspect()
					switch ev := r.IntN(100); {
					case ev < 25:
						l.OnReceive(now)
					case ev < 50:
						l.OnSend(now)
					case ev < 52:
						if l.LinkDown(now) {
							if state != paths.StateUp || l.State() != paths.StateDown {
								fail("LinkDown reported a change %v → %v", state, l.State())
							}
							last, changed = now, true
							linkChanges++
							continue
						}
					case ev < 55:
						l.LinkUp(now)
					case ev < 62:
						l.Estimator().OnRTT(time.Duration(r.ExpFloat64() * float64(80*ms)))
					case ev < 72:
						next := l.NextTick(now)
						if next.Before(now) {
							fail("NextTick %v in the past", next.Sub(now))
						}
						if d := next.Sub(now); d > 0 {
							now = now.Add(time.Duration(r.Int64N(int64(d))))
							if p, ch := l.Tick(now); p || ch || l.Suspect() != suspect {
								fail("Tick %v before NextTick: probe=%v changed=%v suspect %v→%v", next.Sub(now), p, ch, suspect, l.Suspect())
							}
						}
					default:
						_, ch := l.Tick(now)
						if ch != (l.State() != state) {
							fail("Tick changed=%v but %v → %v", ch, state, l.State())
						}
						if ch {
							if changed && now.Sub(last) < dwell {
								fail("change %v after the previous one, MinDwell %v", now.Sub(last), dwell)
							}
							last, changed = now, true
							changes++
						}
						if next := l.NextTick(now); !next.After(now) {
							fail("NextTick %v right after Tick", next.Sub(now))
						}
						continue
					}
					if l.State() != state {
						fail("state changed %v → %v outside Tick and LinkDown", state, l.State())
					}
					if l.Suspect() && l.State() != paths.StateUp {
						fail("suspect while %v", l.State())
					}
				}
			}
			t.Logf("%d changes by Tick, %d by LinkDown over %d sequences", changes, linkChanges, seeds)
			if changes == 0 {
				t.Error("the sequences never changed state: the test checks nothing")
			}
		})
	}
}
