// SPDX-License-Identifier: MIT

package probe

import (
	"math"
	"testing"
	"time"
)

func TestRTT(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		samples func(i int) time.Duration
		n       int
		srtt    time.Duration // want, ± tol
		tol     time.Duration
		maxVar  time.Duration
		jitter  time.Duration // want, ± jtol
		jtol    time.Duration
		latest  time.Duration
	}{
		{
			name:    "constant 50ms",
			samples: func(int) time.Duration { return 50 * ms },
			n:       100, srtt: 50 * ms, tol: 0, maxVar: ms / 1000, jitter: 0, jtol: 0, latest: 50 * ms,
		},
		{
			name: "converges from 300ms to 50ms",
			samples: func(i int) time.Duration {
				if i == 0 {
					return 300 * ms
				}
				return 50 * ms
			},
			n: 80, srtt: 50 * ms, tol: ms / 10, maxVar: ms / 10, jitter: 0, jtol: ms / 5, latest: 50 * ms,
		},
		{
			name: "alternating 40/60ms",
			samples: func(i int) time.Duration {
				if i%2 == 0 {
					return 40 * ms
				}
				return 60 * ms
			},
			n: 200, srtt: 50 * ms, tol: 2 * ms, maxVar: 12 * ms, jitter: 20 * ms, jtol: ms / 10, latest: 60 * ms,
		},
		{
			name:    "negative ignored",
			samples: func(int) time.Duration { return -ms },
			n:       3,
		},
		{
			name:    "huge clamped",
			samples: func(int) time.Duration { return math.MaxInt64 },
			n:       50, srtt: maxRTT, tol: 0, maxVar: maxRTT, latest: maxRTT,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e Estimator
			for i := range tc.n {
				e.OnRTT(tc.samples(i))
			}
			s := e.Snapshot()
			if d := absDur(s.SRTT - tc.srtt); d > tc.tol {
				t.Errorf("SRTT %v, want %v ± %v", s.SRTT, tc.srtt, tc.tol)
			}
			if s.RTTVar > tc.maxVar {
				t.Errorf("RTTVar %v, want ≤ %v", s.RTTVar, tc.maxVar)
			}
			if d := absDur(s.Jitter - tc.jitter); d > tc.jtol {
				t.Errorf("Jitter %v, want %v ± %v", s.Jitter, tc.jitter, tc.jtol)
			}
			if s.LatestRTT != tc.latest {
				t.Errorf("LatestRTT %v, want %v", s.LatestRTT, tc.latest)
			}
		})
	}
}

func TestRTTFirstSample(t *testing.T) {
	var e Estimator
	e.OnRTT(80 * time.Millisecond)
	s := e.Snapshot()
	// RFC 6298 §2.2.
	if s.SRTT != 80*time.Millisecond || s.RTTVar != 40*time.Millisecond || s.Samples != 1 || s.Jitter != 0 {
		t.Errorf("after one sample: %+v", s)
	}
	e.OnRTT(40 * time.Millisecond)
	s = e.Snapshot()
	// RTTVAR = 3/4·40 + 1/4·|80−40| = 40; SRTT = 7/8·80 + 1/8·40 = 75.
	if s.SRTT != 75*time.Millisecond || s.RTTVar != 40*time.Millisecond || s.Jitter != 40*time.Millisecond/16 {
		t.Errorf("after two samples: %+v", s)
	}
}

// TestProbeLoss: probes answered vs not, over the window.
func TestProbeLoss(t *testing.T) {
	tests := []struct {
		name   string
		window int
		probes int
		lost   func(i int) bool
		want   float64
		outc   int
	}{
		{name: "10% of 100", probes: 100, lost: func(i int) bool { return i%10 == 3 }, want: 0.10, outc: 100},
		{name: "10% of 1000, window 100", probes: 1000, lost: func(i int) bool { return i%10 == 3 }, want: 0.10, outc: 100},
		{name: "old losses slide out", probes: 300, lost: func(i int) bool { return i < 150 }, want: 0, outc: 100},
		{name: "all lost", probes: 50, lost: func(int) bool { return true }, want: 1, outc: 50},
		{name: "window 20", window: 20, probes: 100, lost: func(i int) bool { return i >= 95 }, want: 0.25, outc: 20},
		{name: "max window", window: 1 << 20, probes: 5000, lost: func(i int) bool { return i%4 == 0 }, want: 0.25, outc: MaxLossWindow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEstimator(Config{LossWindow: tc.window})
			now := t0
			for i := range tc.probes {
				seq := uint64(1000 + i)
				e.OnProbeSent(now, seq)
				if !tc.lost(i) {
					if rtt, ok := e.OnProbeAck(now.Add(20*time.Millisecond), seq); !ok || rtt != 20*time.Millisecond {
						t.Fatalf("ack %d: %v %v", i, rtt, ok)
					}
				}
				now = now.Add(100 * time.Millisecond)
			}
			e.Expire(now.Add(time.Second))
			s := e.Snapshot()
			if math.Abs(s.Loss-tc.want) > 1e-9 || s.Outcomes != tc.outc {
				t.Errorf("loss %v over %d, want %v over %d", s.Loss, s.Outcomes, tc.want, tc.outc)
			}
		})
	}
}

