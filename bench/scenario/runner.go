// SPDX-License-Identifier: MIT

package scenario

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"monami/bench/anchor"
	"monami/bench/topo"
)

// Options configure Run.
type Options struct {
	Scenarios []*Scenario
	Reps      int           // repetitions per system (default 3)
	Dur       time.Duration // traffic duration override (0: each scenario's)
	Systems   []anchor.Kind // run only these (nil: all of each scenario)
	TopoDir   string        // directory of the topology files
	Tools     Tools
	Bins      anchor.Bins
	Cipher    string
	CC        string    // TCP congestion control of the test traffic (default cubic)
	WorkDir   string    // sockets, configs, logs
	Progress  io.Writer // progress lines (nil: discard)
}

// Results is everything a run measured (results.json).
type Results struct {
	Started   time.Time         `json:"started"`
	Finished  time.Time         `json:"finished"`
	Host      map[string]string `json:"host"`
	Reps      int               `json:"reps"`
	CC        string            `json:"tcp_congestion_control"`
	Scenarios []*Result         `json:"scenarios"`
}

// Result is one scenario's samples and summary.
type Result struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Topology    string    `json:"topology"`
	Links       []string  `json:"links"`
	Note        string    `json:"note,omitempty"`
	DurS        float64   `json:"duration_s"`
	Primary     string    `json:"primary"`
	Columns     []string  `json:"columns"`
	Systems     []string  `json:"systems"`
	Samples     []*Sample `json:"samples"`
	Summary     []Summary `json:"summary"`
	Plots       []string  `json:"plots,omitempty"`
}

