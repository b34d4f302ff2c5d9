// SPDX-License-Identifier: MIT

package scenario

import (
	"context"
	"errors"
	"fmt"
	"time"

	"monami/bench/anchor"
	"monami/bench/load"
)

// Sample is one measurement of one system.
type Sample struct {
	System  string             `json:"system"`
	Rep     int                `json:"rep"`
	Metrics map[string]float64 `json:"metrics"`
	// Series are timelines in Mbit/s: "total" (goodput) and one per
	// uplink name (wire rate of the up direction).
	Series map[string]Series `json:"series,omitempty"`
	Events []Event           `json:"events,omitempty"`
	Notes  []string          `json:"notes,omitempty"`
	Error  string            `json:"error,omitempty"`
}

// Series is a timeline.
type Series struct {
	StepMS float64   `json:"step_ms"`
	Values []float64 `json:"values"`
}

// Event marks something the scenario did during a measurement.
type Event struct {
	AtS  float64 `json:"at_s"`
	What string  `json:"what"`
}

func (s *Sample) addSeries(name string, step time.Duration, v []float64) {
	if s.Series == nil {
		s.Series = map[string]Series{}
	}
	s.Series[name] = Series{StepMS: float64(step) / float64(time.Millisecond), Values: v}
}

// Metric describes a column of the report.
type Metric struct {
	Key    string
	Label  string
	Higher bool // higher is better
	Prec   int  // decimals
	// NoRatio: ratios of this figure mean nothing (counts, flags).
	NoRatio bool
}

// metricList returns the metrics known to reports, in column order.
func metricList() []Metric {
	return []Metric{
		{"goodput_mbps", "goodput Mbit/s", true, 0, false},
		{"steady_mbps", "goodput Mbit/s", true, 1, false},
		{"daemon_cpu_s_per_gb", "tunnel CPU s/GB", false, 2, false},
		{"machine_cpu_s_per_gb", "machine CPU s/GB", false, 2, false},
		{"emu_cpu_s_per_gb", "emulator CPU s/GB", false, 2, false},
		{"retransmits", "TCP retransmits", false, 0, true},
		{"wan1_mbps", "wan1 Mbit/s", true, 1, false},
		{"wan2_mbps", "wan2 Mbit/s", true, 1, false},
		{"outage_ms", "outage ms", false, 0, false},
		{"before_mbps", "before Mbit/s", true, 1, false},
		{"after_mbps", "after Mbit/s", true, 1, false},
		{"hash_ok", "byte-exact", true, 0, true},
		{"voice_rtt_p50_ms", "voice RTT p50 ms", false, 1, false},
		{"voice_rtt_p99_ms", "voice RTT p99 ms", false, 1, false},
		{"voice_jitter_ms", "voice jitter ms", false, 2, false},
		{"voice_loss_pct", "voice loss %", false, 2, false},
		{"voice_gap_ms", "voice max gap ms", false, 0, false},
	}
}

func metricInfo(key string) Metric {
	for _, m := range metricList() {
		if m.Key == key {
			return m
		}
	}
	return Metric{Key: key, Label: key, Higher: true, Prec: 2}
}

// Scenario is one benchmark.
type Scenario struct {
	Name        string
	Description string
	// Topology is a file name under the topologies directory.
	Topology string
	Systems  []anchor.Kind
	// Primary is the metric ratios are computed on; Columns the metrics
	// shown.
	Primary string
	Columns []string
	// Dur is the default traffic duration.
	Dur time.Duration
	// Setup, if set, changes the topology after it is built (before the
	// system starts); Note says what it does, for the report.
	Setup func(x *Exec) error
	Note  string
	// Measure takes one sample.
	Measure func(ctx context.Context, x *Exec, s *Sample) error
	// Plot: write a PNG of the series of each system.
	Plot bool
}

