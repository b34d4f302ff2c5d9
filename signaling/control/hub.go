// SPDX-License-Identifier: MIT

package control

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultQueueLen is the queue length of a [Subscription] when
// [Hub.Subscribe] is given 0.
const DefaultQueueLen = 256

// ErrClosed is returned by [Subscription.Next] after [Subscription.Close].
var ErrClosed = errors.New("subscription closed")

// HubStats are a hub's counters.
type HubStats struct {
	// PublishedTotal counts events published.
	PublishedTotal uint64 `json:"published_total"`
	// DroppedTotal counts events lost by slow subscribers: one per event per
	// subscriber whose queue was full.
	DroppedTotal uint64 `json:"dropped_total"`
	// LaggedTotal counts the lagged events generated (one per run of events
	// a subscriber lost).
	LaggedTotal uint64 `json:"lagged_total"`
	// Subscribers is the number of current subscriptions (a gauge).
	Subscribers int `json:"subscribers"`
}

// Hub fans events out to subscribers. Publish never blocks: each
// subscription has a bounded queue, and when it is full the event is
// dropped for that subscriber only, counted, and replaced by one KindLagged
// event in the place of the run of lost events. Every subscriber sees the
// events it gets in Seq order.
//
// A Hub must be created with [NewHub]; it is safe for concurrent use. Lock
// order: Hub.mu, then Subscription.mu.
type Hub struct {
	// atomic
	published, dropped, lagged atomic.Uint64

	mu   sync.Mutex
	seq  uint64 // the last Seq assigned
	subs map[*Subscription]struct{}
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{subs: make(map[*Subscription]struct{})}
}

// Publish assigns e the next Seq (and the current time if e.Time is zero)
// and queues it for every subscriber. It never blocks on a subscriber and
// does not allocate.
func (h *Hub) Publish(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	h.mu.Lock()
	h.seq++
	e.Seq = h.seq
	for s := range h.subs {
		s.push(e)
	}
	h.mu.Unlock()
	h.published.Add(1)
}

// Seq returns the Seq of the last event published (0 if none).
func (h *Hub) Seq() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// Subscribe returns a subscription that receives every event published
// from now on, with a queue of queueLen events (0 or less:
// DefaultQueueLen). The caller must Close it.
func (h *Hub) Subscribe(queueLen int) *Subscription {
	if queueLen <= 0 {
		queueLen = DefaultQueueLen
	}
	s := &Subscription{
		h:      h,
		notify: make(chan struct{}, 1),
		ring:   make([]entry, queueLen+1), // one spare slot for a lagged marker
		limit:  queueLen,
	}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Stats returns a snapshot of the hub's counters. Safe for concurrent use.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	n := len(h.subs)
	h.mu.Unlock()
	return HubStats{
		PublishedTotal: h.published.Load(),
		DroppedTotal:   h.dropped.Load(),
		LaggedTotal:    h.lagged.Load(),
		Subscribers:    n,
	}
}

// entry is one queued event; lost > 0 marks a lagged marker standing for
// that many lost events, the last of which is ev.
type entry struct {
	ev   Event
	lost uint64
}

// Subscription is one subscriber's queue on a [Hub]. Next must be called
// from one goroutine at a time; Close may be called from any.
type Subscription struct {
	h      *Hub
	notify chan struct{} // capacity 1: "the queue may have changed"

	mu sync.Mutex
	// ring holds n entries from head. Real events are queued only while
	// n < limit; when the queue is full, a lost event becomes (or extends)
	// a lagged marker at the tail, which may use the one spare slot. So
	// n <= limit+1, and n == limit+1 only when the tail is a marker.
	ring    []entry
	head, n int
	limit   int
	closed  bool
}

// push queues e or counts it lost. Called with s.h.mu held.
func (s *Subscription) push(e Event) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if s.n < s.limit {
		s.ring[(s.head+s.n)%len(s.ring)] = entry{ev: e}
		s.n++
	} else {
		s.h.dropped.Add(1)
		tail := &s.ring[(s.head+s.n-1)%len(s.ring)]
		if tail.lost > 0 {
			tail.lost++
			tail.ev = e
		} else {
			s.ring[(s.head+s.n)%len(s.ring)] = entry{ev: e, lost: 1}
			s.n++
			s.h.lagged.Add(1)
		}
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Next returns the next event, blocking until there is one, ctx ends
// (ctx.Err()) or the subscription is closed (ErrClosed). Events queued
// before Close are still returned.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	for {
		s.mu.Lock()
		if s.n > 0 {
			en := s.ring[s.head]
			s.ring[s.head] = entry{} // drop the PathView reference
			s.head = (s.head + 1) % len(s.ring)
			s.n--
			s.mu.Unlock()
			if en.lost > 0 {
				return Event{
					Seq:    en.ev.Seq,
					Time:   en.ev.Time,
					Kind:   KindLagged,
					Detail: "dropped " + strconv.FormatUint(en.lost, 10) + " events",
				}, nil
			}
			return en.ev, nil
		}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return Event{}, ErrClosed
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// Close ends the subscription: no more events are queued, and Next returns
// ErrClosed once the queue is empty. Close is idempotent.
func (s *Subscription) Close() {
	s.h.mu.Lock()
	delete(s.h.subs, s)
	s.h.mu.Unlock()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}
