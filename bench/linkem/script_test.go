// SPDX-License-Identifier: MIT

package linkem

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeEmu records updates with their times.
type fakeEmu struct {
	mu    sync.Mutex
	start time.Time
	p     [2]Params
	log   []string
}

func (f *fakeEmu) Update(d Dir, spec string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range d.dirs() {
		if err := f.p[x].Apply(spec); err != nil {
			return err
		}
	}
	f.log = append(f.log, fmt.Sprintf("%v %v %s", time.Since(f.start), d, spec))
	return nil
}

func (f *fakeEmu) Params(d Dir) Params {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.p[d]
}

func (f *fakeEmu) Stats(Dir) *Stats       { return new(Stats) }
func (f *fakeEmu) Elapsed() time.Duration { return time.Since(f.start) }

func TestRunScript(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeEmu{start: time.Now()}
		f.p[AtoB] = mustParams(t, "delay=20ms")
		f.p[BtoA] = mustParams(t, "delay=30ms")
		var evs []Event
		for _, s := range []string{
			"5s both blackhole=on for=3s",
			"2s a2b loss=30% for=1s",
			"10s a2b delay=80ms",
			"6s b2a delay=5ms for=10s",
		} {
			ev, err := ParseEvent(s)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ev)
		}
		if err := RunScript(t.Context(), f, f.start, evs); err != nil {
			t.Fatal(err)
		}
		want := []string{
			"2s a2b loss=30%",
			"3s a2b loss=0%",
			"5s a2b blackhole=on",
			"5s b2a blackhole=on",
			"6s b2a delay=5ms",
			"8s a2b blackhole=off",
			"8s b2a blackhole=off",
			"10s a2b delay=80ms",
			"16s b2a delay=30ms",
		}
		if fmt.Sprint(f.log) != fmt.Sprint(want) {
			t.Errorf("updates:\n%v\nwant\n%v", f.log, want)
		}
		if f.p[AtoB] != mustParams(t, "delay=80ms") || f.p[BtoA] != mustParams(t, "delay=30ms") {
			t.Errorf("final params %v / %v", f.p[AtoB], f.p[BtoA])
		}
	})
}

func TestRunScriptCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeEmu{start: time.Now()}
		ev, _ := ParseEvent("1h both loss=1%")
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := RunScript(ctx, f, f.start, []Event{ev}); err != nil {
			t.Fatal(err)
		}
		if len(f.log) != 0 || time.Since(f.start) != time.Second {
			t.Errorf("log %v after %v", f.log, time.Since(f.start))
		}
	})
}