func TestProbeAckEdges(t *testing.T) {
	e := NewEstimator(Config{})
	e.OnProbeSent(t0, 1)
	if _, ok := e.OnProbeAck(t0.Add(time.Millisecond), 2); ok {
		t.Error("ack of an unknown seq")
	}
	if _, ok := e.OnProbeAck(t0.Add(-time.Millisecond), 1); ok {
		t.Error("ack before the probe")
	}
	if _, ok := e.OnProbeAck(t0.Add(10*time.Millisecond), 1); !ok {
		t.Error("ack refused")
	}
	if _, ok := e.OnProbeAck(t0.Add(11*time.Millisecond), 1); ok {
		t.Error("duplicate ack accepted")
	}
	if s := e.Snapshot(); s.Samples != 1 || s.Outcomes != 1 || s.Loss != 0 {
		t.Errorf("%+v", s)
	}
}

// TestLateReply: a reply after the loss timeout undoes the loss and still
// feeds the RTT, so SRTT follows a path whose RTT jumped.
func TestLateReply(t *testing.T) {
	e := NewEstimator(Config{})
	now := t0
	seq := uint64(0)
	for range 20 {
		seq++
		e.OnProbeSent(now, seq)
		e.OnProbeAck(now.Add(10*time.Millisecond), seq)
		now = now.Add(100 * time.Millisecond)
	}
	// The RTT jumps to 600 ms, beyond the 200 ms loss timeout.
	for range 40 {
		seq++
		e.OnProbeSent(now, seq)
		now = now.Add(300 * time.Millisecond) // expires the probe
		e.Expire(now)
		if _, ok := e.OnProbeAck(now.Add(300*time.Millisecond), seq); !ok {
			t.Fatal("late ack refused")
		}
	}
	s := e.Snapshot()
	if s.Loss != 0 {
		t.Errorf("loss %v after late replies, want 0", s.Loss)
	}
	if s.SRTT < 550*time.Millisecond {
		t.Errorf("SRTT %v, want ≈ 600 ms", s.SRTT)
	}
}

// TestProbeRingOverflow: with more probes in flight than remembered, the
// oldest count as lost.
func TestProbeRingOverflow(t *testing.T) {
	e := NewEstimator(Config{})
	for i := range probeRing + 10 {
		e.OnProbeSent(t0.Add(time.Duration(i)*time.Millisecond), uint64(i))
	}
	if s := e.Snapshot(); s.Outcomes != 10 || s.Loss != 1 {
		t.Errorf("%+v", s)
	}
	if _, ok := e.OnProbeAck(t0.Add(time.Second/2), 0); ok {
		t.Error("ack of a forgotten probe accepted")
	}
	if _, ok := e.OnProbeAck(t0.Add(time.Second/2), probeRing+9); !ok {
		t.Error("ack of the newest probe refused")
	}
}

func TestOnPackets(t *testing.T) {
	tests := []struct {
		name  string
		calls [][2]int
		want  float64
		outc  int
	}{
		{name: "10% in one report", calls: [][2]int{{90, 10}}, want: 0.10, outc: 100},
		{name: "10% scaled down", calls: [][2]int{{9000, 1000}}, want: 0.10, outc: 100},
		{name: "10% in small reports", calls: [][2]int{{9, 1}, {9, 1}, {9, 1}, {9, 1}, {9, 1}, {9, 1}, {9, 1}, {9, 1}, {9, 1}, {9, 1}}, want: 0.10, outc: 100},
		{name: "recovers", calls: [][2]int{{0, 100}, {100, 0}}, want: 0, outc: 100},
		{name: "half window", calls: [][2]int{{0, 100}, {50, 0}}, want: 0.5, outc: 100},
		{name: "negative ignored", calls: [][2]int{{-5, -5}}, want: 0, outc: 0},
		{name: "huge", calls: [][2]int{{math.MaxInt, math.MaxInt}}, want: 0.5, outc: 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e Estimator
			for _, c := range tc.calls {
				e.OnPackets(c[0], c[1])
			}
			s := e.Snapshot()
			if math.Abs(s.Loss-tc.want) > 1e-9 || s.Outcomes != tc.outc {
				t.Errorf("loss %v over %d, want %v over %d", s.Loss, s.Outcomes, tc.want, tc.outc)
			}
		})
	}
}