// All returns every scenario, in the order `bench` runs them.
func All() []*Scenario {
	return []*Scenario{
		{
			Name:        "single-path",
			Description: "one uplink (a direct veth, no emulator, ~unlimited), one TCP stream LAN → server (iperf3, 1 s omitted): the tunnel's own cost",
			Topology:    "single.toml",
			Systems:     []anchor.Kind{anchor.None, anchor.Wireguard, anchor.Monami},
			Primary:     "goodput_mbps",
			Columns:     []string{"goodput_mbps", "daemon_cpu_s_per_gb", "machine_cpu_s_per_gb", "retransmits"},
			Dur:         5 * time.Second,
			Measure: func(ctx context.Context, x *Exec, s *Sample) error {
				return x.iperfTCP(ctx, s.Metrics, 1)
			},
		},
		{
			Name:        "single-path-emu",
			Description: "one emulated uplink (200 Mbit/s, 10 ms each way), one TCP stream LAN → server (iperf3, 1 s omitted): CPU per GB at the same goodput",
			Topology:    "single-emu.toml",
			Systems:     []anchor.Kind{anchor.None, anchor.Wireguard, anchor.Monami},
			Primary:     "goodput_mbps",
			Columns:     []string{"goodput_mbps", "daemon_cpu_s_per_gb", "machine_cpu_s_per_gb", "emu_cpu_s_per_gb", "retransmits"},
			Dur:         5 * time.Second,
			Measure: func(ctx context.Context, x *Exec, s *Sample) error {
				return x.iperfTCP(ctx, s.Metrics, 1)
			},
		},
		aggregation("aggregation-300-80", "agg-300-80.toml"),
		aggregation("aggregation-100-20", "agg-100-20.toml"),
		failover("failover-linkdown", false),
		failover("failover-blackhole", true),
		{
			Name:        "voice-bulk",
			Description: "two 50 Mbit/s 15 ms uplinks; a voice-like flow (50 pkt/s × 200 B, UDP echo) next to 4 bulk TCP streams, LAN → server",
			Topology:    "dual-50.toml",
			Systems:     []anchor.Kind{anchor.None, anchor.Wireguard, anchor.Monami},
			Primary:     "voice_rtt_p99_ms",
			Columns:     []string{"voice_rtt_p50_ms", "voice_rtt_p99_ms", "voice_jitter_ms", "voice_loss_pct", "steady_mbps"},
			Dur:         10 * time.Second,
			Measure:     measureVoiceBulk,
		},
		{
			Name:        "loss-5pct",
			Description: "two 50 Mbit/s 15 ms uplinks, wan2 with 5 % random loss both ways; 4 TCP streams (no tunnel: wan1 only)",
			Topology:    "dual-50.toml",
			Systems:     []anchor.Kind{anchor.None, anchor.MPTCP, anchor.Monami},
			Primary:     "steady_mbps",
			Columns:     []string{"steady_mbps", "wan1_mbps", "wan2_mbps", "hash_ok"},
			Dur:         10 * time.Second,
			Setup: func(x *Exec) error {
				return x.Topo.SetUplink(2, "both", "loss=5%")
			},
			Note: "after the build, wan2 gets loss=5% in both directions",
			Measure: func(ctx context.Context, x *Exec, s *Sample) error {
				return bulk(ctx, x, s, 4, 2*time.Second)
			},
			Plot: true,
		},
	}
}

