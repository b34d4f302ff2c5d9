// SPDX-License-Identifier: MIT

package probe

import (
	"fmt"
	"testing"
	"time"

	"monami/paths"
)

// rtts are the path RTTs the budgets of the issue hold for (≤ 200 ms).
var rtts = []time.Duration{time.Millisecond, 10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}

// modes are the ways an owner may drive a Liveness.
var modes = []struct {
	name   string
	period time.Duration // Tick period; 0: at NextTick
	data   time.Duration // acked data packet interval; 0: idle
}{
	{name: "idle/nexttick"},
	{name: "idle/tick10ms", period: 10 * time.Millisecond},
	{name: "busy/nexttick", data: 2 * time.Millisecond},
	{name: "busy/tick10ms", period: 10 * time.Millisecond, data: 2 * time.Millisecond},
	{name: "idle/tick50ms", period: 50 * time.Millisecond},
	{name: "busy/tick50ms", period: 50 * time.Millisecond, data: 2 * time.Millisecond},
}

func TestStartup(t *testing.T) {
	for _, rtt := range rtts {
		t.Run(rtt.String(), func(t *testing.T) {
			s := newSim(t, Config{}, rtt)
			s.run(at(5 * time.Second))
			up, ok := s.firstChange(t0, paths.StateUp)
			if !ok {
				t.Fatal("never came up")
			}
			// First probe at once, reply after rtt, UpAfter of replies.
			if want := rtt + DefaultUpAfter; up.Sub(t0) > want+DefaultSuspectProbeInterval {
				t.Errorf("up after %v, want ≤ %v", up.Sub(t0), want+DefaultSuspectProbeInterval)
			}
			if len(s.changes) != 1 {
				t.Errorf("changes %v, want one", s.changes)
			}
		})
	}
}

// TestBlackhole: a silent blackhole of both directions takes the path Down
// within 1 s of the last reply, and of the fault, for RTT ≤ 200 ms, whatever
// the phase of the fault in the probe cycle.
func TestBlackhole(t *testing.T) {
	for _, m := range modes {
		for _, rtt := range rtts {
			t.Run(fmt.Sprintf("%s/%v", m.name, rtt), func(t *testing.T) {
				var worstReply, worstFault time.Duration
				for phase := time.Duration(0); phase < DefaultIdleProbeInterval; phase += 13 * time.Millisecond {
					s := newSim(t, Config{}, rtt)
					s.period, s.data = m.period, m.data
					s.establish()
					fault := s.now.Add(phase)
					s.lost = func(t time.Time) bool { return !t.Before(fault) }
					s.run(fault.Add(3 * time.Second))
					down, ok := s.firstChange(fault, paths.StateDown)
					if !ok {
						t.Fatalf("phase %v: never went down", phase)
					}
					if s.lastReply.After(down) {
						t.Fatalf("phase %v: reply after down", phase)
					}
					worstReply = max(worstReply, down.Sub(s.lastReply))
					worstFault = max(worstFault, down.Sub(fault))
				}
				t.Logf("down ≤ %v after the last reply, ≤ %v after the fault", worstReply, worstFault)
				if worstReply > time.Second {
					t.Errorf("down %v after the last reply, want ≤ 1 s", worstReply)
				}
				if worstFault > time.Second {
					t.Errorf("down %v after the fault, want ≤ 1 s", worstFault)
				}
			})
		}
	}
}

// TestSuspect: the path turns suspect soon after a fault, well before it
// goes Down.
func TestSuspect(t *testing.T) {
	s := newSim(t, Config{}, 50*time.Millisecond)
	s.data = 2 * time.Millisecond
	s.establish()
	fault := s.now
	s.lost = func(t time.Time) bool { return !t.Before(fault) }
	var suspectAt time.Time
	for s.l.State() == paths.StateUp {
		s.run(s.now.Add(time.Millisecond))
		if s.l.Suspect() && suspectAt.IsZero() {
			suspectAt = s.now
		}
	}
	if suspectAt.IsZero() || suspectAt.Sub(fault) > 250*time.Millisecond {
		t.Errorf("suspect after %v, want ≤ 250 ms", suspectAt.Sub(fault))
	}
	if d := s.now.Sub(suspectAt); d < 500*time.Millisecond {
		t.Errorf("suspect only %v before down", d)
	}
}

