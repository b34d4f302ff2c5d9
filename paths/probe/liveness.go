// SPDX-License-Identifier: MIT

package probe

import (
	"math"
	"time"

	"monami/paths"
)

// minReplySlack is the least time a reply may come after SRTT before its
// send counts as overdue.
const minReplySlack = 25 * time.Millisecond

// none marks an unset instant in a Liveness (instants are offsets from the
// Liveness's creation time).
const none time.Duration = math.MinInt64

// Liveness is the state machine of one path: it decides when to probe,
// when the path is suspect, and when it goes Down or comes back Up, from
// the sends and receives its owner reports and the RTT its [Estimator]
// measured. The package doc describes the rules and the timing they give.
//
// Use NewLiveness; the zero value is not ready. A Liveness makes no
// allocation and holds no goroutine; it is not safe for concurrent use: the
// goroutine that owns the path calls every method, with non-decreasing
// times.
type Liveness struct {
	// Immutable after NewLiveness.
	cfg  Config // with defaults applied
	base time.Time

	est Estimator

	// The state. Instants are offsets from base; none when unset.
	state       paths.State
	suspect     bool // Up, and a send is overdue
	linkDown    bool // LinkDown without LinkUp since
	probeNow    bool // probe at the next Tick (new path, LinkUp)
	changedOnce bool // lastChange is set
	lastChange  time.Duration
	lastRecv    time.Duration // last OnReceive (or creation, LinkUp)
	pending     time.Duration // first send since lastRecv, or none
	lastSend    time.Duration // last send (OnSend or probe), or none
	lastProbe   time.Duration // or none
	probes      int           // probes since lastRecv
	probeM      time.Duration // the DownAfterProbes-th of those, or none
	runStart    time.Duration // Down: first reply of the current run
	runCount    int           // Down: replies in the current run (0: none)
	runQuick    bool          // Down: the run began after a long silence (QuickUpAfter)
	lastLink    time.Duration // last LinkDown, or none
	lastReply   time.Duration // last OnReceive, or none
	renewed     bool          // Renew since the last change
	busy        bool          // SetBusy: carries data without feedback
}

// SetBusy tells whether the path carries data that gets no feedback of its
// own (the owner's data plane): a busy Up path is probed every
// BusyProbeInterval instead of when idle, and goes Down after a silence of
// BusyDownAfter instead of DownAfter (see Config).
func (l *Liveness) SetBusy(busy bool) { l.busy = busy }

// NewLiveness returns the liveness of a new path at now: Down, link up,
// wanting a probe at the first Tick. Its Estimator uses cfg too.
func NewLiveness(cfg Config, now time.Time) *Liveness {
	l := &Liveness{
		cfg:       cfg.withDefaults(),
		base:      now,
		state:     paths.StateDown,
		probeNow:  true,
		pending:   none,
		lastSend:  none,
		lastProbe: none,
		probeM:    none,
		lastLink:  none,
		lastReply: none,
	}
	l.est.init(l.cfg)
	return l
}

// Estimator returns the path's estimator, whose RTT sets the liveness
// timeouts. Report probe sends and replies and RTT samples to it.
func (l *Liveness) Estimator() *Estimator { return &l.est }

// State returns the path state: it changes at most once per MinDwell,
// except that LinkDown takes the path Down at once.
func (l *Liveness) State() paths.State { return l.state }

// Suspect reports whether the path is Up but something sent on it is
// overdue: a fast, not rate-limited hint that schedulers should prefer
// other paths. It is false when the path is Down.
func (l *Liveness) Suspect() bool { return l.suspect }

// OnSend records that a packet that elicits a reply or an acknowledgement
// from the peer (data covered by feedback) was sent at now. Probes that
// Tick asked for are recorded by Tick: do not report them here. Packets
// that nothing answers must not be reported.
func (l *Liveness) OnSend(now time.Time) {
	if !l.linkDown {
		l.sent(now.Sub(l.base), false)
	}
}

