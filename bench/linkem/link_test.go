// SPDX-License-Identifier: MIT

package linkem

import (
	"math"
	"testing"
	"time"
)

const ms = time.Millisecond

func mustParams(t testing.TB, spec string) Params {
	t.Helper()
	var p Params
	if err := p.Apply(spec); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLinkTransparent(t *testing.T) {
	l := NewLink(Params{}, 1)
	for i := range 100 {
		now := time.Duration(i) * ms
		n, rel, r := l.Admit(now, 1500)
		if n != 1 || rel[0] != now || r != DropNone {
			t.Fatalf("frame %d: Admit = %d %v %v, want 1 [%v] none", i, n, rel, r, now)
		}
	}
}

func TestLinkSerializes(t *testing.T) {
	// 10 Mbit/s = 1.25e6 B/s: a 1250-byte frame takes exactly 1 ms.
	l := NewLink(mustParams(t, "rate=10mbit queue=10mb"), 1)
	for i := range 1000 {
		n, rel, _ := l.Admit(0, 1250)
		if n != 1 {
			t.Fatalf("frame %d dropped", i)
		}
		if want := time.Duration(i+1) * ms; rel[0] != want {
			t.Fatalf("frame %d released at %v, want %v", i, rel[0], want)
		}
	}
	// After the backlog has drained the link is idle again.
	n, rel, _ := l.Admit(2*time.Second, 1250)
	if n != 1 || rel[0] != 2*time.Second+ms {
		t.Fatalf("idle link: %d %v", n, rel)
	}
}

func TestLinkDropTail(t *testing.T) {
	tests := []struct {
		name     string
		spec     string
		arrivals int
		want     int // frames admitted
	}{
		// The first frame goes straight onto the wire; 10 fit in the queue.
		{name: "queue 10 frames", spec: "rate=10mbit queue=12500b", arrivals: 50, want: 11},
		{name: "queue as time", spec: "rate=10mbit queue=5ms", arrivals: 50, want: 6},
		{name: "burst of 8 then queue of 2", spec: "rate=10mbit burst=10000b queue=2500b", arrivals: 50, want: 10},
		{name: "unlimited rate never queues", spec: "queue=1b", arrivals: 50, want: 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLink(mustParams(t, tt.spec), 1)
			got := 0
			for range tt.arrivals {
				n, _, r := l.Admit(0, 1250)
				if n == 0 && r != DropQueue {
					t.Fatalf("dropped for %v", r)
				}
				got += n
			}
			if got != tt.want {
				t.Errorf("admitted %d of %d, want %d", got, tt.arrivals, tt.want)
			}
		})
	}
}

func TestLinkBurst(t *testing.T) {
	// A 10-frame bucket lets 10 frames through at once, then one per ms.
	l := NewLink(mustParams(t, "rate=10mbit burst=12500b queue=1mb"), 1)
	for i := range 20 {
		_, rel, _ := l.Admit(0, 1250)
		want := time.Duration(0)
		if i >= 10 {
			want = time.Duration(i-9) * ms
		}
		if rel[0] != want {
			t.Fatalf("frame %d at %v, want %v", i, rel[0], want)
		}
	}
}

// TestLinkRateSustained offers twice the rate for 10 simulated seconds and
// checks that what leaves is the configured rate.
func TestLinkRateSustained(t *testing.T) {
	for _, spec := range []string{"rate=50mbit", "rate=300mbit delay=10ms", "rate=1mbit queue=20kb"} {
		t.Run(spec, func(t *testing.T) {
			p := mustParams(t, spec)
			l := NewLink(p, 1)
			const size = 1514
			gap := time.Duration(float64(size) / float64(2*p.Rate) * float64(time.Second))
			var bytes int
			var last time.Duration
			end := 10 * time.Second
			for now := time.Duration(0); now < end; now += gap {
				n, rel, _ := l.Admit(now, size)
				if n == 1 && rel[0] <= end+p.Delay {
					bytes += size
					last = max(last, rel[0])
				}
			}
			got := float64(bytes) / (last - p.Delay).Seconds()
			if math.Abs(got/float64(p.Rate)-1) > 0.005 {
				t.Errorf("rate %.0f B/s, want %d ±0.5%%", got, p.Rate)
			}
		})
	}
}

