// SPDX-License-Identifier: MIT

package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Report is the benchmark's result; -json writes it as is.
type Report struct {
	Config    config    `json:"config"`
	GoVersion string    `json:"go_version"`
	CPUs      int       `json:"cpus"`
	Started   time.Time `json:"started"`

	// Register is swarm A's registration from a fresh HA; Reregister swarm
	// B's, after swarm A left.
	Register   Registration `json:"register"`
	Reregister Registration `json:"reregister"`
	Memory     Memory       `json:"memory"`
	Hold       Hold         `json:"hold"`
	Idle       Idle         `json:"idle"`

	// HAEnd and MREnd are the HA's and swarm A's figures at the end of the
	// hold.
	HAEnd haReport    `json:"ha_end_of_hold"`
	MREnd swarmReport `json:"mrs_end_of_hold"`

	// Failures lists the checks that failed; empty if all passed.
	// Warnings lists what went wrong beside the measurement (a child
	// killed because it was slow to stop).
	Failures []string `json:"failures"`
	Warnings []string `json:"warnings,omitempty"`
}

// Registration is how fast every MR got its session and bindings.
type Registration struct {
	// Seconds from the swarm's first dial to its last MR's session.
	Seconds           float64 `json:"seconds"`
	SessionsPerSecond float64 `json:"sessions_per_s"`
	BindingsPerSecond float64 `json:"bindings_per_s"`
	// Failures counts the MRs' connection attempts that failed.
	Failures uint64 `json:"mr_connect_failures"`
	// HACPUSeconds is the HA's CPU time from before the swarm started
	// until it held every binding (the heartbeats of the MRs already up
	// included); HACPUMicrosPerSession the same per MR.
	HACPUSeconds          float64 `json:"ha_cpu_seconds"`
	HACPUMicrosPerSession float64 `json:"ha_cpu_us_per_session"`
}

// Memory is the HA's memory with every MR registered, against its
// baseline; both taken after a garbage collection.
type Memory struct {
	BaseRSSBytes    uint64  `json:"base_rss_bytes"`
	RSSBytes        uint64  `json:"rss_bytes"`
	BaseHeapBytes   uint64  `json:"base_heap_alloc_bytes"`
	HeapBytes       uint64  `json:"heap_alloc_bytes"`
	BaseStackBytes  uint64  `json:"base_stack_inuse_bytes"`
	StackBytes      uint64  `json:"stack_inuse_bytes"`
	Goroutines      int     `json:"goroutines"`
	RSSPerMRBytes   float64 `json:"rss_per_mr_bytes"`
	HeapPerMRBytes  float64 `json:"heap_per_mr_bytes"`
	StackPerMRBytes float64 `json:"stack_per_mr_bytes"`
	GoroutinesPerMR float64 `json:"goroutines_per_mr"`
}

// window is the CPU time spent over a stretch of wall time: by the HA,
// by the MR swarm and by the machine as a whole.
type window struct {
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// UserSeconds and SysSeconds split CPUSeconds.
	UserSeconds float64 `json:"user_seconds"`
	SysSeconds  float64 `json:"sys_seconds"`
	// CPUPercent is the HA's, MRCPUPercent the swarm's, MachinePercent the
	// whole machine's (/proc/stat), all in % of one core; OthersPercent is
	// what the machine spent on other processes (other work on the shared
	// machine: the figures of a window where it is high are suspect).
	CPUPercent     float64 `json:"cpu_percent"`
	MRCPUPercent   float64 `json:"mr_cpu_percent"`
	MachinePercent float64 `json:"machine_cpu_percent"`
	OthersPercent  float64 `json:"others_cpu_percent"`
	// MaxGapSeconds is the longest time between two of the HA's
	// once-a-second answers: well above 1 s, the HA (or the machine)
	// stalled.
	MaxGapSeconds float64 `json:"max_gap_s"`
}

// stallGap is the gap between the HA's once-a-second answers beyond which
// the report warns of a stall.
const stallGap = 1.5