// OnReceive records at now a packet from the peer that proves it heard us:
// a probe reply, or feedback or an acknowledgement of our packets. (A
// packet that only proves the peer can reach us, such as the peer's data,
// hides a failure of our direction from this side; the peer's own
// Liveness then has to catch it.) It clears Suspect at once; a Down path
// comes Up only in Tick.
func (l *Liveness) OnReceive(now time.Time) {
	if l.linkDown {
		return
	}
	t := now.Sub(l.base)
	if l.state == paths.StateDown {
		if l.runCount == 0 || l.missing(t, l.replyTimeout()) {
			// A run after LongDown without a reply, a link event or a
			// state change is a return from an outage, not a flap.
			calm := max(l.lastReply, l.lastLink, l.lastChange)
			l.runStart, l.runCount = t, 0
			l.runQuick = l.changedOnce && t-calm >= l.cfg.LongDown
		}
		l.runCount++
	}
	l.lastRecv, l.lastReply, l.pending, l.probes, l.probeM = t, t, none, 0, none
	l.suspect = false
}

// Renew records that the peer's state was renewed at now (a new signaling
// session: new keys, perhaps a restarted peer). The path is probed at the
// next Tick; if it is Down, its first reply brings it Up, without waiting
// out UpAfter or MinDwell: its silence was the end of the old session, not
// a flap, and a reply under the new session's keys proves the path works.
// Sessions cannot flap faster than their handshakes.
func (l *Liveness) Renew(now time.Time) {
	l.probeNow = true
	if l.state == paths.StateDown {
		l.renewed = true
		l.runCount = 0 // replies under the old session count for nothing
	}
}

// LinkDown takes the path Down at now, regardless of MinDwell, because the
// OS reported its link down or its address gone. It reports whether the
// state changed. Until LinkUp, the path is not probed and sends and
// receives are ignored.
func (l *Liveness) LinkDown(now time.Time) (changed bool) {
	if l.linkDown {
		return false
	}
	l.linkDown, l.suspect, l.probeNow = true, false, false
	l.lastLink = now.Sub(l.base)
	l.pending, l.probes, l.probeM = none, 0, none
	l.runCount = 0
	if l.state == paths.StateUp {
		l.setState(paths.StateDown, now.Sub(l.base))
		return true
	}
	return false
}

// LinkUp records that the OS reported the link up (or a new address) at
// now: the path is probed at the next Tick and comes Up after the usual
// run of replies. On a path whose link was not down it only asks for that
// probe.
func (l *Liveness) LinkUp(now time.Time) {
	l.probeNow = true
	if !l.linkDown {
		return
	}
	l.linkDown = false
	l.lastRecv = now.Sub(l.base)
}

// Tick advances the state machine to now. It reports whether the caller
// must send one probe now (Tick has already recorded it as sent; report
// its sequence number to Estimator().OnProbeSent) and whether State
// changed. Call it after each batch of events and no later than NextTick.
func (l *Liveness) Tick(now time.Time) (probe, changed bool) {
	if l.linkDown {
		return false, false
	}
	t := now.Sub(l.base)
	g, tDown := l.replyTimeout(), l.downSilence()
	missing := l.missing(t, g)
	switch l.state {
	case paths.StateUp:
		if missing {
			l.suspect = true
		}
		if l.suspect && t >= l.downAt(g, tDown) {
			l.setState(paths.StateDown, t)
			changed = true
		}
	case paths.StateDown:
		if missing {
			l.runCount = 0
		}
		if l.runFull() && t >= l.upAt() {
			l.setState(paths.StateUp, t)
			changed = true
		}
	}
	if t >= l.probeAt(t) {
		l.sent(t, true)
		probe = true
	}
	return probe, changed
}

// NextTick returns when Tick must be called next at the latest, given no
// other event in between: the next probe, or the moment the path may turn
// suspect, go Down, come Up or break a run of replies. It returns now if
// that moment has passed, and at most now + IdleProbeInterval while the
// link is down. Calling Tick earlier does no harm and does nothing.
func (l *Liveness) NextTick(now time.Time) time.Time {
	t := now.Sub(l.base)
	if l.linkDown {
		return now.Add(l.cfg.IdleProbeInterval)
	}
	g, tDown := l.replyTimeout(), l.downSilence()
	next := l.probeAt(t)
	switch {
	case l.state == paths.StateUp && !l.suspect && l.pending != none:
		next = min(next, l.missAt(g))
	case l.state == paths.StateUp && l.suspect:
		next = min(next, l.downAt(g, tDown))
	case l.state == paths.StateDown && l.runCount > 0:
		if l.pending != none {
			next = min(next, l.missAt(g))
		}
		if l.runFull() {
			next = min(next, l.upAt())
		}
	}
	return l.base.Add(max(next, t))
}

