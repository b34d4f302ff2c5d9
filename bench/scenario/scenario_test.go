// SPDX-License-Identifier: MIT

package scenario

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"monami/bench/anchor"
	"monami/bench/topo"
)

func TestRebin(t *testing.T) {
	tl := []int64{125000, 125000, 0, 0, 250000}
	got := rebin(tl, 10, 20)
	want := []float64{100, 0, 100} // 250 kB per 20 ms = 100 Mbit/s
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("rebin = %v, want %v", got, want)
	}
}

func TestStallAfter(t *testing.T) {
	tests := []struct {
		name      string
		tl        []int64
		from, end int
		want      int
	}{
		{name: "recovered", tl: []int64{1, 1, 0, 0, 0, 1, 1}, from: 2, end: 7, want: 3},
		{name: "never recovered", tl: []int64{1, 1, 0}, from: 2, end: 10, want: 8},
		{name: "no outage", tl: []int64{1, 1, 1, 1}, from: 1, end: 4, want: 0},
		{name: "stall before the event ignored", tl: []int64{0, 0, 0, 1, 1}, from: 3, end: 5, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stallAfter(tt.tl, tt.from, tt.end); got != tt.want {
				t.Errorf("stallAfter = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestProcCPU(t *testing.T) {
	end := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(end) {
	}
	if c := ProcCPU([]int{os.Getpid()}); c <= 0 {
		t.Errorf("ProcCPU(self) = %v", c)
	}
	if c := ProcCPU([]int{-1}); c != 0 {
		t.Errorf("ProcCPU(no such pid) = %v", c)
	}
	if MachineCPU() <= 0 {
		t.Error("MachineCPU = 0")
	}
}

func sample(sys string, rep int, m map[string]float64) *Sample {
	return &Sample{System: sys, Rep: rep, Metrics: m}
}

func fakeResult() *Result {
	r := &Result{Name: "single-path", Description: "d", Topology: "single", Links: []string{"wan1: direct veth"}, DurS: 5,
		Primary: "goodput_mbps", Columns: []string{"goodput_mbps", "daemon_cpu_s_per_gb"},
		Systems: []string{"none", "wireguard-go", "monami", "mptcp"}}
	for rep, f := range []float64{1, 0.9, 1.1} {
		r.Samples = append(r.Samples,
			sample("none", rep+1, map[string]float64{"goodput_mbps": 10000 * f}),
			sample("wireguard-go", rep+1, map[string]float64{"goodput_mbps": 1000 * f, "daemon_cpu_s_per_gb": 9}),
			sample("monami", rep+1, map[string]float64{"goodput_mbps": 2000 * f, "daemon_cpu_s_per_gb": 3}),
			&Sample{System: "mptcp", Rep: rep + 1, Error: "boom"},
		)
	}
	s := r.Samples[2]
	s.addSeries("total", 100*time.Millisecond, []float64{1, 2, 3})
	s.addSeries("wan1", 100*time.Millisecond, []float64{1, 2, 3})
	s.Events = []Event{{AtS: 0.15, What: "wan1 down"}}
	r.Summary = summarize(r)
	return r
}

func TestSummaryAndRatios(t *testing.T) {
	r := fakeResult()
	s, ok := r.summary("monami", "goodput_mbps")
	if !ok || s.N != 3 || s.Median != 2000 || s.Min != 1800 || s.Max != 2200 {
		t.Errorf("summary %+v %v", s, ok)
	}
	if best, ok := r.bestAnchor(); !ok || best != "none" {
		t.Errorf("best anchor %q", best)
	}
	med, lo, hi, ok := r.perRepRatio("monami", "wireguard-go", "goodput_mbps")
	if !ok || math.Abs(med-2) > 1e-9 || math.Abs(lo-2) > 1e-9 || math.Abs(hi-2) > 1e-9 {
		t.Errorf("per-rep ratio %v %v %v %v", med, lo, hi, ok)
	}
	if rs := representative(r, "monami"); rs == nil || rs.Metrics["goodput_mbps"] != 2000 {
		t.Errorf("representative %+v", rs)
	}
	if _, ok := r.summary("mptcp", "goodput_mbps"); ok {
		t.Error("failed samples summarized")
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	res := &Results{Started: time.Now(), Finished: time.Now(), Reps: 3, CC: "cubic", Host: map[string]string{"cpus": "2"},
		Scenarios: []*Result{fakeResult()}}
	md, err := Write(dir, res)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## single-path", "| no tunnel | 10000 (9000–11000) | 1.00 (1.00–1.00) |",
		"| monami | 2000 (1800–2200) | 0.20 (0.20–0.20) | 3.00 |", "| mptcp | boom |",
		"monami / wireguard-go, per repetition: goodput Mbit/s ×2.00", "![single-path-monami.png](single-path-monami.png)"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Results
	if err := json.Unmarshal(b, &back); err != nil || len(back.Scenarios[0].Samples) != 12 {
		t.Errorf("results.json: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "single-path-monami.png")); err != nil {
		t.Error(err)
	}
	loaded, err := Load(filepath.Join(dir, "results.json"))
	if err != nil || Markdown(loaded) != md {
		t.Errorf("Load then Markdown differs from the written report (%v)", err)
	}
}

// TestScenarios: every scenario names a shipped topology, known systems
// and known metrics.
func TestScenarios(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range All() {
		if seen[s.Name] {
			t.Errorf("duplicate scenario %s", s.Name)
		}
		seen[s.Name] = true
		if _, err := topo.LoadSpec(filepath.Join("..", "topologies", s.Topology)); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
		for _, k := range s.Systems {
			switch k {
			case anchor.None, anchor.Wireguard, anchor.MPTCP, anchor.Monami:
			default:
				t.Errorf("%s: unknown system %q", s.Name, k)
			}
		}
		for _, c := range append(s.Columns, s.Primary) {
			if metricInfo(c).Label == c {
				t.Errorf("%s: metric %q has no label", s.Name, c)
			}
		}
		if s.Measure == nil || s.Dur <= 0 {
			t.Errorf("%s: no Measure or Dur", s.Name)
		}
	}
	if _, err := Find("single-path"); err != nil {
		t.Error(err)
	}
	if _, err := Find("nope"); err == nil {
		t.Error("Find accepted an unknown name")
	}
}
