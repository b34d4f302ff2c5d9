// SPDX-License-Identifier: MIT

package probe

import "time"

// Defaults of [Config]. The package doc derives them from the issue's
// budgets (≤ 1 s blackhole detection at RTT ≤ 200 ms, ≤ 2 s rejoin, ≤ 1
// change per 2 s, ≤ 2 kbit/s idle probing).
const (
	DefaultIdleProbeInterval    = 550 * time.Millisecond
	DefaultSuspectProbeInterval = 50 * time.Millisecond
	DefaultSuspectAfter         = 150 * time.Millisecond
	DefaultDownAfter            = 850 * time.Millisecond
	DefaultDownAfterProbes      = 3
	DefaultUpAfter              = 800 * time.Millisecond
	DefaultUpAfterProbes        = 3
	DefaultMinDwell             = 2 * time.Second
	DefaultLossWindow           = 100
	DefaultRateWindow           = 10 * time.Second
	DefaultBusyProbeInterval    = 100 * time.Millisecond
	DefaultBusyDownAfter        = 450 * time.Millisecond
	DefaultLongDown             = 5 * time.Second
	DefaultQuickUpAfter         = 200 * time.Millisecond

	// MaxLossWindow is the largest LossWindow; larger values are clamped.
	MaxLossWindow = 4096
)

// maxConfigDuration bounds every Config duration, so that sums of instants
// and durations cannot overflow.
const maxConfigDuration = time.Hour

// Config tunes an [Estimator] and a [Liveness]. The zero value means the
// defaults; a duration or count that is zero or negative means its default.
// The Default… constants hold the defaults; durations above an hour count
// as an hour.
type Config struct {
	// IdleProbeInterval: a path that is Up and not suspect is probed when
	// nothing that elicits a reply (OnSend or a probe) was sent on it for
	// this long, so a busy path is never probed. A Down path that gets no
	// replies is probed at this interval too. Default 550 ms.
	IdleProbeInterval time.Duration

	// SuspectProbeInterval is the probe interval while a path is suspect
	// and while a Down path that answers again is confirming its recovery.
	// Default 50 ms.
	SuspectProbeInterval time.Duration

	// SuspectAfter is the least silence (time since the last OnReceive)
	// before an overdue send makes the path suspect, and before an overdue
	// send breaks a recovering path's run of replies. Default 150 ms.
	SuspectAfter time.Duration

	// DownAfter is the least silence before a suspect path goes Down; the
	// silence used is max(DownAfter, 4×SRTT). Default 850 ms.
	DownAfter time.Duration

	// DownAfterProbes is how many probes must have been sent since the last
	// OnReceive, and all be overdue, before a suspect path goes Down, so
	// that one lost probe never takes a path down. Default 3.
	DownAfterProbes int

	// UpAfter is how long replies must keep arriving, with no overdue
	// silence between them, before a Down path comes Up. Default 800 ms.
	UpAfter time.Duration

	// UpAfterProbes is how many replies that run must hold at least.
	// Default 3.
	UpAfterProbes int

	// MinDwell is the least time between two changes of the path state,
	// except that LinkDown takes a path Down at once. Default 2 s.
	MinDwell time.Duration

	// LossWindow is the number of most recent outcomes (probes answered or
	// lost, packets reported delivered or lost) that Stats.Loss is computed
	// over. Default 100, at most MaxLossWindow.
	LossWindow int

	// RateWindow is the window of the max filter over delivery-rate samples
	// (Stats.DeliveryRate). Default 10 s.
	RateWindow time.Duration

	// BusyProbeInterval is the probe interval of an Up path its owner marks
	// busy (SetBusy: it carries data that gets no feedback), and
	// BusyDownAfter the DownAfter of such a path. A blackhole under a TCP
	// transfer is then Down about half a second after the fault, before
	// the senders' second retransmission timeout (≈ 0.6 s after the fault
	// with Linux's 200 ms minimum RTO), so the moved flows resume after
	// one backoff instead of two (≈ 1.4 s). The price: a busy path silent
	// for ~450 ms fails over, where an idle one tolerates ~850 ms.
	// Defaults 100 ms and 450 ms.
	BusyProbeInterval time.Duration
	BusyDownAfter     time.Duration

	// A path that was Down for at least LongDown before its current run
	// of replies began comes Up after QuickUpAfter of that run instead of
	// UpAfter (and UpAfterProbes replies). UpAfter damps a flapping path,
	// but a path silent for seconds is not flapping: it was out of reach
	// (a road tunnel, a lift) and is back, and its flows have waited long
	// enough. MinDwell still holds. Defaults 5 s and 200 ms.
	LongDown     time.Duration
	QuickUpAfter time.Duration
}

// withDefaults returns c with every unset or invalid field replaced by its
// default.
func (c Config) withDefaults() Config {
	dur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
		*d = min(*d, maxConfigDuration)
	}
	num := func(n *int, def int) {
		if *n <= 0 {
			*n = def
		}
	}
	dur(&c.IdleProbeInterval, DefaultIdleProbeInterval)
	dur(&c.SuspectProbeInterval, DefaultSuspectProbeInterval)
	dur(&c.SuspectAfter, DefaultSuspectAfter)
	dur(&c.DownAfter, DefaultDownAfter)
	num(&c.DownAfterProbes, DefaultDownAfterProbes)
	dur(&c.UpAfter, DefaultUpAfter)
	num(&c.UpAfterProbes, DefaultUpAfterProbes)
	dur(&c.MinDwell, DefaultMinDwell)
	num(&c.LossWindow, DefaultLossWindow)
	c.LossWindow = min(c.LossWindow, MaxLossWindow)
	dur(&c.RateWindow, DefaultRateWindow)
	dur(&c.BusyProbeInterval, DefaultBusyProbeInterval)
	dur(&c.BusyDownAfter, DefaultBusyDownAfter)
	dur(&c.LongDown, DefaultLongDown)
	dur(&c.QuickUpAfter, DefaultQuickUpAfter)
	return c
}