// Hold is the HA's cost while the MRs refresh their bindings.
type Hold struct {
	window
	// RefreshInterval is 2/3 of the granted lifetime, in seconds.
	RefreshInterval float64 `json:"refresh_interval_s"`
	// Refreshes counts the binding updates that refreshed an MR's
	// bindings (one per MR per refresh, covering all its BIDs);
	// BindingsRefreshed the bindings they covered.
	Refreshes         uint64  `json:"refreshes"`
	BindingsRefreshed uint64  `json:"bindings_refreshed"`
	ExpectedRefreshes float64 `json:"expected_refreshes"`
	Rekeys            uint64  `json:"rekeys"`
	// CPUMicrosPerRefresh is the HA's CPU over the hold per refresh
	// (gross: heartbeats included); NetCPUMicrosPerRefresh subtracts the
	// idle rate measured with swarm B (on a shared machine the idle rate
	// of another window is too noisy for this: Fit is the better figure).
	CPUMicrosPerRefresh    float64 `json:"cpu_us_per_refresh"`
	NetCPUMicrosPerRefresh float64 `json:"net_cpu_us_per_refresh"`
	// MRRetransmits counts the MRs' binding updates sent again for want of
	// an acknowledgement (the HA counts each as a refresh).
	MRRetransmits uint64 `json:"mr_retransmits"`
	// Fit is the refresh cost fitted over the hold's seconds, Samples
	// those seconds.
	Fit     Fit      `json:"fit"`
	Samples []Sample `json:"samples"`
}

// Sample is the HA's running totals at one moment of a window.
type Sample struct {
	// T is the time since the window started.
	T          float64 `json:"t_s"`
	CPUSeconds float64 `json:"cpu_s"`
	Refreshes  uint64  `json:"refreshes"`
	Rekeys     uint64  `json:"rekeys"`
}

func samplesOf(rs []haReport) []Sample {
	out := make([]Sample, len(rs))
	for i, r := range rs {
		out[i] = Sample{
			T:          r.at().Sub(rs[0].at()).Seconds(),
			CPUSeconds: (r.cpu() - rs[0].cpu()).Seconds(),
			Refreshes:  r.Refreshes - rs[0].Refreshes,
			Rekeys:     r.Rekeys - rs[0].Rekeys,
		}
	}
	return out
}

// Idle is the HA's cost with every MR connected and no refresh due: the
// MRs' 1 s heartbeats, QUIC keepalives and acknowledgements.
type Idle struct {
	window
	Refreshes            uint64  `json:"refreshes"`
	MRRetransmits        uint64  `json:"mr_retransmits"`
	CPUMicrosPerMRSecond float64 `json:"cpu_us_per_mr_s"`
	// PerSecond is the spread of the CPU rate over the window's seconds.
	PerSecond Spread `json:"cpu_percent_per_second"`
}

func memoryOf(cfg config, base, after haReport) Memory {
	n := float64(cfg.MRs)
	return Memory{
		BaseRSSBytes:    base.RSSBytes,
		RSSBytes:        after.RSSBytes,
		BaseHeapBytes:   base.HeapAllocBytes,
		HeapBytes:       after.HeapAllocBytes,
		BaseStackBytes:  base.StackInuseBytes,
		StackBytes:      after.StackInuseBytes,
		Goroutines:      after.Goroutines,
		RSSPerMRBytes:   (float64(after.RSSBytes) - float64(base.RSSBytes)) / n,
		HeapPerMRBytes:  (float64(after.HeapAllocBytes) - float64(base.HeapAllocBytes)) / n,
		StackPerMRBytes: (float64(after.StackInuseBytes) - float64(base.StackInuseBytes)) / n,
		GoroutinesPerMR: float64(after.Goroutines-base.Goroutines) / n,
	}
}