// TestSuspectCleared: a reply clears suspicion at once.
func TestSuspectCleared(t *testing.T) {
	s := newSim(t, Config{}, 50*time.Millisecond)
	s.establish()
	fault := s.now
	s.lost = func(t time.Time) bool { return !t.Before(fault) }
	for !s.l.Suspect() {
		s.run(s.now.Add(time.Millisecond))
	}
	c := *s.l
	c.OnReceive(s.now)
	if c.Suspect() || c.State() != paths.StateUp {
		t.Errorf("after a reply: suspect=%v %v", c.Suspect(), c.State())
	}
}

// TestTransientLoss: a single lost probe, or a short outage, on an idle
// path does not take it down.
func TestTransientLoss(t *testing.T) {
	tests := []struct {
		name   string
		rtt    time.Duration
		outage time.Duration
	}{
		{name: "one probe 200ms", rtt: 200 * time.Millisecond, outage: time.Millisecond},
		{name: "one probe 10ms", rtt: 10 * time.Millisecond, outage: time.Millisecond},
		{name: "150ms outage 200ms", rtt: 200 * time.Millisecond, outage: 150 * time.Millisecond},
		{name: "300ms outage 10ms", rtt: 10 * time.Millisecond, outage: 300 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, Config{}, tc.rtt)
			s.establish()
			// Start the outage just before the next idle probe: its worst
			// case, since the silence is longest then.
			start := s.l.NextTick(s.now).Add(-time.Millisecond / 2)
			s.lost = func(t time.Time) bool { return !t.Before(start) && t.Before(start.Add(tc.outage)) }
			s.run(start.Add(5 * time.Second))
			if len(s.changes) != 1 {
				t.Errorf("changes %v, want only the first up", s.changes)
			}
		})
	}
}

func TestLinkDown(t *testing.T) {
	s := newSim(t, Config{}, 50*time.Millisecond)
	s.establish()
	s.linkDown()
	if s.l.State() != paths.StateDown || len(s.changes) != 2 || !s.changes[1].at.Equal(s.now) {
		t.Fatalf("after LinkDown: %v, changes %v", s.l.State(), s.changes)
	}
	if s.l.LinkDown(s.now) {
		t.Error("second LinkDown reported a change")
	}
	// No probes while the link is down.
	n := len(s.probeLog)
	s.run(s.now.Add(5 * time.Second))
	if len(s.probeLog) != n {
		t.Errorf("%d probes while the link was down", len(s.probeLog)-n)
	}
	if next := s.l.NextTick(s.now); next.Sub(s.now) > DefaultIdleProbeInterval {
		t.Errorf("NextTick while link down %v ahead", next.Sub(s.now))
	}
	// Back up: probed at once, Up within 2 s.
	s.linkUp()
	upFrom := s.now
	s.run(s.now.Add(5 * time.Second))
	up, ok := s.firstChange(upFrom, paths.StateUp)
	if !ok || up.Sub(upFrom) > 2*time.Second {
		t.Errorf("up %v after LinkUp (ok=%v), want ≤ 2 s", up.Sub(upFrom), ok)
	}
	if len(s.probeLog) == n || !s.probeLog[n].Equal(upFrom) {
		t.Errorf("no probe at LinkUp")
	}
}

// TestLinkDownWithinDwell: LinkDown takes the path down at once even just
// after it came up.
func TestLinkDownWithinDwell(t *testing.T) {
	s := newSim(t, Config{}, 10*time.Millisecond)
	for s.l.State() != paths.StateUp {
		s.run(s.now.Add(time.Millisecond))
	}
	s.run(s.now.Add(100 * time.Millisecond))
	s.linkDown()
	if s.l.State() != paths.StateDown {
		t.Error("LinkDown within MinDwell did not take the path down")
	}
}