// Find returns the scenario called name.
func Find(name string) (*Scenario, error) {
	for _, s := range All() {
		if s.Name == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("unknown scenario %q", name)
}

func aggregation(name, topology string) *Scenario {
	return &Scenario{
		Name: name,
		Description: "two unequal emulated uplinks (" + topology + "); 8 TCP streams (monami spreads flows, MPTCP splits each); " +
			"no tunnel = wan1 alone, the best single path",
		Topology: topology,
		Systems:  []anchor.Kind{anchor.None, anchor.MPTCP, anchor.Monami},
		Primary:  "steady_mbps",
		Columns:  []string{"steady_mbps", "wan1_mbps", "wan2_mbps", "hash_ok", "emu_cpu_s_per_gb"},
		Dur:      10 * time.Second,
		Measure: func(ctx context.Context, x *Exec, s *Sample) error {
			return bulk(ctx, x, s, 8, 2*time.Second)
		},
		Plot: true,
	}
}

// bulk runs a byte-exact loadgen transfer with per-path sampling.
func bulk(ctx context.Context, x *Exec, s *Sample, streams int, omit time.Duration) error {
	ps := x.samplePaths(100 * time.Millisecond)
	cpu := x.startCPU()
	r, err := x.loadTCP(ctx, streams, omit, 30*time.Second, nil)
	ps.finish()
	if err != nil {
		return err
	}
	cpu.stop(s.Metrics, float64(r.Bytes))
	s.Metrics["steady_mbps"] = r.SteadyMbps
	s.Metrics["hash_ok"] = b2f(r.HashOK)
	s.addSeries("total", 100*time.Millisecond, rebin(r.Timeline, r.BucketMS, 100))
	ps.record(s, uplinkNames(x), omit, x.Dur)
	return nil
}

func failover(name string, blackhole bool) *Scenario {
	what := "the router-side interface of the busiest uplink is set down (link down)"
	if blackhole {
		what = "the busiest uplink silently drops everything, both ways (blackhole)"
	}
	return &Scenario{
		Name:        name,
		Description: "two 50 Mbit/s 15 ms uplinks, one TCP stream; at t = 5 s " + what + "; outage = longest 10 ms-bucket stall",
		Topology:    "dual-50.toml",
		Systems:     []anchor.Kind{anchor.MPTCP, anchor.Monami},
		Primary:     "outage_ms",
		Columns:     []string{"outage_ms", "before_mbps", "after_mbps", "hash_ok"},
		Dur:         15 * time.Second,
		Measure: func(ctx context.Context, x *Exec, s *Sample) error {
			ps := x.samplePaths(100 * time.Millisecond)
			const at = 5 * time.Second
			var evErr error
			var evAt time.Time
			ev := func() {
				k := ps.busiest(time.Second)
				evAt = time.Now()
				name := x.Topo.Spec.Uplinks[k-1].Name
				if blackhole {
					evErr = x.Topo.SetUplink(k, "both", "blackhole=on")
					s.Events = append(s.Events, Event{What: name + " blackholed"})
				} else {
					evErr = x.Topo.SetLinkUp(k, false)
					s.Events = append(s.Events, Event{What: name + " down"})
				}
			}
			r, err := x.loadTCP(ctx, 1, time.Second, 5*time.Second, map[time.Duration]func(){at: ev})
			ps.finish()
			if err != nil {
				return err
			}
			if evErr != nil {
				return evErr
			}
			if len(s.Events) == 0 {
				return errors.New("the failure event did not run")
			}
			// Align on loadgen's clock (its start is after the dial).
			evOff := time.Duration(evAt.UnixNano() - r.StartUnix)
			s.Events[0].AtS = evOff.Seconds()
			bucket := time.Duration(r.BucketMS * float64(time.Millisecond))
			s.Metrics["hash_ok"] = b2f(r.HashOK)
			s.Metrics["before_mbps"] = windowMbps(r.Timeline, bucket, time.Second, evOff)
			s.Metrics["after_mbps"] = windowMbps(r.Timeline, bucket, x.Dur-5*time.Second, x.Dur)
			s.Metrics["outage_ms"] = float64(stallAfter(r.Timeline, int(evOff/bucket), int(x.Dur/bucket))) * r.BucketMS
			s.addSeries("total", 100*time.Millisecond, rebin(r.Timeline, r.BucketMS, 100))
			// The sampler started just before loadgen's clock; close enough
			// at 100 ms resolution.
			ps.record(s, uplinkNames(x), time.Second, x.Dur)
			delete(s.Metrics, "wan1_mbps")
			delete(s.Metrics, "wan2_mbps")
			return nil
		},
		Plot: true,
	}
}

func measureVoiceBulk(ctx context.Context, x *Exec, s *Sample) error {
	// The voice flow shares loadgen's server; it starts 1 s into the bulk
	// transfer and ends 1 s before it.
	var vr load.VoiceResult
	var verr error
	r, err := x.loadTCP(ctx, 4, time.Second, 30*time.Second, map[time.Duration]func(){time.Second: func() {
		vr, verr = x.voice(ctx, 50, 200, x.Dur-2*time.Second)
	}})
	if err != nil {
		return err
	}
	if verr != nil {
		return fmt.Errorf("voice: %w", verr)
	}
	s.Metrics["steady_mbps"] = r.SteadyMbps
	s.Metrics["voice_rtt_p50_ms"] = vr.RTT.P50
	s.Metrics["voice_rtt_p99_ms"] = vr.RTT.P99
	s.Metrics["voice_jitter_ms"] = vr.JitterMS
	s.Metrics["voice_loss_pct"] = vr.LossPct
	s.Metrics["voice_gap_ms"] = vr.MaxGapMS
	s.Metrics["hash_ok"] = b2f(r.HashOK)
	return nil
}

func uplinkNames(x *Exec) []string {
	var n []string
	for _, u := range x.Topo.Spec.Uplinks {
		n = append(n, u.Name)
	}
	return n
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// rebin sums a byte timeline of bucketMS buckets into stepMS buckets and
// converts to Mbit/s.
func rebin(tl []int64, bucketMS float64, stepMS float64) []float64 {
	k := max(int(stepMS/bucketMS+0.5), 1)
	var out []float64
	for i := 0; i < len(tl); i += k {
		var sum int64
		for j := i; j < i+k && j < len(tl); j++ {
			sum += tl[j]
		}
		out = append(out, float64(sum)*8/(stepMS/1000)/1e6)
	}
	return out
}

func windowMbps(tl []int64, bucket, from, to time.Duration) float64 {
	a, z := int(from/bucket), int(to/bucket)
	if z <= a {
		return 0
	}
	var sum int64
	for i := a; i < z && i < len(tl); i++ {
		sum += tl[i]
	}
	return float64(sum) * 8 / (to - from).Seconds() / 1e6
}

// stallAfter is the longest run of empty buckets in [from, end): the
// outage after an event at bucket from. A flow that never recovers
// stalls until end.
func stallAfter(tl []int64, from, end int) int {
	best, run := 0, 0
	for i := max(from, 0); i < end; i++ {
		if i < len(tl) && tl[i] > 0 {
			run = 0
			continue
		}
		run++
		best = max(best, run)
	}
	return best
}
