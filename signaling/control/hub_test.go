// SPDX-License-Identifier: MIT

package control

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

// drain reads every queued event without blocking.
func drain(t *testing.T, s *Subscription) []Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out []Event
	for {
		ev, err := s.Next(ctx)
		if err != nil {
			return out
		}
		out = append(out, ev)
	}
}

// checkContiguous verifies that evs account for every Seq from first to
// last exactly once: each real event is the next Seq, and each lagged
// event stands for the run of lost events ending at its Seq. It returns
// the number of real events and of events lost.
func checkContiguous(t *testing.T, evs []Event, first uint64) (got, lost uint64) {
	t.Helper()
	next := first
	for i, ev := range evs {
		if ev.Kind == KindLagged {
			n, err := strconv.ParseUint(lagCount(ev.Detail), 10, 64)
			if err != nil || n == 0 {
				t.Fatalf("event %d: lagged detail %q", i, ev.Detail)
			}
			if ev.Seq != next+n-1 {
				t.Fatalf("event %d: lagged seq %d for %d lost, want %d", i, ev.Seq, n, next+n-1)
			}
			if i > 0 && evs[i-1].Kind == KindLagged {
				t.Fatalf("event %d: two lagged events in a row", i)
			}
			lost += n
			next = ev.Seq + 1
			continue
		}
		if ev.Seq != next {
			t.Fatalf("event %d: seq %d, want %d", i, ev.Seq, next)
		}
		got++
		next++
	}
	return got, lost
}

// lagCount extracts N from "dropped N events".
func lagCount(detail string) string {
	var n string
	for _, c := range detail {
		if c >= '0' && c <= '9' {
			n += string(c)
		}
	}
	return n
}

func TestHubOrderAndSeq(t *testing.T) {
	h := NewHub()
	a, b := h.Subscribe(0), h.Subscribe(10)
	defer a.Close()
	defer b.Close()
	for i := range 10 {
		h.Publish(Event{Kind: KindPathChanged, Detail: strconv.Itoa(i)})
	}
	if h.Seq() != 10 {
		t.Fatalf("Seq() = %d, want 10", h.Seq())
	}
	for name, s := range map[string]*Subscription{"a": a, "b": b} {
		evs := drain(t, s)
		if len(evs) != 10 {
			t.Fatalf("%s: got %d events, want 10", name, len(evs))
		}
		for i, ev := range evs {
			if ev.Seq != uint64(i+1) || ev.Detail != strconv.Itoa(i) || ev.Time.IsZero() {
				t.Fatalf("%s: event %d = %+v", name, i, ev)
			}
		}
	}
	if st := h.Stats(); st.PublishedTotal != 10 || st.DroppedTotal != 0 || st.LaggedTotal != 0 || st.Subscribers != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestHubLagging(t *testing.T) {
	tests := []struct {
		name      string
		queue     int
		publish   int
		wantReal  uint64
		wantLost  uint64
		wantLags  uint64
		readEvery int // pop one event after every readEvery publishes (0: never)
	}{
		{name: "no overflow", queue: 8, publish: 8, wantReal: 8},
		{name: "one over", queue: 8, publish: 9, wantReal: 8, wantLost: 1, wantLags: 1},
		{name: "far over", queue: 4, publish: 1000, wantReal: 4, wantLost: 996, wantLags: 1},
		{name: "queue of one", queue: 1, publish: 5, wantReal: 1, wantLost: 4, wantLags: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHub()
			slow := h.Subscribe(tc.queue)
			defer slow.Close()
			fast := h.Subscribe(tc.publish + 1)
			defer fast.Close()
			for range tc.publish {
				h.Publish(Event{Kind: KindPathChanged}) // must not block
			}
			evs := drain(t, slow)
			got, lost := checkContiguous(t, evs, 1)
			if got != tc.wantReal || lost != tc.wantLost {
				t.Fatalf("real %d lost %d, want %d and %d (events %+v)", got, lost, tc.wantReal, tc.wantLost, evs)
			}
			if tc.wantLost > 0 && evs[len(evs)-1].Kind != KindLagged {
				t.Fatalf("last event %+v, want lagged", evs[len(evs)-1])
			}
			// The other subscriber lost nothing.
			if fe := drain(t, fast); len(fe) != tc.publish {
				t.Fatalf("fast subscriber got %d events, want %d", len(fe), tc.publish)
			}
			st := h.Stats()
			if st.DroppedTotal != tc.wantLost || st.LaggedTotal != tc.wantLags || st.PublishedTotal != uint64(tc.publish) {
				t.Fatalf("stats %+v", st)
			}
			// After draining, new events flow again.
			h.Publish(Event{Kind: KindPathUp})
			if evs := drain(t, slow); len(evs) != 1 || evs[0].Kind != KindPathUp || evs[0].Seq != uint64(tc.publish+1) {
				t.Fatalf("after drain: %+v", evs)
			}
		})
	}
}