// TestRejoin: after a blackhole ends, the path is Up again within 2 s of
// the end (and so of the first reply), whenever it ends.
func TestRejoin(t *testing.T) {
	for _, m := range modes {
		for _, rtt := range rtts {
			t.Run(fmt.Sprintf("%s/%v", m.name, rtt), func(t *testing.T) {
				var worst, worstFree time.Duration
				for heal := time.Duration(0); heal < 3*time.Second; heal += 37 * time.Millisecond {
					s := newSim(t, Config{}, rtt)
					s.period, s.data = m.period, m.data
					s.establish()
					fault := s.now
					s.lost = func(t time.Time) bool { return !t.Before(fault) }
					for s.l.State() == paths.StateUp {
						s.run(s.now.Add(time.Millisecond))
					}
					down, _ := s.firstChange(fault, paths.StateDown)
					end := down.Add(heal)
					if end.Before(s.now) {
						end = s.now
					}
					s.lost = func(t time.Time) bool { return !t.Before(fault) && t.Before(end) }
					s.run(end.Add(5 * time.Second))
					up, ok := s.firstChange(end, paths.StateUp)
					if !ok {
						t.Fatalf("heal %v: never came back", heal)
					}
					if len(s.changes) != 3 {
						t.Fatalf("heal %v: changes %v", heal, s.changes)
					}
					worst = max(worst, up.Sub(end))
					if end.Sub(down) >= DefaultMinDwell {
						worstFree = max(worstFree, up.Sub(end))
					}
				}
				t.Logf("up ≤ %v after the blackhole ended; ≤ %v when it ended after MinDwell", worst, worstFree)
				if worst > 2*time.Second {
					t.Errorf("up %v after the end, want ≤ 2 s", worst)
				}
			})
		}
	}
}

// TestQuickRejoinAfterLongOutage: a path that was Down for LongDown or
// more (silent, or with its link down) comes Up QuickUpAfter into its run
// of replies, within 1 s of the heal at RTT ≤ 200 ms; after a shorter
// outage it waits the full UpAfter.
func TestQuickRejoinAfterLongOutage(t *testing.T) {
	for _, rtt := range rtts {
		for _, outage := range []time.Duration{3 * time.Second, 20 * time.Second} {
			for _, link := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v/%v/link=%v", rtt, outage, link), func(t *testing.T) {
					var worst time.Duration
					for heal := time.Duration(0); heal < 600*time.Millisecond; heal += 23 * time.Millisecond {
						s := newSim(t, Config{}, rtt)
						s.establish()
						fault := s.now
						end := fault.Add(outage + heal)
						if link {
							s.linkDown()
							s.run(end)
							s.linkUp()
						} else {
							s.lost = func(t time.Time) bool { return !t.Before(fault) && t.Before(end) }
						}
						s.run(end.Add(5 * time.Second))
						up, ok := s.firstChange(end, paths.StateUp)
						if !ok {
							t.Fatalf("heal %v: never came back: %v", heal, s.changes)
						}
						first := up
						for _, r := range s.replyLog {
							if !r.Before(end) {
								first = r
								break
							}
						}
						if outage < DefaultLongDown && up.Sub(first) < DefaultUpAfter {
							t.Errorf("heal %v: up %v after the first reply, less than UpAfter after a short outage", heal, up.Sub(first))
						}
						worst = max(worst, up.Sub(end))
					}
					t.Logf("up ≤ %v after the outage ended", worst)
					if outage >= DefaultLongDown && worst > time.Second {
						t.Errorf("up %v after a long outage ended, want ≤ 1 s", worst)
					}
				})
			}
		}
	}
}