func TestLinkDelayJitter(t *testing.T) {
	tests := []struct {
		name string
		spec string
	}{
		{name: "uniform", spec: "delay=20ms jitter=5ms"},
		{name: "normal", spec: "delay=20ms jitter=2ms dist=normal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParams(t, tt.spec)
			l := NewLink(p, 7)
			var prev, sum time.Duration
			var spaced int
			const n = 20000
			for i := range n {
				// Alternate gaps of 1 ms (often clamped) and 40 ms (beyond
				// the jitter: never clamped).
				now := time.Duration(i/2)*41*ms + time.Duration(i%2)*ms
				spacedOut := i%2 == 0
				_, rel, _ := l.Admit(now, 100)
				if rel[0] < prev {
					t.Fatalf("frame %d released at %v before its predecessor (%v) without reorder", i, rel[0], prev)
				}
				prev = rel[0]
				d := rel[0] - now
				lo, hi := p.Delay-p.Jitter, p.Delay+p.Jitter
				if p.Dist == Normal {
					lo, hi = p.Delay-3*p.Jitter, p.Delay+3*p.Jitter
				}
				if d < lo || d > hi+ms {
					t.Fatalf("frame %d delayed %v, outside [%v, %v]", i, d, lo, hi)
				}
				if spacedOut {
					sum += d
					spaced++
				}
			}
			if mean := sum / time.Duration(spaced); (mean - p.Delay).Abs() > 200*time.Microsecond {
				t.Errorf("mean delay of well-spaced frames %v, want %v", mean, p.Delay)
			}
		})
	}
}

func TestLinkReorder(t *testing.T) {
	l := NewLink(mustParams(t, "delay=10ms reorder=10%"), 3)
	const n = 20000
	var early int
	var maxRel time.Duration
	for i := range n {
		_, rel, _ := l.Admit(time.Duration(i)*100*time.Microsecond, 100)
		if rel[0] < maxRel {
			early++
		}
		maxRel = max(maxRel, rel[0])
	}
	if f := float64(early) / n; f < 0.09 || f > 0.11 {
		t.Errorf("reordered fraction %.4f, want 0.10 ±0.01", f)
	}
}

func TestLinkLossModels(t *testing.T) {
	tests := []struct {
		name      string
		spec      string
		reason    DropReason
		want, tol float64
		burst     float64 // mean run of consecutive losses (0: not checked)
	}{
		{name: "random 5%", spec: "loss=5%", reason: DropLoss, want: 0.05, tol: 0.002},
		{name: "random 30%", spec: "loss=30%", reason: DropLoss, want: 0.30, tol: 0.005},
		// Stationary bad-state share p/(p+r) = 0.01/0.21; bursts of 1/r = 5.
		{name: "gilbert", spec: "ge_p=1% ge_r=20% ge_bad=100%", reason: DropBurst, want: 0.01 / 0.21, tol: 0.004, burst: 5},
		// Gilbert-Elliott with loss in both states: (r·k + p·h)/(p+r).
		{name: "elliott", spec: "ge_p=2% ge_r=10% ge_bad=50% ge_good=1%", reason: DropBurst, want: (0.1*0.01 + 0.02*0.5) / 0.12, tol: 0.005},
		{name: "blackhole", spec: "blackhole=on", reason: DropBlackhole, want: 1, tol: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLink(mustParams(t, tt.spec), 11)
			const n = 400000
			var lost, runs, run int
			for i := range n {
				c, _, r := l.Admit(time.Duration(i)*time.Microsecond, 100)
				if c == 0 {
					if r != tt.reason {
						t.Fatalf("dropped for %v, want %v", r, tt.reason)
					}
					lost++
					run++
				} else if run > 0 {
					runs++
					run = 0
				}
			}
			if f := float64(lost) / n; math.Abs(f-tt.want) > tt.tol {
				t.Errorf("loss %.4f, want %.4f ±%.4f", f, tt.want, tt.tol)
			}
			if tt.burst > 0 {
				if b := float64(lost) / float64(runs); math.Abs(b-tt.burst) > 0.3 {
					t.Errorf("mean loss burst %.2f, want %.1f ±0.3", b, tt.burst)
				}
			}
		})
	}
}

func TestLinkDuplicate(t *testing.T) {
	l := NewLink(mustParams(t, "dup=10% delay=1ms"), 5)
	const n = 100000
	var dups int
	for i := range n {
		c, rel, _ := l.Admit(time.Duration(i)*time.Microsecond, 100)
		if c == 2 {
			dups++
			if rel[1] < rel[0] {
				t.Fatalf("copy released before the original")
			}
		}
	}
	if f := float64(dups) / n; math.Abs(f-0.1) > 0.004 {
		t.Errorf("duplicated %.4f, want 0.10", f)
	}
}

// TestLinkParamChange checks that a delay decrease does not reorder and that
// the token bucket carries over a rate change.
func TestLinkParamChange(t *testing.T) {
	l := NewLink(mustParams(t, "delay=80ms"), 1)
	_, r1, _ := l.Admit(0, 100)
	l.SetParams(mustParams(t, "delay=10ms"))
	_, r2, _ := l.Admit(ms, 100)
	if r2[0] < r1[0] {
		t.Errorf("after a delay decrease a frame left at %v, before its predecessor at %v", r2[0], r1[0])
	}
	_, r3, _ := l.Admit(200*ms, 100)
	if r3[0] != 210*ms {
		t.Errorf("new delay not applied: released at %v, want 210ms", r3[0])
	}
}