// TestHubLagInterleaved pops while publishing, so that runs of lost events
// alternate with delivered ones; every Seq must be accounted for once.
func TestHubLagInterleaved(t *testing.T) {
	h := NewHub()
	s := h.Subscribe(3)
	defer s.Close()
	ctx := context.Background()
	var evs []Event
	const n = 500
	for i := range n {
		h.Publish(Event{Kind: KindPathChanged})
		if i%4 == 0 {
			ev, err := s.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ev)
		}
	}
	evs = append(evs, drain(t, s)...)
	got, lost := checkContiguous(t, evs, 1)
	if got+lost != n {
		t.Fatalf("real %d + lost %d != %d", got, lost, n)
	}
	st := h.Stats()
	if st.DroppedTotal != lost || st.LaggedTotal == 0 || st.LaggedTotal > lost {
		t.Fatalf("stats %+v, lost %d", st, lost)
	}
}

func TestSubscriptionNextBlocksAndCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub()
		s := h.Subscribe(0)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		got := make(chan Event, 1)
		go func() {
			ev, err := s.Next(ctx)
			if err != nil {
				t.Error(err)
			}
			got <- ev
		}()
		synctest.Wait() // Next is blocked
		h.Publish(Event{Kind: KindPeerChanged})
		if ev := <-got; ev.Kind != KindPeerChanged || ev.Seq != 1 {
			t.Fatalf("got %+v", ev)
		}
		// A deadline ends Next.
		if _, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next after deadline: %v", err)
		}
		// Close: queued events are still delivered, then ErrClosed; later
		// events are not queued.
		h.Publish(Event{Kind: KindRulesChanged})
		s.Close()
		s.Close()
		h.Publish(Event{Kind: KindPathDown})
		if ev, err := s.Next(t.Context()); err != nil || ev.Kind != KindRulesChanged {
			t.Fatalf("after Close: %+v, %v", ev, err)
		}
		if _, err := s.Next(t.Context()); !errors.Is(err, ErrClosed) {
			t.Fatalf("Next on closed: %v", err)
		}
		if h.Stats().Subscribers != 0 {
			t.Fatal("closed subscription still counted")
		}
	})
}

func TestHubPublishAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	h := NewHub()
	s := h.Subscribe(4)
	defer s.Close()
	p := &PathView{BID: 10, Name: "wan1"}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		h.Publish(Event{Kind: KindPathChanged, Path: p})
		if _, err := s.Next(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Publish+Next: %v allocs, want 0", allocs)
	}
}

func BenchmarkHubPublish(b *testing.B) {
	for _, subs := range []int{0, 1, 8} {
		b.Run("subs="+strconv.Itoa(subs), func(b *testing.B) {
			h := NewHub()
			for range subs {
				s := h.Subscribe(16) // never read: the steady state is lagging
				defer s.Close()
			}
			ev := Event{Kind: KindPathChanged, Time: time.Unix(1, 0)}
			b.ReportAllocs()
			for b.Loop() {
				h.Publish(ev)
			}
		})
	}
}
