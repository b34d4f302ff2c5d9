// SPDX-License-Identifier: MIT

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"monami/signaling/msg"
)

// runParent runs the benchmark, prints the table and writes the JSON
// report.
func runParent(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	rep, err := run(ctx, cfg, stderr)
	if rep != nil {
		fmt.Fprint(stdout, rep.Markdown())
		if cfg.JSON != "" {
			b, jerr := json.MarshalIndent(rep, "", "  ")
			if jerr == nil {
				jerr = os.WriteFile(cfg.JSON, append(b, '\n'), 0o644)
			}
			if jerr != nil {
				err = errors.Join(err, fmt.Errorf("write report: %w", jerr))
			}
		}
	}
	return err
}

// run measures and returns the report. The report is returned also when a
// check failed (with the error, and Failures listing them), so that it
// can be printed; it is nil if the measurement itself did not finish.
func run(ctx context.Context, cfg config, progress io.Writer) (rep *Report, err error) {
	say := func(format string, args ...any) {
		fmt.Fprintf(progress, "sigscale: "+format+"\n", args...)
	}
	rep = &Report{Config: cfg, GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), Started: time.Now().UTC(), Failures: []string{}}
	granted := msg.LifetimeDuration(msg.LifetimeUnits(cfg.Lifetime))
	rep.Hold.RefreshInterval = seconds(granted * 2 / 3)

	// Every child is stopped and waited for, on every return.
	var children []*child
	// The swarms stop before the HA. A child killed after the measurement
	// (slow to stop on a busy machine) is worth a warning, not a failure.
	defer func() {
		for _, c := range slices.Backward(children) {
			serr := c.stop(stopGrace)
			switch {
			case serr == nil:
			case errors.Is(serr, errKilled) && rep != nil:
				rep.Warnings = append(rep.Warnings, serr.Error())
			case err == nil:
				err = serr
			}
		}
	}()
	ha, err := startChild("ha", cfg.childArgs("ha"), progress)
	if err != nil {
		return nil, err
	}
	children = append(children, ha)
	var listening struct {
		Addr string `json:"addr"`
	}
	if err := ha.next(ctx, "listening", &listening, 30*time.Second); err != nil {
		return nil, err
	}
	say("HA listening on %s; %d MRs × %d BIDs", listening.Addr, cfg.MRs, cfg.BIDs)
	var base haReport
	if err := ha.ask(ctx, "gc", &base); err != nil {
		return nil, err
	}

	// Swarm A: registration, memory, hold.
	a, err := startChild("mrs", cfg.childArgs("mrs", "-server", listening.Addr), progress)
	if err != nil {
		return nil, err
	}
	children = append(children, a)
	reg, err := registerSwarm(ctx, cfg, ha, a, base)
	if err != nil {
		return nil, err
	}
	rep.Register = reg
	say("registered %d MRs in %.2f s (%.0f sessions/s)", cfg.MRs, reg.Seconds, reg.SessionsPerSecond)

	cmd := "gc"
	if cfg.HAHeap != "" {
		cmd = "heap " + cfg.HAHeap
	}
	var after haReport
	if err := ha.ask(ctx, cmd, &after); err != nil {
		return nil, err
	}
	rep.Memory = memoryOf(cfg, base, after)

	say("holding for %s (refresh every %.2f s)", cfg.Hold, rep.Hold.RefreshInterval)
	hold, err := measureWindow(ctx, ha, a, cfg.Hold, profileName(cfg.HAProfile, "hold"))
	if err != nil {
		return nil, err
	}
	h0, h1 := hold.ha[0], hold.ha[len(hold.ha)-1]
	s0, s1 := hold.mr0, hold.mr1
	rep.Hold.window = hold.window()
	rep.Hold.Fit = fitRefreshCost(hold.ha)
	rep.Hold.Refreshes = h1.Refreshes - h0.Refreshes
	rep.Hold.BindingsRefreshed = rep.Hold.Refreshes * uint64(cfg.BIDs)
	rep.Hold.ExpectedRefreshes = float64(cfg.MRs) * cfg.Hold.Seconds() / rep.Hold.RefreshInterval
	rep.Hold.Rekeys = h1.Rekeys - h0.Rekeys
	rep.Hold.MRRetransmits = s1.Client.RetransmitsTotal - s0.Client.RetransmitsTotal
	if rep.Hold.Refreshes > 0 {
		rep.Hold.CPUMicrosPerRefresh = rep.Hold.CPUSeconds * 1e6 / float64(rep.Hold.Refreshes)
	}
	rep.Hold.Samples = samplesOf(hold.ha)
	rep.checkHeld(cfg, "hold", h0, h1, s1)
	rep.HAEnd = h1
	rep.MREnd = s1
	say("hold: %d refreshes, HA CPU %.3f s (%.1f µs/refresh gross)", rep.Hold.Refreshes, rep.Hold.CPUSeconds, rep.Hold.CPUMicrosPerRefresh)

	// Swarm B: the same MRs again, with bindings that need no refresh in
	// the idle window.
	if err := a.stop(stopGrace); errors.Is(err, errKilled) {
		// Its connections end at the HA by idle timeout (15 s).
		rep.Warnings = append(rep.Warnings, err.Error())
	} else if err != nil {
		return nil, err
	}
	gone, err := waitHA(ctx, ha, "the MRs' sessions to end", func(r haReport) bool {
		return r.SessionsLive == 0 && r.Bindings == 0
	})
	if err != nil {
		return nil, err
	}
	idleCfg := cfg
	idleCfg.Lifetime = idleLifetime
	b, err := startChild("mrs", idleCfg.childArgs("mrs", "-server", listening.Addr), progress)
	if err != nil {
		return nil, err
	}
	children = append(children, b)
	rereg, err := registerSwarm(ctx, cfg, ha, b, gone)
	if err != nil {
		return nil, err
	}
	rep.Reregister = rereg
	say("registered again in %.2f s (%.0f sessions/s); idle for %s", rereg.Seconds, rereg.SessionsPerSecond, cfg.Idle)
	// Let the registration's aftermath (acknowledgements, the first
	// keepalives) pass.
	if err := sleep(ctx, time.Second); err != nil {
		return nil, err
	}
	idle, err := measureWindow(ctx, ha, b, cfg.Idle, profileName(cfg.HAProfile, "idle"))
	if err != nil {
		return nil, err
	}
	i0, i1 := idle.ha[0], idle.ha[len(idle.ha)-1]
	bs := idle.mr1
	rep.Idle.window = idle.window()
	rep.Idle.MRRetransmits = idle.mr1.Client.RetransmitsTotal - idle.mr0.Client.RetransmitsTotal
	rep.Idle.PerSecond = perSecondCPU(idle.ha)
	rep.Idle.Refreshes = i1.Refreshes - i0.Refreshes
	rep.Idle.CPUMicrosPerMRSecond = rep.Idle.CPUSeconds * 1e6 / rep.Idle.Seconds / float64(cfg.MRs)
	if rep.Idle.Refreshes != 0 {
		rep.fail("idle: %d refreshes in the idle window", rep.Idle.Refreshes)
	}
	rep.checkHeld(cfg, "idle", i0, i1, bs)
	if rep.Hold.Refreshes > 0 {
		net := rep.Hold.CPUSeconds - rep.Idle.CPUPercent/100*rep.Hold.Seconds
		rep.Hold.NetCPUMicrosPerRefresh = net * 1e6 / float64(rep.Hold.Refreshes)
	}
	say("idle: HA CPU %.2f %% of a core (%.1f µs per MR per second)", rep.Idle.CPUPercent, rep.Idle.CPUMicrosPerMRSecond)
	if len(rep.Failures) > 0 {
		if g := max(rep.Hold.MaxGapSeconds, rep.Idle.MaxGapSeconds); g > stallGap {
			rep.fail("the HA stalled for up to %.1f s, with other processes using %.0f %% of a core: rerun on a quieter machine or with a longer -lifetime", g, max(rep.Hold.OthersPercent, rep.Idle.OthersPercent))
		}
		return rep, fmt.Errorf("checks failed: %s", strings.Join(rep.Failures, "; "))
	}
	return rep, nil
}

