// SPDX-License-Identifier: MIT

package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the HA and MR swarm children that
// run re-executes (os.Executable is the test binary here).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-role" {
		os.Exit(realMain(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestRun runs the whole benchmark small and checks that the report is
// sane and that no child outlives it.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three processes for ~10 s")
	}
	cfg, err := parseFlags([]string{"-mrs", "20", "-hold", "3s", "-lifetime", "4s", "-idle", "2s",
		"-haprofile", filepath.Join(t.TempDir(), "ha")}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var progress lockedBuffer // the children's stderr goes there too
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	rep, err := run(ctx, cfg, &progress)
	t.Log(progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if rep == nil {
		t.Fatal("no report")
	}
	t.Log("\n" + rep.Markdown())
	if pids := childrenOf(t, os.Getpid()); len(pids) > 0 {
		t.Errorf("children still running: %v", pids)
	}
	if len(rep.Failures) > 0 {
		t.Errorf("failures: %v", rep.Failures)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"registration took time", rep.Register.Seconds > 0 && rep.Register.SessionsPerSecond > 0},
		{"bindings/s is sessions/s × BIDs", math.Abs(rep.Register.BindingsPerSecond-3*rep.Register.SessionsPerSecond) < 1e-6},
		{"re-registration", rep.Reregister.Seconds > 0},
		{"every MR registered at the end of the hold", rep.HAEnd.SessionsLive == 20 && rep.HAEnd.Bindings == 60},
		{"no MR lost its session", rep.MREnd.Up == 20 && rep.MREnd.Downs == 0 && rep.MREnd.Client.SessionsTotal == 20},
		{"HA memory grew", rep.Memory.RSSBytes > rep.Memory.BaseRSSBytes && rep.Memory.HeapPerMRBytes > 0},
		{"refreshes in the hold", rep.Hold.Refreshes > 0 && rep.Hold.BindingsRefreshed == 3*rep.Hold.Refreshes},
		{"refreshes near expectation", float64(rep.Hold.Refreshes) <= rep.Hold.ExpectedRefreshes+20},
		{"no rekey", rep.Hold.Rekeys == 0},
		{"hold CPU measured", rep.Hold.Seconds >= 2.9 && rep.Hold.CPUSeconds > 0 && rep.Hold.CPUMicrosPerRefresh > 0},
		{"hold sampled each second", rep.Hold.Fit.Samples >= 3},
		{"idle window without refreshes", rep.Idle.Seconds >= 1.9 && rep.Idle.Refreshes == 0 && rep.Idle.CPUSeconds > 0},
		{"markdown says all passed", strings.Contains(rep.Markdown(), "all passed")},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: no", c.name)
		}
	}
	for _, w := range []string{"hold", "idle"} {
		if fi, err := os.Stat(profileName(cfg.HAProfile, w)); err != nil || fi.Size() == 0 {
			t.Errorf("HA profile of the %s window: %v", w, err)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// childrenOf returns the pids of the live processes whose parent is pid.
func childrenOf(t *testing.T, pid int) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, name := range stats {
		b, err := os.ReadFile(name)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 || f[0] == "Z" {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
			p, _ := strconv.Atoi(filepath.Base(filepath.Dir(name)))
			out = append(out, p)
		}
	}
	return out
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"defaults", nil, true},
		{"small", []string{"-mrs", "20", "-hold", "3s", "-lifetime", "4s"}, true},
		{"no MRs", []string{"-mrs", "0"}, false},
		{"too many MRs", []string{"-mrs", "9000"}, false},
		{"too many BIDs", []string{"-bids", "5"}, false},
		{"lifetime too short", []string{"-lifetime", "2s"}, false},
		{"lifetime as long as the idle swarm's", []string{"-lifetime", "1h"}, true},
		{"lifetime too long", []string{"-lifetime", "2h"}, false},
		{"no hold", []string{"-hold", "0s"}, false},
		{"negative rekey", []string{"-rekey", "-1s"}, false},
		{"default rekey", []string{"-rekey", "0"}, true},
		{"no concurrency", []string{"-concurrency", "0"}, false},
		{"stray argument", []string{"x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, &bytes.Buffer{})
			if (err == nil) != tt.ok {
				t.Errorf("parseFlags(%q) = %v, want ok %v", tt.args, err, tt.ok)
			}
		})
	}
}

// TestChildArgsRoundTrip checks that a child parses the parent's
// configuration back.
func TestChildArgsRoundTrip(t *testing.T) {
	cfg, err := parseFlags([]string{"-mrs", "7", "-bids", "2", "-lifetime", "8s", "-rekey", "0", "-concurrency", "3", "-seed", "s"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseFlags(cfg.childArgs("mrs", "-server", "127.0.0.1:1"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got.role != "mrs" || got.server != "127.0.0.1:1" || got.MRs != 7 || got.BIDs != 2 ||
		got.Lifetime != 8*time.Second || got.Rekey != 0 || got.Concurrency != 3 || got.Seed != "s" {
		t.Errorf("child config %+v from %+v", got, cfg)
	}
}

func TestFitRefreshCost(t *testing.T) {
	tests := []struct {
		name       string
		refreshes  []uint64 // per second
		rekeys     []uint64 // per second; nil for none
		base, cost float64  // CPU s per s, CPU s per refresh
		rekeyCost  float64  // CPU s per rekey
	}{
		{"bursts", []uint64{0, 250, 250, 10, 0, 0, 0, 0, 0, 250, 250, 10, 0, 0}, nil, 0.15, 100e-6, 0},
		{"steady with a gap", []uint64{100, 100, 0, 100, 50, 100, 0, 0}, nil, 0.02, 40e-6, 0},
		{"rekeys in the bursts", []uint64{0, 250, 250, 10, 0, 0, 250, 250, 10, 0}, []uint64{0, 0, 0, 0, 0, 0, 200, 300, 0, 0}, 0.15, 100e-6, 30e-6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Unix(1000, 0)
			samples := []haReport{{}}
			samples[0].UnixNano = start.UnixNano()
			var cpu time.Duration
			var total, rekeys uint64
			for i, r := range tt.refreshes {
				var k uint64
				if tt.rekeys != nil {
					k = tt.rekeys[i]
				}
				total += r
				rekeys += k
				cpu += time.Duration((tt.base + tt.cost*float64(r) + tt.rekeyCost*float64(k)) * 1e9)
				var s haReport
				s.UnixNano = start.Add(time.Duration(i+1) * time.Second).UnixNano()
				s.CPUUserNs = int64(cpu)
				s.Refreshes, s.Rekeys = total, rekeys
				samples = append(samples, s)
			}
			f := fitRefreshCost(samples)
			if f.Samples != len(tt.refreshes) {
				t.Errorf("samples %d, want %d", f.Samples, len(tt.refreshes))
			}
			if math.Abs(f.MicrosPerRefresh-tt.cost*1e6) > 0.01 || math.Abs(f.BasePercent-tt.base*100) > 0.01 ||
				math.Abs(f.MicrosPerRekey-tt.rekeyCost*1e6) > 0.01 {
				t.Errorf("fit %+v, want base %.2f %%, %.1f µs per refresh, %.1f µs per rekey", f, tt.base*100, tt.cost*1e6, tt.rekeyCost*1e6)
			}
			if f.StdErrMicros > 0.01 {
				t.Errorf("standard error %.3f µs of an exact fit", f.StdErrMicros)
			}
		})
	}
}
