// SPDX-License-Identifier: MIT

package probe

import "time"

const (
	// maxRTT bounds RTT samples so that the arithmetic on them (7×SRTT,
	// 4×RTTVAR, …) cannot overflow.
	maxRTT = time.Minute
	// probeRing is how many probes an Estimator remembers; a probe still
	// unanswered when its slot is reused counts as lost.
	probeRing = 64
	// initialProbeTimeout is the probe loss timeout before the first RTT
	// sample (RFC 6298 §2.1's initial RTO).
	initialProbeTimeout = time.Second
	// minProbeTimeout is the floor of the probe loss timeout.
	minProbeTimeout = 200 * time.Millisecond
	// rateMinInterval is the shortest interval a delivery-rate sample
	// spans; a sample spans at least one SRTT too.
	rateMinInterval = 100 * time.Millisecond
	// rateIdleGap: delivery reports further apart than this start a new
	// interval instead of yielding an application-limited sample.
	rateIdleGap = time.Second
)

// Stats is a snapshot of an [Estimator]: plain values, safe to copy and to
// publish to other goroutines.
type Stats struct {
	// SRTT and RTTVar are the smoothed round-trip time and its mean
	// deviation (RFC 6298 §2, α = 1/8, β = 1/4); zero before any sample.
	SRTT, RTTVar time.Duration
	// LatestRTT is the most recent RTT sample.
	LatestRTT time.Duration
	// RecentRTT is the smaller of the two most recent samples: it follows
	// a lasting change of the delay within two samples (SRTT needs about
	// five to cross half of a step) but ignores a single late reply. The
	// policy compares delay limits against max(SRTT, RecentRTT).
	RecentRTT time.Duration
	// Jitter is the interarrival jitter of the RTT samples (RFC 3550
	// §6.4.1 applied to successive RTTs: J += (|D| − J)/16).
	Jitter time.Duration
	// Samples is the number of RTT samples taken.
	Samples uint64
	// Loss is the fraction (0..1) of lost outcomes among the last
	// Outcomes (at most Config.LossWindow) outcomes.
	Loss float64
	// Outcomes is the number of outcomes Loss is computed over.
	Outcomes int
	// DeliveryRate is the capacity estimate in bytes per second: the
	// maximum delivery-rate sample of the last Config.RateWindow (a
	// windowed max filter, as BBR's bottleneck bandwidth). Zero before the
	// first sample; kept while the path is idle.
	DeliveryRate uint64
	// Delivered is the total number of bytes reported by OnDelivered.
	Delivered uint64
}

type probeState uint8

const (
	probeFree probeState = iota
	probePending
	probeAcked
	probeLost
)

// probeRec is one probe an Estimator remembers.
type probeRec struct {
	seq   uint64
	sent  time.Time
	state probeState
	out   uint64 // index of its loss outcome once it is lost
}

// Estimator measures one path's characteristics from the events its owner
// reports: RTT and jitter from RTT samples, loss from probes answered or
// not and from packet outcomes reported by peer feedback, and the delivery
// rate from bytes the peer reports delivered.
//
// The zero value is ready to use with the default Config. An Estimator
// makes no allocation and holds no goroutine; it is not safe for concurrent
// use: the goroutine that owns the path calls it (see the package doc).
// Times passed to it must not decrease from call to call.
type Estimator struct {
	// Immutable after NewEstimator (zero: defaults).
	lossWin int
	rateWin time.Duration

	// RTT and jitter.
	srtt, rttvar, latest, previous, jitter time.Duration
	samples                                uint64

	// Loss: a ring of outcome bits (1 = lost); outcome i sits at bit
	// i % lossWin. lossPushed counts outcomes ever pushed; lossPos is
	// lossPushed % lossWin.
	lossBits   [MaxLossWindow / 64]uint64
	lossPushed uint64
	lossPos    int
	lossCount  int

	// Probes: probe i (in order of OnProbeSent) is probes[i % probeRing];
	// probeN counts probes ever recorded, probeHead is the oldest that
	// may still be pending.
	probes    [probeRing]probeRec
	probeN    uint64
	probeHead uint64

	// Delivery rate.
	rateOn               bool
	rateStart, rateLast  time.Time
	rateBytes, delivered uint64
	rateMax              maxFilter
}