// registerSwarm waits for the swarm's "ready" line, checks that every MR
// is up and that the HA holds every binding, and returns the registration
// figures; before is the HA's figures from before the swarm started.
func registerSwarm(ctx context.Context, cfg config, ha, mrs *child, before haReport) (Registration, error) {
	var ready swarmReport
	if err := mrs.next(ctx, "ready", &ready, cfg.Timeout); err != nil {
		return Registration{}, err
	}
	if ready.NotUp > 0 {
		return Registration{}, fmt.Errorf("%d of %d MRs got no session within %s each", ready.NotUp, cfg.MRs, dialWait)
	}
	want := int64(cfg.MRs * cfg.BIDs)
	after, err := waitHA(ctx, ha, "every binding", func(r haReport) bool {
		return r.SessionsLive == int64(cfg.MRs) && r.Bindings == want
	})
	if err != nil {
		return Registration{}, err
	}
	s := float64(ready.RegisterNs) / 1e9
	return Registration{
		Seconds:               s,
		SessionsPerSecond:     float64(cfg.MRs) / s,
		BindingsPerSecond:     float64(cfg.MRs*cfg.BIDs) / s,
		Failures:              ready.Client.FailuresTotal,
		HACPUSeconds:          (after.cpu() - before.cpu()).Seconds(),
		HACPUMicrosPerSession: float64((after.cpu() - before.cpu()).Microseconds()) / float64(cfg.MRs),
	}, nil
}