// sent records a send at t; probe says it was a probe that Tick asked for.
func (l *Liveness) sent(t time.Duration, probe bool) {
	l.lastSend = t
	if l.pending == none {
		l.pending = t
	}
	if !probe {
		return
	}
	l.lastProbe, l.probeNow = t, false
	l.probes++
	if l.probes == l.cfg.DownAfterProbes {
		l.probeM = t
	}
}

func (l *Liveness) setState(s paths.State, t time.Duration) {
	l.state, l.lastChange, l.changedOnce = s, t, true
	l.suspect, l.renewed = false, false
	l.runCount = 0
}

// replyTimeout is how long after a send its reply is overdue:
// SRTT + 4×RTTVAR, but at least SRTT + 25 ms and at most SRTT +
// max(25 ms, SRTT/4), so that jitter cannot stretch detection past the
// budget of the package doc.
func (l *Liveness) replyTimeout() time.Duration {
	s, v := l.est.srtt, l.est.rttvar
	return s + min(max(4*v, minReplySlack), max(minReplySlack, s/4))
}

// downSilence is the silence after which a suspect path goes Down.
func (l *Liveness) downSilence() time.Duration {
	if l.busy {
		return max(l.cfg.BusyDownAfter, 4*l.est.srtt)
	}
	return max(l.cfg.DownAfter, 4*l.est.srtt)
}

// missAt is when the pending send counts as missed: it is overdue and the
// silence is at least SuspectAfter. pending must be set.
func (l *Liveness) missAt(g time.Duration) time.Duration {
	return max(l.pending+g, l.lastRecv+l.cfg.SuspectAfter)
}

func (l *Liveness) missing(t, g time.Duration) bool {
	return l.pending != none && t >= l.missAt(g)
}

// downAt is when a suspect path goes Down: silence of tDown, the
// DownAfterProbes-th probe since the last receive overdue, and MinDwell
// since the last change.
func (l *Liveness) downAt(g, tDown time.Duration) time.Duration {
	if l.probeM == none {
		return math.MaxInt64 // not enough probes yet; probeAt comes first
	}
	return max(l.lastRecv+tDown, l.probeM+g, l.dwellEnd())
}

// upAt is when a Down path whose run holds UpAfterProbes replies comes Up:
// UpAfter into the run, or QuickUpAfter if the run began LongDown after
// the last reply, link event and state change; after Renew, at its first
// reply.
func (l *Liveness) upAt() time.Duration {
	upAfter := l.cfg.UpAfter
	if l.renewed {
		return l.runStart
	}
	if l.runQuick {
		upAfter = min(upAfter, l.cfg.QuickUpAfter)
	}
	return max(l.runStart+upAfter, l.dwellEnd())
}

// runFull reports whether the current run holds enough replies to come
// Up: UpAfterProbes, or one after Renew.
func (l *Liveness) runFull() bool {
	return l.runCount >= l.cfg.UpAfterProbes || l.renewed && l.runCount > 0
}

func (l *Liveness) dwellEnd() time.Duration {
	if !l.changedOnce {
		return math.MinInt64
	}
	return l.lastChange + l.cfg.MinDwell
}

// probeAt is when the next probe is due.
func (l *Liveness) probeAt(t time.Duration) time.Duration {
	switch {
	case l.probeNow:
		return t
	case l.state == paths.StateUp && !l.suspect && l.busy:
		return after(l.lastProbe, l.cfg.BusyProbeInterval, t)
	case l.state == paths.StateUp && !l.suspect:
		// Idle probing: only when nothing was sent for an interval.
		return after(l.lastSend, l.cfg.IdleProbeInterval, t)
	case l.suspect || l.runCount > 0:
		return after(l.lastProbe, l.cfg.SuspectProbeInterval, t)
	default:
		return after(l.lastProbe, l.cfg.IdleProbeInterval, t)
	}
}

// after returns at + d, or t if at is unset.
func after(at, d, t time.Duration) time.Duration {
	if at == none {
		return t
	}
	return at + d
}