// Summary is one system's statistic of one metric over the repetitions.
type Summary struct {
	System string  `json:"system"`
	Metric string  `json:"metric"`
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Run runs the scenarios: per repetition, every system in turn
// (interleaved, so background load hits all alike), each on a freshly
// built topology that is torn down afterwards.
func Run(ctx context.Context, o Options) (*Results, error) {
	if o.Reps <= 0 {
		o.Reps = 3
	}
	out := o.Progress
	if out == nil {
		out = io.Discard
	}
	if o.CC == "" {
		o.CC = "cubic"
	}
	res := &Results{Started: time.Now(), Reps: o.Reps, Host: hostInfo(), CC: o.CC}
	seq := 0
	for _, sc := range o.Scenarios {
		spec, err := topo.LoadSpec(filepath.Join(o.TopoDir, sc.Topology))
		if err != nil {
			return res, err
		}
		dur := sc.Dur
		if o.Dur > 0 {
			dur = o.Dur
		}
		r := &Result{Name: sc.Name, Description: sc.Description, Topology: spec.Name, DurS: dur.Seconds(),
			Primary: sc.Primary, Columns: sc.Columns, Note: sc.Note}
		for _, u := range spec.Uplinks {
			l := u.Name + ": direct veth"
			if u.Emulated() {
				up, down, _ := u.Params()
				l = fmt.Sprintf("%s: up %s / down %s", u.Name, orNone(up.String()), orNone(down.String()))
			}
			r.Links = append(r.Links, l)
		}
		systems := sc.Systems
		if len(o.Systems) > 0 {
			systems = slices.DeleteFunc(slices.Clone(systems), func(k anchor.Kind) bool { return !slices.Contains(o.Systems, k) })
		}
		for _, k := range systems {
			r.Systems = append(r.Systems, string(k))
		}
		res.Scenarios = append(res.Scenarios, r)
		fmt.Fprintf(out, "== %s: %s\n", sc.Name, sc.Description)
		skip := map[anchor.Kind]string{}
		for rep := 1; rep <= o.Reps; rep++ {
			for _, k := range systems {
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
				if why, ok := skip[k]; ok {
					fmt.Fprintf(out, "[%s %d/%d] %-12s skipped: %s\n", sc.Name, rep, o.Reps, k.Label(), why)
					continue
				}
				seq++
				t0 := time.Now()
				s := measureOne(ctx, o, sc, spec, k, rep, dur, seq)
				if ctx.Err() != nil {
					// Interrupted: the sample is not a measurement.
					r.Summary = summarize(r)
					return res, ctx.Err()
				}
				r.Samples = append(r.Samples, s)
				line := fmt.Sprintf("[%s %d/%d] %-12s", sc.Name, rep, o.Reps, k.Label())
				if s.Error != "" {
					line += " error: " + firstLine(s.Error)
					if s.Error == anchor.ErrNotBuilt.Error() {
						skip[k] = s.Error
					}
				} else {
					for _, c := range sc.Columns {
						if v, ok := s.Metrics[c]; ok {
							m := metricInfo(c)
							line += fmt.Sprintf("  %s %.*f", m.Label, m.Prec, v)
						}
					}
				}
				for _, n := range s.Notes {
					line += "  [" + n + "]"
				}
				fmt.Fprintf(out, "%s  (%.1fs)\n", line, time.Since(t0).Seconds())
			}
		}
		r.Summary = summarize(r)
	}
	res.Finished = time.Now()
	return res, nil
}

func orNone(s string) string {
	if s == "" {
		return "unimpaired"
	}
	return s
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	if len(l) > 300 {
		l = l[:300] + "…"
	}
	return l
}

// measureOne builds the topology, starts the system, measures, tears down.
func measureOne(ctx context.Context, o Options, sc *Scenario, spec topo.Spec, k anchor.Kind, rep int, dur time.Duration, seq int) *Sample {
	s := &Sample{System: string(k), Rep: rep, Metrics: map[string]float64{}}
	t, err := topo.Build(ctx, spec, topo.Options{Prefix: fmt.Sprintf("%s%d-", topo.RunPrefix(), seq), Dir: o.WorkDir, Linkem: o.Tools.Linkem})
	if err != nil {
		s.Error = "topology: " + err.Error()
		return s
	}
	defer t.Close()
	x := &Exec{Topo: t, Tools: o.Tools, Dir: o.WorkDir, Dur: dur, CC: o.CC}
	if sc.Setup != nil {
		if err := sc.Setup(x); err != nil {
			s.Error = "setup: " + err.Error()
			return s
		}
	}
	inst, err := anchor.Start(ctx, k, t, anchor.Env{Bins: withWgtun(o.Bins, o.Tools.Wgtun), Dir: o.WorkDir, Cipher: o.Cipher})
	if err != nil {
		s.Error = err.Error()
		return s
	}
	defer inst.Stop()
	x.Inst = inst
	if err := sc.Measure(ctx, x, s); err != nil {
		s.Error = err.Error()
	}
	if err := inst.Alive(); err != nil {
		s.Error = strings.TrimPrefix(s.Error+"; ", "; ") + err.Error()
	}
	// Emulation sanity: frames the emulators could not handle as frames.
	for i, u := range spec.Uplinks {
		if !u.Emulated() {
			continue
		}
		st, err := t.UplinkStats(i + 1)
		if err != nil {
			continue
		}
		for _, d := range []struct {
			name string
			n    uint64
		}{{"oversize", st.AtoB.Drops["oversize"] + st.BtoA.Drops["oversize"]},
			{"kernel drops", st.AtoB.KernelDrops + st.BtoA.KernelDrops},
			{"delay line full", st.AtoB.Drops["delay_line_full"] + st.BtoA.Drops["delay_line_full"]}} {
			if d.n > 0 {
				s.Notes = append(s.Notes, fmt.Sprintf("%s emulator: %d %s", u.Name, d.n, d.name))
			}
		}
	}
	return s
}

func withWgtun(b anchor.Bins, wgtun string) anchor.Bins {
	b.Wgtun = wgtun
	return b
}

func summarize(r *Result) []Summary {
	var out []Summary
	keys := slices.Clone(r.Columns)
	if !slices.Contains(keys, r.Primary) {
		keys = append(keys, r.Primary)
	}
	for _, sys := range r.Systems {
		for _, key := range keys {
			var v []float64
			for _, s := range r.Samples {
				if s.System != sys || s.Error != "" {
					continue
				}
				if x, ok := s.Metrics[key]; ok {
					v = append(v, x)
				}
			}
			if len(v) == 0 {
				continue
			}
			slices.Sort(v)
			out = append(out, Summary{System: sys, Metric: key, N: len(v), Median: median(v), Min: v[0], Max: v[len(v)-1]})
		}
	}
	return out
}

// median of sorted v.
func median(v []float64) float64 {
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func hostInfo() map[string]string {
	h := map[string]string{"goos": runtime.GOOS, "goarch": runtime.GOARCH, "go": runtime.Version(),
		"cpus": fmt.Sprint(runtime.NumCPU())}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				h["cpu"] = strings.TrimSpace(strings.TrimLeft(v, " \t:"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		h["loadavg_at_start"] = strings.TrimSpace(string(b))
	}
	return h
}