// measured is one measurement window: the HA's figures at its start,
// every second and at its end, the swarm's and the machine's at its start
// and end.
type measured struct {
	ha       []haReport
	mr0, mr1 swarmReport
	m0, m1   machineCPU
}

// window sums the HA's, the swarm's and the machine's CPU over w.
func (w *measured) window() window {
	h0, h1 := w.ha[0], w.ha[len(w.ha)-1]
	win := window{
		Seconds:     h1.at().Sub(h0.at()).Seconds(),
		CPUSeconds:  (h1.cpu() - h0.cpu()).Seconds(),
		UserSeconds: float64(h1.CPUUserNs-h0.CPUUserNs) / 1e9,
		SysSeconds:  float64(h1.CPUSysNs-h0.CPUSysNs) / 1e9,
	}
	for i := 1; i < len(w.ha); i++ {
		win.MaxGapSeconds = max(win.MaxGapSeconds, w.ha[i].at().Sub(w.ha[i-1].at()).Seconds())
	}
	if win.Seconds <= 0 {
		return win
	}
	win.CPUPercent = 100 * win.CPUSeconds / win.Seconds
	win.MRCPUPercent = 100 * (w.mr1.cpu() - w.mr0.cpu()).Seconds() / win.Seconds
	wall := w.m1.at.Sub(w.m0.at).Seconds()
	if wall > 0 {
		busy := (w.m1.busy - w.m0.busy).Seconds()
		win.MachinePercent = 100 * busy / wall
		win.OthersPercent = max(0, win.MachinePercent-win.CPUPercent-win.MRCPUPercent)
	}
	return win
}

// measureWindow measures a window of length d: the HA's figures at once,
// every second and at the end (with profile set, a CPU profile of the HA
// covers it), and the swarm's and the machine's at its start and end.
func measureWindow(ctx context.Context, ha, mrs *child, d time.Duration, profile string) (*measured, error) {
	w := &measured{}
	first, last := "stats", "stats"
	if profile != "" {
		first, last = "prof-start "+profile, "prof-stop"
	}
	if err := mrs.ask(ctx, "stats", &w.mr0); err != nil {
		return nil, err
	}
	var err error
	if w.m0, err = readMachineCPU(); err != nil {
		return nil, err
	}
	var r haReport
	if err := ha.ask(ctx, first, &r); err != nil {
		return nil, err
	}
	w.ha = []haReport{r}
	end := r.at().Add(d)
	for {
		wait := time.Until(end)
		final := wait <= time.Second
		cmd := last
		if !final {
			wait, cmd = time.Second, "stats"
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
		var r haReport
		if err := ha.ask(ctx, cmd, &r); err != nil {
			return nil, err
		}
		w.ha = append(w.ha, r)
		if final {
			break
		}
	}
	if w.m1, err = readMachineCPU(); err != nil {
		return nil, err
	}
	if err := mrs.ask(ctx, "stats", &w.mr1); err != nil {
		return nil, err
	}
	return w, nil
}

// profileName is the HA's CPU profile file of one window, if -haprofile
// asks for them.
func profileName(prefix, window string) string {
	if prefix == "" {
		return ""
	}
	return prefix + "." + window + ".pprof"
}

// waitHA polls the HA until cond holds, for at most 30 s (longer than the
// signaling idle timeout), and returns its last figures.
func waitHA(ctx context.Context, ha *child, what string, cond func(haReport) bool) (haReport, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var r haReport
		if err := ha.ask(ctx, "stats", &r); err != nil {
			return r, err
		}
		if cond(r) {
			return r, nil
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("HA: gave up waiting for %s: %d sessions live, %d bindings", what, r.SessionsLive, r.Bindings)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return r, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

func seconds(d time.Duration) float64 { return d.Seconds() }
