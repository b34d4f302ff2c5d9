// SPDX-License-Identifier: MIT

package linkem

import (
	"math/rand/v2"
	"time"
)

// DropReason says why a frame was not forwarded.
type DropReason uint8

// Drop reasons.
const (
	DropNone      DropReason = iota
	DropLoss                 // random loss (Params.Loss)
	DropBurst                // Gilbert-Elliott loss
	DropBlackhole            // Params.Blackhole
	DropQueue                // the rate queue was full (drop-tail)
	DropDelayLine            // too many frames held in the delay line
	DropOversize             // frame larger than the receive buffer (offloads on?)
	DropSendError            // the egress interface refused the frame
	numDropReasons
)

func (r DropReason) String() string {
	switch r {
	case DropNone:
		return "none"
	case DropLoss:
		return "loss"
	case DropBurst:
		return "burst_loss"
	case DropBlackhole:
		return "blackhole"
	case DropQueue:
		return "queue_full"
	case DropDelayLine:
		return "delay_line_full"
	case DropOversize:
		return "oversize"
	case DropSendError:
		return "send_error"
	}
	return "unknown"
}

// Link is the pure model of one direction: it decides, for each frame
// arriving at a given time, whether it is dropped and when each of its
// copies leaves the far end. It keeps the token bucket, the queue
// occupancy, the Gilbert-Elliott state and the ordering constraint. Time is
// a duration since an arbitrary origin, passed in by the caller and never
// decreasing. A Link is owned by one goroutine.
type Link struct {
	p     Params
	limit int // queue bound in bytes (0: no queue)
	rng   *rand.Rand
	geBad bool

	tat         time.Duration // token bucket: when the bucket is full again
	lastDepart  time.Duration // departure of the newest queued frame (FIFO)
	lastRelease time.Duration // release of the newest frame (no-reorder clamp)

	// backlog holds (departure, size) of frames waiting for tokens, oldest
	// first, as a ring; queued is the sum of their sizes.
	backlog []backlogEntry
	head, n int
	queued  int
}

type backlogEntry struct {
	depart time.Duration
	size   int
}

// NewLink returns a Link with parameters p (assumed valid) whose random
// choices come from a generator seeded with seed.
func NewLink(p Params, seed uint64) *Link {
	l := &Link{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	l.SetParams(p)
	return l
}

// SetParams replaces the parameters. Frames already scheduled keep their
// times; the token bucket, queue and loss state carry over.
func (l *Link) SetParams(p Params) {
	l.p = p
	l.limit = p.QueueLimit()
}

// Params returns the current parameters.
func (l *Link) Params() Params { return l.p }

// QueuedBytes returns the bytes waiting for tokens at the last Admit.
func (l *Link) QueuedBytes() int { return l.queued }

// Admit decides the fate of a frame of size bytes arriving at now. It
// returns the number of copies to send (0: dropped for reason; 2:
// duplicated) and the release time of each copy. The second copy of a
// duplicate may be refused by the queue, in which case one copy is sent.
func (l *Link) Admit(now time.Duration, size int) (copies int, rel [2]time.Duration, reason DropReason) {
	p := &l.p
	if p.Blackhole {
		return 0, rel, DropBlackhole
	}
	if p.GE.P > 0 {
		if l.geBad {
			if l.rng.Float64() < p.GE.R {
				l.geBad = false
			}
		} else if l.rng.Float64() < p.GE.P {
			l.geBad = true
		}
		lp := p.GE.LossGood
		if l.geBad {
			lp = p.GE.LossBad
		}
		if lp > 0 && l.rng.Float64() < lp {
			return 0, rel, DropBurst
		}
	}
	if p.Loss > 0 && l.rng.Float64() < p.Loss {
		return 0, rel, DropLoss
	}
	n := 1
	if p.Duplicate > 0 && l.rng.Float64() < p.Duplicate {
		n = 2
	}
	for i := range n {
		t, ok := l.shape(now, size)
		if !ok {
			if i == 0 {
				return 0, rel, DropQueue
			}
			break
		}
		rel[i] = l.delay(t)
		copies++
	}
	return copies, rel, DropNone
}

// shape runs the frame through the token bucket and the queue and returns
// when it has left the link (its last byte sent), or false if the queue is
// full.
func (l *Link) shape(now time.Duration, size int) (time.Duration, bool) {
	p := &l.p
	if p.Rate <= 0 {
		return now, true
	}
	// Forget frames that have left the queue.
	for l.n > 0 && l.backlog[l.head].depart <= now {
		l.queued -= l.backlog[l.head].size
		l.head = (l.head + 1) % len(l.backlog)
		l.n--
	}
	ser := time.Duration(float64(size) / float64(p.Rate) * float64(time.Second))
	burst := max(p.Burst, size)
	// A frame may leave once the bucket holds size tokens: the bucket holds
	// burst − (tat − t)·rate tokens at t.
	ready := l.tat - time.Duration(float64(burst-size)/float64(p.Rate)*float64(time.Second))
	depart := max(now, l.lastDepart, ready)
	if depart > now {
		if l.queued+size > l.limit {
			return 0, false
		}
		l.push(depart, size)
	}
	l.lastDepart = depart
	l.tat = max(l.tat, depart) + ser
	if p.Burst == 0 {
		// A serializing link: the frame has arrived when its last byte has.
		return depart + ser, true
	}
	return depart, true
}

func (l *Link) push(depart time.Duration, size int) {
	if l.n == len(l.backlog) {
		nb := make([]backlogEntry, max(64, 2*len(l.backlog)))
		for i := range l.n {
			nb[i] = l.backlog[(l.head+i)%len(l.backlog)]
		}
		l.backlog, l.head = nb, 0
	}
	l.backlog[(l.head+l.n)%len(l.backlog)] = backlogEntry{depart, size}
	l.n++
	l.queued += size
}

// delay adds delay and jitter to a frame that left the queue at t.
func (l *Link) delay(t time.Duration) time.Duration {
	p := &l.p
	reorder := p.Reorder > 0
	if reorder && l.rng.Float64() < p.Reorder {
		return t // skips the delay line: overtakes held frames
	}
	d := p.Delay
	if p.Jitter > 0 {
		var j float64
		if p.Dist == Normal {
			j = min(max(l.rng.NormFloat64(), -3), 3)
		} else {
			j = 2*l.rng.Float64() - 1
		}
		d += time.Duration(j * float64(p.Jitter))
		d = max(d, 0)
	}
	r := t + d
	if !reorder {
		r = max(r, l.lastRelease)
		l.lastRelease = r
	}
	return r
}