func (r *Report) fail(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

// checkHeld checks that every MR stayed registered from a to b: all
// sessions and bindings there at the end, no session made, replaced or
// ended in between, no binding lapsed, no MR failure.
func (r *Report) checkHeld(cfg config, phase string, a, b haReport, mrs swarmReport) {
	n, want := int64(cfg.MRs), int64(cfg.MRs*cfg.BIDs)
	if b.SessionsLive != n {
		r.fail("%s: %d of %d sessions live at the end", phase, b.SessionsLive, n)
	}
	if b.Bindings != want {
		r.fail("%s: %d of %d bindings registered at the end", phase, b.Bindings, want)
	}
	if d := b.Server.SessionsTotal - a.Server.SessionsTotal; d != 0 {
		r.fail("%s: %d sessions made (MRs reconnected)", phase, d)
	}
	if d := b.Server.SessionsEndedTotal - a.Server.SessionsEndedTotal; d != 0 {
		r.fail("%s: %d sessions ended", phase, d)
	}
	if d := (b.Shrinks - a.Shrinks) + (b.Empties - a.Empties); d != 0 {
		r.fail("%s: %d binding sets shrank or emptied (lapsed bindings)", phase, d)
	}
	if d := b.Server.BindingsRejectedTotal + b.Server.MalformedTotal; d != 0 {
		r.fail("%s: HA rejected %d binding updates or connections", phase, d)
	}
	if mrs.Up != n || mrs.Downs != 0 || mrs.Errors != 0 {
		r.fail("%s: MRs: %d up, %d sessions lost, %d errors", phase, mrs.Up, mrs.Downs, mrs.Errors)
	}
	if phase == "hold" && b.Refreshes == a.Refreshes {
		r.fail("hold: no refresh (is -hold shorter than 2/3 of -lifetime?)")
	}
}

// Markdown renders the report as a summary table (one row, the README's
// columns) and a table of the details.
func (r *Report) Markdown() string {
	var b strings.Builder
	kib := func(v float64) string { return fmt.Sprintf("%.1f", v/1024) }
	rekey := "1 h"
	switch {
	case r.Config.Rekey == 0:
		rekey = "120 s"
	case r.Config.Rekey != time.Hour:
		rekey = r.Config.Rekey.String()
	}
	b.WriteString("| MRs | BIDs | lifetime | rekey | register (s) | sessions/s | bindings/s | HA RSS/MR (KiB) | HA heap/MR (KiB) | refreshes in hold | rekeys in hold | HA CPU/refresh fitted (µs) | gross (µs) | HA idle CPU (% of a core) |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| %d | %d | %s | %s | %.2f | %.0f | %.0f | %s | %s | %d | %d | %.0f ± %.0f | %.0f | %.1f |\n",
		r.Config.MRs, r.Config.BIDs, r.Config.Lifetime, rekey,
		r.Register.Seconds, r.Register.SessionsPerSecond, r.Register.BindingsPerSecond,
		kib(r.Memory.RSSPerMRBytes), kib(r.Memory.HeapPerMRBytes),
		r.Hold.Refreshes, r.Hold.Rekeys, r.Hold.Fit.MicrosPerRefresh, r.Hold.Fit.StdErrMicros, r.Hold.CPUMicrosPerRefresh, r.Idle.CPUPercent)
	b.WriteString("\n| detail | value |\n|---|---:|\n")
	row := func(k, format string, args ...any) {
		fmt.Fprintf(&b, "| %s | %s |\n", k, fmt.Sprintf(format, args...))
	}
	row("registration, fresh HA (s)", "%.2f (%d MR connect failures)", r.Register.Seconds, r.Register.Failures)
	row("HA CPU per session set-up (µs)", "%.0f", r.Register.HACPUMicrosPerSession)
	row("registration, after a swarm left (s)", "%.2f (%.0f sessions/s, HA %.0f µs per set-up)", r.Reregister.Seconds, r.Reregister.SessionsPerSecond, r.Reregister.HACPUMicrosPerSession)
	row("HA RSS base → registered (MiB)", "%.1f → %.1f", float64(r.Memory.BaseRSSBytes)/(1<<20), float64(r.Memory.RSSBytes)/(1<<20))
	row("HA heap base → registered (MiB)", "%.1f → %.1f", float64(r.Memory.BaseHeapBytes)/(1<<20), float64(r.Memory.HeapBytes)/(1<<20))
	row("HA goroutine stacks per MR (KiB)", "%s", kib(r.Memory.StackPerMRBytes))
	row("HA goroutines per MR", "%.1f", r.Memory.GoroutinesPerMR)
	row("hold (s), refresh every (s)", "%.1f, %.2f", r.Hold.Seconds, r.Hold.RefreshInterval)
	row("refreshes: counted / expected", "%d / %.0f (%d bindings)", r.Hold.Refreshes, r.Hold.ExpectedRefreshes, r.Hold.BindingsRefreshed)
	row("HA CPU in hold (s, % of a core; user + sys s)", "%.3f, %.1f; %.3f + %.3f", r.Hold.CPUSeconds, r.Hold.CPUPercent, r.Hold.UserSeconds, r.Hold.SysSeconds)
	row("hold: MR swarm / other processes' CPU (% of a core); longest gap between the HA's answers (s)", "%.1f / %.1f; %.1f", r.Hold.MRCPUPercent, r.Hold.OthersPercent, r.Hold.MaxGapSeconds)
	row("HA CPU per refresh, fitted over the hold's seconds (µs)", "%.1f ± %.1f (base %.1f %% of a core, %d samples)",
		r.Hold.Fit.MicrosPerRefresh, r.Hold.Fit.StdErrMicros, r.Hold.Fit.BasePercent, r.Hold.Fit.Samples)
	if r.Hold.Rekeys > 0 {
		row("HA CPU per rekey, fitted (µs)", "%.1f ± %.1f", r.Hold.Fit.MicrosPerRekey, r.Hold.Fit.RekeyStdErrMicros)
	}
	row("HA CPU per refresh, gross: hold CPU / refreshes (µs)", "%.1f", r.Hold.CPUMicrosPerRefresh)
	row("MR retransmits in hold / idle", "%d / %d", r.Hold.MRRetransmits, r.Idle.MRRetransmits)
	row("HA idle CPU (s over s, % of a core; user + sys s)", "%.3f over %.1f, %.2f; %.3f + %.3f", r.Idle.CPUSeconds, r.Idle.Seconds, r.Idle.CPUPercent, r.Idle.UserSeconds, r.Idle.SysSeconds)
	row("HA idle CPU per second: min / median / max (% of a core)", "%.1f / %.1f / %.1f", r.Idle.PerSecond.Min, r.Idle.PerSecond.Median, r.Idle.PerSecond.Max)
	row("HA idle CPU per MR (µs per s)", "%.1f", r.Idle.CPUMicrosPerMRSecond)
	row("idle: MR swarm / other processes' CPU (% of a core); longest gap between the HA's answers (s)", "%.1f / %.1f; %.1f", r.Idle.MRCPUPercent, r.Idle.OthersPercent, r.Idle.MaxGapSeconds)
	if g := max(r.Hold.MaxGapSeconds, r.Idle.MaxGapSeconds); g > stallGap {
		row("warning", "the HA stalled for up to %.1f s (the shared machine is busy: other processes' CPU above): figures suspect", g)
	}
	for _, w := range r.Warnings {
		row("warning", "%s", w)
	}
	if len(r.Failures) == 0 {
		row("checks", "all passed")
	} else {
		row("checks", "FAILED: %s", strings.Join(r.Failures, "; "))
	}
	return b.String()
}

// Fit is the HA's CPU rate over the hold's one-second samples, fitted as
// a base rate plus a cost per refresh and a cost per rekey (least squares:
// ΔCPU = base·Δt + cost·Δrefreshes + rekeyCost·Δrekeys). It separates the
// refresh cost from the heartbeats in the same window, as the refreshes
// come in bursts (MRs refresh in the order they registered) with quiet
// seconds between.
type Fit struct {
	Samples int `json:"samples"`
	// BasePercent is the CPU without refreshes, in % of a core.
	BasePercent float64 `json:"base_cpu_percent"`
	// MicrosPerRefresh is the marginal cost of one refresh, with its
	// standard error.
	MicrosPerRefresh float64 `json:"cpu_us_per_refresh"`
	StdErrMicros     float64 `json:"cpu_us_per_refresh_stderr"`
	// MicrosPerRekey is the marginal cost of one rekey, if there were
	// any, with its standard error.
	MicrosPerRekey    float64 `json:"cpu_us_per_rekey,omitempty"`
	RekeyStdErrMicros float64 `json:"cpu_us_per_rekey_stderr,omitempty"`
}

// fitRefreshCost fits the HA's samples (see Fit).
func fitRefreshCost(samples []haReport) Fit {
	var xs [][]float64
	var ys []float64
	rekeys := false
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		t := b.at().Sub(a.at()).Seconds()
		if t <= 0 {
			continue
		}
		k := float64(b.Rekeys - a.Rekeys)
		rekeys = rekeys || k > 0
		xs = append(xs, []float64{t, float64(b.Refreshes - a.Refreshes), k})
		ys = append(ys, (b.cpu() - a.cpu()).Seconds())
	}
	f := Fit{Samples: len(xs)}
	if !rekeys {
		for i := range xs {
			xs[i] = xs[i][:2]
		}
	}
	beta, se, ok := leastSquares(xs, ys)
	if !ok {
		return f
	}
	f.BasePercent = 100 * beta[0]
	f.MicrosPerRefresh, f.StdErrMicros = 1e6*beta[1], 1e6*se[1]
	if rekeys {
		f.MicrosPerRekey, f.RekeyStdErrMicros = 1e6*beta[2], 1e6*se[2]
	}
	return f
}

