// SPDX-License-Identifier: MIT

package scenario

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"monami/bench/anchor"
	"monami/bench/plot"
)

// Load reads a results.json written by Write.
func Load(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, r := range res.Scenarios {
		if sc, err := Find(r.Name); err == nil && r.Note == "" {
			r.Note = sc.Note
		}
	}
	return &res, nil
}

// Write writes report.md, results.json and the plots of res into dir, and
// returns the report.
func Write(dir string, res *Results) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, r := range res.Scenarios {
		r.Plots = nil
		for _, sys := range r.Systems {
			s := representative(r, sys)
			if s == nil || len(s.Series) == 0 {
				continue
			}
			name := fmt.Sprintf("%s-%s.png", r.Name, sys)
			if err := writePlot(filepath.Join(dir, name), r, s); err != nil {
				return "", err
			}
			r.Plots = append(r.Plots, name)
		}
	}
	raw, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), raw, 0o644); err != nil {
		return "", err
	}
	md := Markdown(res)
	return md, os.WriteFile(filepath.Join(dir, "report.md"), []byte(md), 0o644)
}

// representative returns the successful sample of sys whose primary
// metric is the median one.
func representative(r *Result, sys string) *Sample {
	var ss []*Sample
	for _, s := range r.Samples {
		if s.System == sys && s.Error == "" {
			ss = append(ss, s)
		}
	}
	if len(ss) == 0 {
		return nil
	}
	slices.SortFunc(ss, func(a, b *Sample) int {
		x, y := a.Metrics[r.Primary], b.Metrics[r.Primary]
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	return ss[len(ss)/2]
}

func writePlot(path string, r *Result, s *Sample) error {
	c := plot.Chart{Title: fmt.Sprintf("%s  %s  rep %d", r.Name, s.System, s.Rep), YLabel: "Mbit/s"}
	names := make([]string, 0, len(s.Series))
	for n := range s.Series {
		names = append(names, n)
	}
	slices.Sort(names)
	// The total first (black), then the paths.
	if i := slices.Index(names, "total"); i > 0 {
		names = append([]string{"total"}, slices.Delete(names, i, i+1)...)
	}
	for _, n := range names {
		se := s.Series[n]
		label := n
		if n != "total" {
			label = n + " wire up"
		} else {
			label = "goodput"
		}
		c.Lines = append(c.Lines, plot.Line{Name: label, Step: se.StepMS / 1000, Values: se.Values})
	}
	for _, e := range s.Events {
		c.Marks = append(c.Marks, plot.Mark{X: e.AtS, Label: e.What})
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := c.PNG(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (r *Result) summary(sys, metric string) (Summary, bool) {
	for _, s := range r.Summary {
		if s.System == sys && s.Metric == metric {
			return s, true
		}
	}
	return Summary{}, false
}

// perRepRatio returns the median, min and max over repetitions of
// a[metric]/b[metric] for the same repetition.
func (r *Result) perRepRatio(a, b, metric string) (med, lo, hi float64, ok bool) {
	byRep := map[int]map[string]float64{}
	for _, s := range r.Samples {
		if s.Error != "" {
			continue
		}
		if v, ok := s.Metrics[metric]; ok && (s.System == a || s.System == b) {
			if byRep[s.Rep] == nil {
				byRep[s.Rep] = map[string]float64{}
			}
			byRep[s.Rep][s.System] = v
		}
	}
	var v []float64
	for _, m := range byRep {
		x, okA := m[a]
		y, okB := m[b]
		if okA && okB && y != 0 {
			v = append(v, x/y)
		}
	}
	if len(v) == 0 {
		return 0, 0, 0, false
	}
	slices.Sort(v)
	return median(v), v[0], v[len(v)-1], true
}

// bestAnchor returns the anchor (any system but monami) with the best
// median primary metric.
func (r *Result) bestAnchor() (string, bool) {
	info := metricInfo(r.Primary)
	best, found := "", false
	var bv float64
	for _, sys := range r.Systems {
		if sys == string(anchor.Monami) {
			continue
		}
		s, ok := r.summary(sys, r.Primary)
		if !ok {
			continue
		}
		if !found || (info.Higher && s.Median > bv) || (!info.Higher && s.Median < bv) {
			best, bv, found = sys, s.Median, true
		}
	}
	return best, found
}

// Markdown renders the report.
func Markdown(res *Results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# monami benchmark report\n\n")
	fmt.Fprintf(&b, "Run %s – %s on %s (%s CPUs, kernel %s, %s); load average at start %s. ",
		res.Started.Format(time.RFC3339), res.Finished.Format("15:04:05"), res.Host["cpu"], res.Host["cpus"],
		res.Host["kernel"], res.Host["go"], res.Host["loadavg_at_start"])
	fmt.Fprintf(&b, "%d repetitions per system, systems interleaved within each repetition, each sample on a freshly built topology; "+
		"TCP congestion control %s. Cells are median (min–max). Compare ratios within this run rather than absolute figures across runs: "+
		"the machine is shared.\n\n", res.Reps, res.CC)
	for _, r := range res.Scenarios {
		writeScenario(&b, r)
	}
	b.WriteString(legend)
	return b.String()
}

const legend = `## How to read this

- **goodput**: payload bytes received by the server per second (iperf3 receiver figure, or loadgen's
  timeline over the steady window, after the first second(s)).
- **tunnel CPU s/GB**: user+system CPU seconds of both tunnel daemons (router and home agent) per GB
  moved (from /proc/<pid>/stat before and after); "–" for kernel paths. **machine CPU s/GB**: all busy
  CPU time of the machine per GB, which includes the traffic generators, the kernel and, for emulated
  links, the emulator (shown apart as emulator CPU s/GB).
- **ratio to best anchor**: per repetition, the system's primary figure divided by the best anchor's
  (no tunnel, wireguard-go, MPTCP) in the same repetition; median (min–max) of those ratios. For
  lower-is-better figures (outage, delay) a ratio below 1 is better.
- **wanN Mbit/s**: the wire rate leaving the router on that uplink (emulator counters, Ethernet
  frames, tunnel overhead and ACKs included), averaged over the steady window.
- **outage ms**: the longest run of 10 ms buckets in which the server received nothing, from the
  failure event to the end of the transfer; a flow that never recovers shows the whole remainder.
- **byte-exact**: 1 when every stream's SHA-256 matched on both ends.
- Notes in brackets flag emulator anomalies (oversize frames mean offloads were on; kernel drops mean
  the emulator fell behind), which make a sample suspect.
`

func writeScenario(b *strings.Builder, r *Result) {
	fmt.Fprintf(b, "## %s\n\n%s.\n\n", r.Name, r.Description)
	fmt.Fprintf(b, "Topology `%s`: %s", r.Topology, strings.Join(r.Links, "; "))
	if r.Note != "" {
		fmt.Fprintf(b, "; %s", r.Note)
	}
	fmt.Fprintf(b, ". Traffic %.0f s per sample.\n\n", r.DurS)
	pinfo := metricInfo(r.Primary)
	best, hasBest := r.bestAnchor()
	b.WriteString("| system |")
	cols := r.Columns
	for _, c := range cols {
		fmt.Fprintf(b, " %s |", metricInfo(c).Label)
		if c == r.Primary {
			dir := "higher is better"
			if !pinfo.Higher {
				dir = "lower is better"
			}
			fmt.Fprintf(b, " ratio to best anchor (%s) |", dir)
		}
	}
	b.WriteString("\n|---|")
	for _, c := range cols {
		b.WriteString("---|")
		if c == r.Primary {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, sys := range r.Systems {
		label := anchor.Kind(sys).Label()
		if errMsg := allFailed(r, sys); errMsg != "" {
			fmt.Fprintf(b, "| %s | %s |%s\n", label, errMsg, strings.Repeat(" |", len(cols)))
			continue
		}
		fmt.Fprintf(b, "| %s |", label)
		for _, c := range cols {
			m := metricInfo(c)
			if s, ok := r.summary(sys, c); ok {
				if s.Min == s.Max {
					fmt.Fprintf(b, " %.*f |", m.Prec, s.Median)
				} else {
					fmt.Fprintf(b, " %.*f (%.*f–%.*f) |", m.Prec, s.Median, m.Prec, s.Min, m.Prec, s.Max)
				}
			} else {
				b.WriteString(" – |")
			}
			if c == r.Primary {
				if med, lo, hi, ok := r.perRepRatio(sys, best, c); ok && hasBest {
					fmt.Fprintf(b, " %s (%s–%s) |", ratio(med), ratio(lo), ratio(hi))
				} else {
					b.WriteString(" – |")
				}
			}
		}
		b.WriteString("\n")
	}
	if hasBest {
		fmt.Fprintf(b, "\nBest anchor: %s.", anchor.Kind(best).Label())
	}
	if slices.Contains(r.Systems, string(anchor.Monami)) && slices.Contains(r.Systems, string(anchor.Wireguard)) {
		var parts []string
		for _, c := range cols {
			if metricInfo(c).NoRatio {
				continue
			}
			if med, lo, hi, ok := r.perRepRatio(string(anchor.Monami), string(anchor.Wireguard), c); ok {
				parts = append(parts, fmt.Sprintf("%s ×%s (%s–%s)", metricInfo(c).Label, ratio(med), ratio(lo), ratio(hi)))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(b, " monami / wireguard-go, per repetition: %s.", strings.Join(parts, ", "))
		}
	}
	b.WriteString("\n")
	var errs []string
	for _, s := range r.Samples {
		if s.Error != "" && s.Error != anchor.ErrNotBuilt.Error() {
			errs = append(errs, fmt.Sprintf("- %s rep %d: %s", s.System, s.Rep, firstLine(s.Error)))
		}
		for _, n := range s.Notes {
			errs = append(errs, fmt.Sprintf("- %s rep %d: note: %s", s.System, s.Rep, n))
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(b, "\nProblems:\n%s\n", strings.Join(errs, "\n"))
	}
	for _, p := range r.Plots {
		fmt.Fprintf(b, "\n![%s](%s)\n", p, p)
	}
	b.WriteString("\n")
}

// ratio formats a ratio with two significant digits for small values.
func ratio(v float64) string {
	if v != 0 && v < 0.1 && v > -0.1 {
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// allFailed returns the error shared by every sample of sys if none
// succeeded ("" otherwise).
func allFailed(r *Result, sys string) string {
	var msg string
	for _, s := range r.Samples {
		if s.System != sys {
			continue
		}
		if s.Error == "" {
			return ""
		}
		msg = firstLine(s.Error)
	}
	if msg == "" {
		return "no samples"
	}
	return msg
}