// TestRenewSkipsDwell: a path that went Down with the old session (the
// peer restarted) comes Up at its first reply after Renew, long before
// MinDwell ends; without Renew it waits for the dwell.
func TestRenewSkipsDwell(t *testing.T) {
	for _, renew := range []bool{false, true} {
		t.Run(fmt.Sprint("renew=", renew), func(t *testing.T) {
			s := newSim(t, Config{}, 10*time.Millisecond)
			s.data = 10 * time.Millisecond
			s.establish()
			fault := s.now
			s.lost = func(t time.Time) bool { return !t.Before(fault) }
			for s.l.State() == paths.StateUp {
				s.run(s.now.Add(time.Millisecond))
			}
			down := s.now
			s.run(down.Add(100 * time.Millisecond))
			s.lost = func(time.Time) bool { return false }
			if renew {
				s.l.Renew(s.now)
			}
			back := s.now
			s.run(back.Add(3 * time.Second))
			up, ok := s.firstChange(back, paths.StateUp)
			if !ok {
				t.Fatalf("never came back: %v", s.changes)
			}
			t.Logf("up %v after the peer was back", up.Sub(back))
			switch {
			case renew && up.Sub(back) > 2*s.rtt:
				t.Errorf("up %v after Renew, want one round trip", up.Sub(back))
			case !renew && up.Before(down.Add(DefaultMinDwell)):
				t.Errorf("up %v after the Down without Renew, inside MinDwell", up.Sub(down))
			}
		})
	}
}

// TestFlapping: a path that flaps every 500 ms for 20 s (blackhole or
// link) changes state at most once per 2 s; here it stays Down.
func TestFlapping(t *testing.T) {
	tests := []struct {
		name   string
		rtt    time.Duration
		period time.Duration
		link   bool
	}{
		{name: "blackhole 500ms rtt 10ms", rtt: 10 * time.Millisecond, period: 500 * time.Millisecond},
		{name: "blackhole 500ms rtt 200ms", rtt: 200 * time.Millisecond, period: 500 * time.Millisecond},
		{name: "link 500ms rtt 10ms", rtt: 10 * time.Millisecond, period: 500 * time.Millisecond, link: true},
		{name: "link 500ms rtt 200ms", rtt: 200 * time.Millisecond, period: 500 * time.Millisecond, link: true},
		{name: "blackhole 1s rtt 10ms", rtt: 10 * time.Millisecond, period: time.Second},
		{name: "blackhole 1.5s rtt 50ms", rtt: 50 * time.Millisecond, period: 1500 * time.Millisecond},
		{name: "blackhole 2s rtt 50ms", rtt: 50 * time.Millisecond, period: 2 * time.Second},
		{name: "blackhole 3s rtt 100ms", rtt: 100 * time.Millisecond, period: 3 * time.Second},
	}
	for _, tc := range tests {
		for _, m := range modes {
			t.Run(tc.name+"/"+m.name, func(t *testing.T) {
				s := newSim(t, Config{}, tc.rtt)
				s.period, s.data = m.period, m.data
				s.establish()
				start := s.now
				bad := func(t time.Time) bool { return (t.Sub(start)/tc.period)%2 == 0 }
				if tc.link {
					for k := range int(20 * time.Second / tc.period) {
						s.run(start.Add(time.Duration(k) * tc.period))
						if k%2 == 0 {
							s.linkDown()
						} else {
							s.linkUp()
						}
					}
				} else {
					s.lost = func(t time.Time) bool { return !t.Before(start) && bad(t) }
				}
				s.run(start.Add(20 * time.Second))
				for i := 1; i < len(s.changes); i++ {
					if d := s.changes[i].at.Sub(s.changes[i-1].at); d < 2*time.Second {
						t.Errorf("changes %d and %d only %v apart: %v", i-1, i, d, s.changes)
					}
				}
				t.Logf("%d changes in 20 s", len(s.changes)-1)
				if tc.link && len(s.changes) != 2 {
					t.Errorf("changes %v, want up then down only", s.changes)
				}
			})
		}
	}
}

