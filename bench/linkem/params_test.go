// SPDX-License-Identifier: MIT

package linkem

import (
	"testing"
	"time"
)

func TestParamsApply(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want Params
		err  bool
	}{
		{name: "empty", spec: "", want: Params{}},
		{name: "rate mbit", spec: "rate=50mbit", want: Params{Rate: 6250000}},
		{name: "rate gbit", spec: "rate=1gbit", want: Params{Rate: 125000000}},
		{name: "rate bytes", spec: "rate=10kbps", want: Params{Rate: 10000}},
		{name: "rate fractional", spec: "rate=2.5mbit", want: Params{Rate: 312500}},
		{name: "delay jitter", spec: "delay=20ms jitter=2ms dist=normal", want: Params{Delay: 20 * time.Millisecond, Jitter: 2 * time.Millisecond, Dist: Normal}},
		{name: "loss percent", spec: "loss=5%", want: Params{Loss: 0.05}},
		{name: "loss fraction", spec: "loss=0.25", want: Params{Loss: 0.25}},
		{name: "ge", spec: "ge_p=1% ge_r=20% ge_bad=100%", want: Params{GE: GilbertElliott{P: 0.01, R: 0.2, LossBad: 1}}},
		{name: "queue bytes", spec: "rate=8mbit queue=64kb", want: Params{Rate: 1e6, QueueBytes: 65536}},
		{name: "queue time", spec: "rate=8mbit queue=50ms", want: Params{Rate: 1e6, QueueTime: 50 * time.Millisecond}},
		{name: "burst", spec: "burst=16kb", want: Params{Burst: 16384}},
		{name: "flags", spec: "dup=1% reorder=2% blackhole=on", want: Params{Duplicate: 0.01, Reorder: 0.02, Blackhole: true}},
		{name: "later wins", spec: "delay=1ms delay=2ms", want: Params{Delay: 2 * time.Millisecond}},
		{name: "unknown key", spec: "latency=2ms", err: true},
		{name: "no equals", spec: "delay", err: true},
		{name: "bad rate unit", spec: "rate=50", err: true},
		{name: "bad loss", spec: "loss=150%", err: true},
		{name: "negative delay", spec: "delay=-1ms", err: true},
		{name: "ge without r", spec: "ge_p=1%", err: true},
		{name: "bad bool", spec: "blackhole=maybe", err: true},
		{name: "bad dist", spec: "dist=pareto", err: true},
		{name: "huge delay", spec: "delay=2h", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Params
			err := p.Apply(tt.spec)
			if (err != nil) != tt.err {
				t.Fatalf("Apply(%q) err = %v, want error %v", tt.spec, err, tt.err)
			}
			if err != nil {
				if p != (Params{}) {
					t.Errorf("Apply changed p on error: %+v", p)
				}
				return
			}
			if p != tt.want {
				t.Errorf("Apply(%q) = %+v, want %+v", tt.spec, p, tt.want)
			}
			// String round-trips.
			var q Params
			if err := q.Apply(p.String()); err != nil || q != p {
				t.Errorf("round trip of %q via %q = %+v, %v", tt.spec, p.String(), q, err)
			}
		})
	}
}

func TestQueueLimit(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		want int
	}{
		{name: "no rate no queue", p: Params{QueueBytes: 1000}, want: 0},
		{name: "explicit bytes", p: Params{Rate: 1e6, QueueBytes: 5000}, want: 5000},
		{name: "time at rate", p: Params{Rate: 1e6, QueueTime: 50 * time.Millisecond}, want: 50000},
		{name: "default 20ms", p: Params{Rate: 1e7}, want: 200000},
		{name: "default 2 delay", p: Params{Rate: 1e7, Delay: 30 * time.Millisecond}, want: 600000},
		{name: "default floor", p: Params{Rate: 1e5}, want: MinQueueBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.QueueLimit(); got != tt.want {
				t.Errorf("QueueLimit = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestFormatRate(t *testing.T) {
	for _, s := range []string{"50mbit", "1gbit", "300mbit", "64kbit", "0", "2.5mbit"} {
		r, err := ParseRate(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatRate(r); got != s {
			t.Errorf("FormatRate(ParseRate(%q)) = %q", s, got)
		}
	}
}

func FuzzApply(f *testing.F) {
	f.Add("rate=50mbit delay=20ms loss=5%")
	f.Add("ge_p=1% ge_r=20% queue=50ms")
	f.Fuzz(func(t *testing.T, spec string) {
		var p Params
		if err := p.Apply(spec); err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Apply accepted %q but Validate says %v", spec, err)
		}
		var q Params
		if err := q.Apply(p.String()); err != nil {
			t.Fatalf("String %q of accepted %q does not parse: %v", p.String(), spec, err)
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	f.Add("5s both blackhole=on for=3s")
	f.Add("10s a2b delay=80ms")
	f.Fuzz(func(t *testing.T, s string) {
		ev, err := ParseEvent(s)
		if err != nil {
			return
		}
		ev2, err := ParseEvent(ev.String())
		if err != nil || ev2 != ev {
			t.Fatalf("ParseEvent(%q) = %+v; reparse of %q = %+v, %v", s, ev, ev.String(), ev2, err)
		}
	})
}
