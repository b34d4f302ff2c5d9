// SPDX-License-Identifier: MIT

package linkem

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Event is one scripted change: at At (since the emulator started), apply
// Spec (key=value assignments, see Params.Set) to direction Dir; if For is
// nonzero, put the keys it set back to their previous values For later.
type Event struct {
	At   time.Duration
	Dir  Dir
	Spec string
	For  time.Duration
}

// ParseEvent parses "<at> <dir> key=value... [for=<duration>]", for example
// "5s both blackhole=on for=3s" or "10s a2b delay=80ms".
func ParseEvent(s string) (Event, error) {
	f := strings.Fields(s)
	if len(f) < 3 {
		return Event{}, fmt.Errorf("event %q: want <at> <dir> key=value... [for=<duration>]", s)
	}
	var ev Event
	var err error
	if ev.At, err = parseDuration(f[0]); err != nil {
		return Event{}, fmt.Errorf("event %q: at: %w", s, err)
	}
	if ev.Dir, err = ParseDir(f[1]); err != nil {
		return Event{}, fmt.Errorf("event %q: %w", s, err)
	}
	var spec []string
	for _, kv := range f[2:] {
		if v, ok := strings.CutPrefix(kv, "for="); ok {
			if ev.For, err = parseDuration(v); err != nil {
				return Event{}, fmt.Errorf("event %q: for: %w", s, err)
			}
			continue
		}
		spec = append(spec, kv)
	}
	ev.Spec = strings.Join(spec, " ")
	var p Params
	if err := p.Apply(ev.Spec); err != nil {
		return Event{}, fmt.Errorf("event %q: %w", s, err)
	}
	if ev.Spec == "" {
		return Event{}, fmt.Errorf("event %q: no parameters", s)
	}
	return ev, nil
}

func (ev Event) String() string {
	s := ev.At.String() + " " + ev.Dir.String() + " " + ev.Spec
	if ev.For > 0 {
		s += " for=" + ev.For.String()
	}
	return s
}

// step is one timed change derived from an Event (its set or its revert).
type step struct {
	at    time.Duration
	event int
	set   bool
}

// Updater applies key=value assignments to one direction (Emulator.Update
// is one), and reads a parameter back (for reverting).
type Updater interface {
	Update(d Dir, spec string) error
	Params(d Dir) Params
}

// RunScript applies events to u at their times, measured from start, until
// all are done or ctx ends. Reverts restore, per direction, the values the
// keys had just before the event applied. Errors are collected, not fatal.
func RunScript(ctx context.Context, u Updater, start time.Time, events []Event) error {
	var steps []step
	for i, ev := range events {
		steps = append(steps, step{ev.At, i, true})
		if ev.For > 0 {
			steps = append(steps, step{ev.At + ev.For, i, false})
		}
	}
	slices.SortStableFunc(steps, func(a, b step) int { return int(a.at - b.at) })
	// saved[i][d] is the revert spec of event i for direction d.
	saved := make([][2]string, len(events))
	var errs []error
	for _, s := range steps {
		if wait := time.Until(start.Add(s.at)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return errors.Join(errs...)
			case <-t.C:
			}
		}
		ev := events[s.event]
		for _, d := range ev.Dir.dirs() {
			spec := ev.Spec
			if s.set {
				p := u.Params(d)
				var old []string
				for f := range strings.FieldsSeq(ev.Spec) {
					k, _, _ := strings.Cut(f, "=")
					old = append(old, k+"="+p.Get(k))
				}
				saved[s.event][d] = strings.Join(old, " ")
			} else {
				spec = saved[s.event][d]
			}
			if err := u.Update(d, spec); err != nil {
				errs = append(errs, fmt.Errorf("event %s: %w", ev, err))
			}
		}
	}
	return errors.Join(errs...)
}