// probeWireBytes is the size on the wire of a probe and of its reply that
// the default IdleProbeInterval is computed for: IPv4 20 + UDP 8 + frame
// header 16 + an 8-byte probe body + AEAD tag 16.
const probeWireBytes = 68

// TestIdleProbeCost: an idle Up path costs ≤ 2 kbit/s of probes and replies
// together, measured over 60 s.
func TestIdleProbeCost(t *testing.T) {
	for _, rtt := range rtts {
		t.Run(rtt.String(), func(t *testing.T) {
			s := newSim(t, Config{}, rtt)
			s.establish()
			from := s.now
			n := len(s.probeLog)
			s.run(from.Add(time.Minute))
			probes := len(s.probeLog) - n
			bps := float64(probes*2*probeWireBytes*8) / 60
			t.Logf("%d probes in 60 s: %.0f bit/s probes+replies (%.0f per direction)", probes, bps, bps/2)
			if bps > 2000 {
				t.Errorf("%.0f bit/s, want ≤ 2000", bps)
			}
			if len(s.changes) != 1 || s.l.Suspect() {
				t.Errorf("idle path changed: %v", s.changes)
			}
		})
	}
}

// TestBusyNoProbes: a path whose data is acknowledged is never probed.
func TestBusyNoProbes(t *testing.T) {
	s := newSim(t, Config{}, 30*time.Millisecond)
	s.data = 20 * time.Millisecond
	s.establish()
	n := len(s.probeLog)
	s.run(s.now.Add(time.Minute))
	if d := len(s.probeLog) - n; d != 0 {
		t.Errorf("%d probes on a busy path", d)
	}
}

// TestHighRTT: a path with a long RTT (satellite) stays Up: the timeouts
// scale with SRTT.
func TestHighRTT(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := newSim(t, Config{}, 700*time.Millisecond)
			s.period, s.data = m.period, m.data
			s.run(at(time.Minute))
			if len(s.changes) != 1 || s.l.State() != paths.StateUp {
				t.Errorf("changes %v", s.changes)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{LossWindow: 1 << 20, MinDwell: -1}.withDefaults()
	want := Config{
		IdleProbeInterval:    DefaultIdleProbeInterval,
		SuspectProbeInterval: DefaultSuspectProbeInterval,
		SuspectAfter:         DefaultSuspectAfter,
		DownAfter:            DefaultDownAfter,
		DownAfterProbes:      DefaultDownAfterProbes,
		UpAfter:              DefaultUpAfter,
		UpAfterProbes:        DefaultUpAfterProbes,
		MinDwell:             DefaultMinDwell,
		LossWindow:           MaxLossWindow,
		RateWindow:           DefaultRateWindow,
		BusyProbeInterval:    DefaultBusyProbeInterval,
		BusyDownAfter:        DefaultBusyDownAfter,
		LongDown:             DefaultLongDown,
		QuickUpAfter:         DefaultQuickUpAfter,
	}
	if c != want {
		t.Errorf("withDefaults = %+v, want %+v", c, want)
	}
}

// TestBusyBlackhole: a busy path (data without feedback) is probed every
// 100 ms and goes Down about half a second after a blackhole, whatever the
// phase of the fault, before a TCP sender's second retransmission (0.6 s).
func TestBusyBlackhole(t *testing.T) {
	for _, phase := range []time.Duration{0, 20 * time.Millisecond, 50 * time.Millisecond, 90 * time.Millisecond} {
		s := newSim(t, Config{}, 2*time.Millisecond)
		s.establish()
		s.l.SetBusy(true)
		s.run(s.now.Add(time.Second + phase))
		fault := s.now
		s.lost = func(t time.Time) bool { return !t.Before(fault) }
		for s.l.State() == paths.StateUp && s.now.Sub(fault) < 2*time.Second {
			s.run(s.now.Add(time.Millisecond))
		}
		if d := s.now.Sub(fault); d > 560*time.Millisecond {
			t.Errorf("phase %v: busy path Down %v after the fault, want ≤ 560 ms", phase, d)
		}
	}
}