// leastSquares solves y ≈ X·β (no intercept) and returns β and the
// standard errors of its elements; ok is false if X has too few rows or
// dependent columns.
func leastSquares(xs [][]float64, ys []float64) (beta, se []float64, ok bool) {
	if len(xs) == 0 {
		return nil, nil, false
	}
	k := len(xs[0])
	if len(xs) <= k {
		return nil, nil, false
	}
	// a = [XᵀX | I], reduced to [I | (XᵀX)⁻¹] by Gauss-Jordan.
	a := make([][]float64, k)
	xty := make([]float64, k)
	for i := range k {
		a[i] = make([]float64, 2*k)
		a[i][k+i] = 1
		for r, x := range xs {
			xty[i] += x[i] * ys[r]
			for j := range k {
				a[i][j] += x[i] * x[j]
			}
		}
	}
	for c := range k {
		p := c
		for r := c + 1; r < k; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) < 1e-12 {
			return nil, nil, false
		}
		a[c], a[p] = a[p], a[c]
		d := a[c][c]
		for j := range a[c] {
			a[c][j] /= d
		}
		for r := range k {
			if r == c || a[r][c] == 0 {
				continue
			}
			m := a[r][c]
			for j := range a[r] {
				a[r][j] -= m * a[c][j]
			}
		}
	}
	beta = make([]float64, k)
	for i := range k {
		for j := range k {
			beta[i] += a[i][k+j] * xty[j]
		}
	}
	var rss float64
	for r, x := range xs {
		e := ys[r]
		for i := range k {
			e -= beta[i] * x[i]
		}
		rss += e * e
	}
	s2 := rss / float64(len(xs)-k)
	se = make([]float64, k)
	for i := range k {
		se[i] = math.Sqrt(max(0, s2*a[i][k+i]))
	}
	return beta, se, true
}

// perSecondCPU summarises the HA's CPU rate over one-second samples:
// its smallest, median and largest value, in % of a core.
func perSecondCPU(samples []haReport) Spread {
	var v []float64
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		if t := b.at().Sub(a.at()).Seconds(); t > 0.5 {
			v = append(v, 100*(b.cpu()-a.cpu()).Seconds()/t)
		}
	}
	if len(v) == 0 {
		return Spread{}
	}
	slices.Sort(v)
	return Spread{Min: v[0], Median: v[len(v)/2], Max: v[len(v)-1]}
}

// Spread is the smallest, median and largest of a set of figures.
type Spread struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}
