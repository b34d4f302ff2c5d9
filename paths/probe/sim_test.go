// SPDX-License-Identifier: MIT

package probe

import (
	"testing"
	"time"

	"monami/paths"
)

// t0 is the simulated epoch of every test.
var t0 = time.Unix(1_700_000_000, 0)

// change is one state change seen by a simulation.
type change struct {
	at    time.Time
	state paths.State
	link  bool // caused by LinkDown
}

// arrival is a reply (to a probe or to data) reaching the Liveness's side.
type arrival struct {
	at    time.Time
	back  time.Time // when the reply left the peer
	seq   uint64
	probe bool
	rtt   time.Duration
}

// sim drives one Liveness over a simulated path with a constant RTT: the
// owner loop of the package doc in fake time. A packet sent at t is lost if
// lost(t) (forward leg) or lost(t + rtt/2) (reverse leg).
type sim struct {
	tb     testing.TB
	l      *Liveness
	now    time.Time
	rtt    time.Duration
	period time.Duration // 0: Tick exactly at NextTick; else every period
	data   time.Duration // 0: idle; else one acked data packet per data
	lost   func(t time.Time) bool

	arrivals  []arrival // in order of arrival (constant RTT)
	seq       uint64
	nextData  time.Time
	nextTick  time.Time
	probeLog  []time.Time
	replyLog  []time.Time
	changes   []change
	lastReply time.Time
}

func newSim(tb testing.TB, cfg Config, rtt time.Duration) *sim {
	return &sim{
		tb:  tb,
		l:   NewLiveness(cfg, t0),
		now: t0,
		rtt: rtt,
		lost: func(time.Time) bool {
			return false
		},
		nextData: t0,
		nextTick: t0,
	}
}

func (s *sim) send(at time.Time, probe bool) {
	s.seq++
	if probe {
		s.l.Estimator().OnProbeSent(at, s.seq)
		s.probeLog = append(s.probeLog, at)
	}
	if s.lost(at) {
		return
	}
	s.arrivals = append(s.arrivals, arrival{at: at.Add(s.rtt), back: at.Add(s.rtt / 2), seq: s.seq, probe: probe, rtt: s.rtt})
}

// run advances the simulation to until, processing events in time order.
func (s *sim) run(until time.Time) {
	for guard := 0; ; guard++ {
		if guard > 10_000_000 {
			s.tb.Fatalf("simulation does not advance at %v", s.now.Sub(t0))
		}
		next := until
		if s.period == 0 {
			next = earliest(next, s.l.NextTick(s.now))
		} else {
			next = earliest(next, s.nextTick)
		}
		if len(s.arrivals) > 0 {
			next = earliest(next, s.arrivals[0].at)
		}
		if s.data > 0 {
			next = earliest(next, s.nextData)
		}
		if next.Before(s.now) {
			s.tb.Fatalf("time goes back: %v < %v", next.Sub(t0), s.now.Sub(t0))
		}
		s.now = next
		for len(s.arrivals) > 0 && !s.arrivals[0].at.After(s.now) {
			a := s.arrivals[0]
			s.arrivals = s.arrivals[1:]
			if s.lost(a.back) {
				continue // the reverse leg was lost
			}
			if a.probe {
				s.l.Estimator().OnProbeAck(s.now, a.seq)
			} else {
				s.l.Estimator().OnRTT(a.rtt)
			}
			s.l.OnReceive(s.now)
			s.lastReply = s.now
			s.replyLog = append(s.replyLog, s.now)
		}
		if s.data > 0 && !s.nextData.After(s.now) {
			s.l.OnSend(s.now)
			s.send(s.now, false)
			s.nextData = s.now.Add(s.data)
		}
		if s.period == 0 || !s.nextTick.After(s.now) {
			s.tick()
			if s.period > 0 {
				s.nextTick = s.nextTick.Add(s.period)
			}
		}
		if !s.now.Before(until) {
			return
		}
	}
}

func (s *sim) tick() {
	before := s.l.State()
	probe, changed := s.l.Tick(s.now)
	if changed != (s.l.State() != before) {
		s.tb.Fatalf("at %v: Tick reported changed=%v, state %v → %v", s.now.Sub(t0), changed, before, s.l.State())
	}
	if changed {
		s.changes = append(s.changes, change{at: s.now, state: s.l.State()})
	}
	if probe {
		s.send(s.now, true)
	}
}

func (s *sim) linkDown() {
	if s.l.LinkDown(s.now) {
		s.changes = append(s.changes, change{at: s.now, state: paths.StateDown, link: true})
	}
	s.arrivals = s.arrivals[:0] // in flight on the dead link
}

func (s *sim) linkUp() { s.l.LinkUp(s.now) }

// firstChange returns the first change to state at or after from.
func (s *sim) firstChange(from time.Time, state paths.State) (time.Time, bool) {
	for _, c := range s.changes {
		if !c.at.Before(from) && c.state == state {
			return c.at, true
		}
	}
	return time.Time{}, false
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// at returns t0 + d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// establish runs s until its path has been Up for a while.
func (s *sim) establish() {
	s.tb.Helper()
	s.run(s.now.Add(10 * time.Second))
	if s.l.State() != paths.StateUp || s.l.Suspect() {
		s.tb.Fatalf("path not up after 10 s of a clean path: %v suspect=%v", s.l.State(), s.l.Suspect())
	}
}