// NewEstimator returns an Estimator configured by cfg (LossWindow and
// RateWindow matter; the other fields are ignored).
func NewEstimator(cfg Config) *Estimator {
	e := new(Estimator)
	e.init(cfg)
	return e
}

func (e *Estimator) init(cfg Config) {
	cfg = cfg.withDefaults()
	*e = Estimator{lossWin: cfg.LossWindow, rateWin: cfg.RateWindow}
}

// Reset forgets every measurement (for instance after the path moved to a
// new network) and keeps the configuration.
func (e *Estimator) Reset() {
	*e = Estimator{lossWin: e.lossWin, rateWin: e.rateWin}
}

func (e *Estimator) window() int {
	if e.lossWin <= 0 {
		return DefaultLossWindow
	}
	return e.lossWin
}

// OnRTT takes one RTT sample, from a probe reply (OnProbeAck does this
// itself) or from peer feedback on data. Negative samples are ignored;
// samples above a minute count as a minute.
func (e *Estimator) OnRTT(sample time.Duration) {
	if sample < 0 {
		return
	}
	sample = min(sample, maxRTT)
	if e.samples == 0 {
		// RFC 6298 §2.2.
		e.srtt, e.rttvar = sample, sample/2
	} else {
		// RFC 6298 §2.3: RTTVAR first, with the old SRTT.
		e.rttvar = (3*e.rttvar + absDur(e.srtt-sample)) / 4
		e.srtt = (7*e.srtt + sample) / 8
		// RFC 3550 §6.4.1, D being the change between successive RTTs.
		e.jitter += (absDur(sample-e.latest) - e.jitter) / 16
	}
	e.previous, e.latest = e.latest, sample
	e.samples++
}

// OnProbeSent records that probe seq was sent at now. Sequence numbers must
// be strictly increasing per path (the probe frame's counter will do). It
// also declares lost the probes whose replies are overdue (see Expire).
func (e *Estimator) OnProbeSent(now time.Time, seq uint64) {
	e.Expire(now)
	r := &e.probes[e.probeN%probeRing]
	if r.state == probePending {
		e.lose(r) // 64 probes in flight: the oldest is not coming back
	}
	*r = probeRec{seq: seq, sent: now, state: probePending}
	e.probeN++
	if e.probeN-e.probeHead > probeRing {
		e.probeHead = e.probeN - probeRing
	}
}

// OnProbeAck records the reply to probe seq, received at now, and takes its
// RTT sample. A reply to a probe already declared lost still yields the
// sample (so that SRTT follows a path whose RTT grew) and turns its loss
// outcome back into a delivery while that outcome is in the window. ok is
// false for an unknown or already answered seq, or a reply dated before its
// probe; nothing is recorded then.
func (e *Estimator) OnProbeAck(now time.Time, seq uint64) (rtt time.Duration, ok bool) {
	rtt, ok = e.ack(now, seq)
	e.Expire(now)
	return rtt, ok
}

func (e *Estimator) ack(now time.Time, seq uint64) (time.Duration, bool) {
	for k := uint64(0); k < probeRing && k < e.probeN; k++ {
		r := &e.probes[(e.probeN-1-k)%probeRing]
		if r.seq != seq || r.state == probeFree {
			continue
		}
		rtt := now.Sub(r.sent)
		if rtt < 0 || r.state == probeAcked {
			return 0, false
		}
		if r.state == probePending {
			e.push(false)
		} else {
			e.unlose(r.out)
		}
		r.state = probeAcked
		e.OnRTT(rtt)
		return rtt, true
	}
	return 0, false
}