func TestDeliveryRate(t *testing.T) {
	var e Estimator
	now := t0
	// Steady 1 MB/s: 10 kB reported every 10 ms for 5 s.
	for range 500 {
		e.OnDelivered(now, 10_000)
		now = now.Add(10 * time.Millisecond)
	}
	s := e.Snapshot()
	if s.DeliveryRate != 1_000_000 {
		t.Errorf("rate %d B/s, want 1000000", s.DeliveryRate)
	}
	if s.Delivered != 5_000_000 {
		t.Errorf("delivered %d", s.Delivered)
	}
	// The rate halves: the estimate keeps the max for the window, then
	// follows.
	for i := range 1500 {
		e.OnDelivered(now, 5_000)
		now = now.Add(10 * time.Millisecond)
		r := e.Snapshot().DeliveryRate
		switch {
		case i < 900 && r != 1_000_000:
			t.Fatalf("%v into the slower phase: %d, want the max 1000000", time.Duration(i)*10*time.Millisecond, r)
		case i > 1100 && r != 500_000:
			t.Fatalf("%v into the slower phase: %d, want 500000", time.Duration(i)*10*time.Millisecond, r)
		}
	}
	// An idle gap starts a new interval instead of a low sample.
	now = now.Add(5 * time.Second)
	e.OnDelivered(now, 5_000_000)
	if r := e.Snapshot().DeliveryRate; r != 500_000 {
		t.Errorf("after an idle gap: %d", r)
	}
	e.OnDelivered(now.Add(-time.Second), 10) // time going back restarts too
	e.OnDelivered(now, 0)
	e.OnDelivered(now, -1)
}

// TestDeliveryRateCoarseFeedback: feedback once per 500 ms still yields
// exact samples.
func TestDeliveryRateCoarseFeedback(t *testing.T) {
	var e Estimator
	e.OnRTT(300 * time.Millisecond)
	now := t0
	for range 20 {
		e.OnDelivered(now, 1_000_000)
		now = now.Add(500 * time.Millisecond)
	}
	if r := e.Snapshot().DeliveryRate; r != 2_000_000 {
		t.Errorf("rate %d, want 2000000", r)
	}
}

func TestMaxFilter(t *testing.T) {
	win := 10 * time.Second
	var f maxFilter
	vals := []uint64{5, 9, 3, 4, 8, 2, 1, 1, 7, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	for i, v := range vals {
		now := t0.Add(time.Duration(i) * time.Second)
		f.update(now, v, win)
		// The true max of the window (i−10, i].
		var want, lower uint64
		for j := max(0, i-10); j <= i; j++ {
			if time.Duration(i-j)*time.Second <= win {
				want = max(want, vals[j])
			}
		}
		lower = v
		if got := f.best(); got > want || got < lower {
			t.Errorf("t=%ds: best %d, window max %d, newest %d", i, got, want, lower)
		}
	}
	if f.best() != 1 {
		t.Errorf("best %d after the window passed, want 1", f.best())
	}
}

func TestReset(t *testing.T) {
	e := NewEstimator(Config{LossWindow: 10})
	e.OnRTT(time.Second)
	e.OnPackets(0, 5)
	e.Reset()
	if s := e.Snapshot(); s != (Stats{}) {
		t.Errorf("after Reset: %+v", s)
	}
	e.OnPackets(0, 50)
	if s := e.Snapshot(); s.Outcomes != 10 {
		t.Errorf("Reset lost the window: %+v", s)
	}
}

// RecentRTT follows a lasting step of the delay after two samples and
// ignores a single late reply.
func TestRecentRTT(t *testing.T) {
	e := NewEstimator(Config{})
	for range 10 {
		e.OnRTT(20 * time.Millisecond)
	}
	e.OnRTT(300 * time.Millisecond) // one late reply
	if got := e.Snapshot().RecentRTT; got != 20*time.Millisecond {
		t.Fatalf("after one spike RecentRTT = %v, want 20ms", got)
	}
	e.OnRTT(20 * time.Millisecond)
	e.OnRTT(200 * time.Millisecond)
	e.OnRTT(200 * time.Millisecond) // the delay really went up
	s := e.Snapshot()
	if s.RecentRTT != 200*time.Millisecond {
		t.Fatalf("after a lasting step RecentRTT = %v, want 200ms", s.RecentRTT)
	}
	if s.SRTT >= 100*time.Millisecond {
		t.Fatalf("SRTT %v already followed the step; the test assumes it lags", s.SRTT)
	}
}
