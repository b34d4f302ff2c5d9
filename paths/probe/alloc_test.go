// SPDX-License-Identifier: MIT

package probe

import (
	"testing"
	"time"
)

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations differ under the race detector")
	}
	l := NewLiveness(Config{}, t0)
	e := l.Estimator()
	now := t0
	seq := uint64(0)
	tests := []struct {
		name string
		fn   func()
	}{
		{name: "OnRTT", fn: func() { e.OnRTT(42 * time.Millisecond) }},
		{name: "OnSend", fn: func() { now = now.Add(time.Millisecond); l.OnSend(now) }},
		{name: "OnReceive", fn: func() { now = now.Add(time.Millisecond); l.OnReceive(now) }},
		{name: "Tick", fn: func() { now = now.Add(7 * time.Millisecond); l.Tick(now) }},
		{name: "NextTick", fn: func() { l.NextTick(now) }},
		{name: "LinkDown/LinkUp", fn: func() { l.LinkDown(now); l.LinkUp(now) }},
		{name: "OnProbeSent/OnProbeAck", fn: func() {
			seq++
			e.OnProbeSent(now, seq)
			e.OnProbeAck(now.Add(time.Millisecond), seq)
		}},
		{name: "OnPackets", fn: func() { e.OnPackets(90, 10) }},
		{name: "OnDelivered", fn: func() { now = now.Add(10 * time.Millisecond); e.OnDelivered(now, 1500) }},
		{name: "Snapshot", fn: func() { _ = e.Snapshot() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if a := testing.AllocsPerRun(1000, tc.fn); a != 0 {
				t.Errorf("%v allocations per call", a)
			}
		})
	}
}

func BenchmarkOnRTT(b *testing.B) {
	var e Estimator
	b.ReportAllocs()
	i := time.Duration(0)
	for b.Loop() {
		i++
		e.OnRTT(40*time.Millisecond + i%7*time.Millisecond)
	}
}

func BenchmarkOnSend(b *testing.B) {
	l := NewLiveness(Config{}, t0)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		l.OnSend(now)
	}
}

func BenchmarkOnReceive(b *testing.B) {
	l := NewLiveness(Config{}, t0)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		l.OnReceive(now)
	}
}

// BenchmarkTick: one owner-loop turn per batch on a busy path: a send, a
// reply, a Tick and a NextTick.
func BenchmarkTick(b *testing.B) {
	l := NewLiveness(Config{}, t0)
	l.Estimator().OnRTT(20 * time.Millisecond)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(100 * time.Microsecond)
		l.OnSend(now)
		l.OnReceive(now)
		l.Tick(now)
		l.NextTick(now)
	}
}

func BenchmarkProbeRoundTrip(b *testing.B) {
	var e Estimator
	now := t0
	seq := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		seq++
		now = now.Add(10 * time.Millisecond)
		e.OnProbeSent(now, seq)
		e.OnProbeAck(now.Add(5*time.Millisecond), seq)
	}
}

func BenchmarkOnDelivered(b *testing.B) {
	var e Estimator
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Millisecond)
		e.OnDelivered(now, 1500)
	}
}

func BenchmarkOnPackets(b *testing.B) {
	var e Estimator
	b.ReportAllocs()
	for b.Loop() {
		e.OnPackets(60, 4)
	}
}