// Expire declares lost every probe unanswered for longer than the probe
// loss timeout, max(2×SRTT + 4×RTTVAR, 200 ms), or 1 s before the first
// RTT sample. OnProbeSent and OnProbeAck call it; call it before Snapshot
// for an up-to-date Loss on a path whose probes stopped.
func (e *Estimator) Expire(now time.Time) {
	timeout := initialProbeTimeout
	if e.samples > 0 {
		timeout = max(2*e.srtt+4*e.rttvar, minProbeTimeout)
	}
	for ; e.probeHead < e.probeN; e.probeHead++ {
		r := &e.probes[e.probeHead%probeRing]
		if r.state == probePending {
			if now.Sub(r.sent) < timeout {
				return
			}
			e.lose(r)
		}
	}
}

// OnPackets records outcomes reported by peer feedback: acked packets
// delivered and lost packets lost. When acked+lost exceeds the loss window
// only the window's worth is kept, in the same proportion; losses are
// spread evenly among the deliveries.
func (e *Estimator) OnPackets(acked, lost int) {
	acked, lost = max(acked, 0), max(lost, 0)
	n := uint64(acked) + uint64(lost)
	if n == 0 {
		return
	}
	l := uint64(lost)
	if w := uint64(e.window()); n > w {
		l = uint64(float64(l)/float64(n)*float64(w) + 0.5)
		n = w
	}
	var acc uint64
	for range n { // spread the l losses evenly over the n outcomes
		acc += l
		lost := acc >= n
		if lost {
			acc -= n
		}
		e.push(lost)
	}
}

func (e *Estimator) lose(r *probeRec) {
	r.state = probeLost
	r.out = e.lossPushed
	e.push(true)
}

// push appends one outcome to the loss window.
func (e *Estimator) push(lost bool) {
	i := e.lossPos
	word, bit := &e.lossBits[i/64], uint64(1)<<(i%64)
	if *word&bit != 0 {
		e.lossCount-- // the outcome falling out of the window was a loss
	}
	*word &^= bit
	if lost {
		*word |= bit
		e.lossCount++
	}
	e.lossPushed++
	if e.lossPos++; e.lossPos >= e.window() {
		e.lossPos = 0
	}
}

// unlose turns outcome out back into a delivery if it is still in the
// window.
func (e *Estimator) unlose(out uint64) {
	w := uint64(e.window())
	if e.lossPushed-out > w {
		return
	}
	i := out % w
	word, bit := &e.lossBits[i/64], uint64(1)<<(i%64)
	if *word&bit != 0 {
		*word &^= bit
		e.lossCount--
	}
}

// OnDelivered records that the peer reported bytes delivered at now (the
// feedback's receive time). Each report's bytes count towards the interval
// that ends with it; the first report, and the first after more than a
// second without any, only start an interval. An interval of at least
// max(100 ms, SRTT) yields a rate sample for the max filter.
func (e *Estimator) OnDelivered(now time.Time, bytes int) {
	if bytes <= 0 {
		return
	}
	e.delivered += uint64(bytes)
	if !e.rateOn || now.Sub(e.rateLast) > rateIdleGap || now.Before(e.rateStart) {
		e.rateOn, e.rateStart, e.rateLast, e.rateBytes = true, now, now, 0
		return
	}
	e.rateLast = now
	e.rateBytes += uint64(bytes)
	if el := now.Sub(e.rateStart); el >= max(rateMinInterval, e.srtt) {
		rate := uint64(float64(e.rateBytes) * float64(time.Second) / float64(el))
		win := e.rateWin
		if win <= 0 {
			win = DefaultRateWindow
		}
		e.rateMax.update(now, rate, win)
		e.rateStart, e.rateBytes = now, 0
	}
}

// Snapshot returns the current measurements.
func (e *Estimator) Snapshot() Stats {
	s := Stats{
		SRTT:         e.srtt,
		RTTVar:       e.rttvar,
		LatestRTT:    e.latest,
		RecentRTT:    e.latest,
		Jitter:       e.jitter,
		Samples:      e.samples,
		Outcomes:     int(min(e.lossPushed, uint64(e.window()))),
		DeliveryRate: e.rateMax.best(),
		Delivered:    e.delivered,
	}
	if e.samples > 1 {
		s.RecentRTT = min(e.latest, e.previous)
	}
	if s.Outcomes > 0 {
		s.Loss = float64(e.lossCount) / float64(s.Outcomes)
	}
	return s
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
