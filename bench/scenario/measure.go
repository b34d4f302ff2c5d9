// SPDX-License-Identifier: MIT

package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"monami/bench/anchor"
	"monami/bench/load"
	"monami/bench/topo"
)

// Tools are the harness's own binaries.
type Tools struct {
	Linkem, Loadgen, Wgtun string
}

// Exec is what a scenario's Measure gets: one running system on one
// topology.
type Exec struct {
	Topo  *topo.Topology
	Inst  *anchor.Instance
	Tools Tools
	Dir   string
	Dur   time.Duration // traffic duration (the scenario's default or -dur)
	CC    string        // TCP congestion control of the test traffic (per socket)
}

// ProcCPU returns the user+system CPU seconds consumed so far by pids (all
// threads of each process).
func ProcCPU(pids []int) float64 {
	var ticks float64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || i+2 > len(s) {
			continue
		}
		f := strings.Fields(s[i+2:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		ticks += u + st
	}
	return ticks / 100 // USER_HZ
}

// MachineCPU returns the busy CPU seconds of the whole machine so far.
func MachineCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / 100
}

// cpuMeter measures CPU over an interval: the tunnel daemons, the
// emulators and the whole machine.
type cpuMeter struct {
	daemons, emus []int
	d0, e0, m0    float64
}

func (x *Exec) startCPU() *cpuMeter {
	c := &cpuMeter{daemons: x.Inst.Pids}
	for i := range x.Topo.Spec.Uplinks {
		if p := x.Topo.Emulator(i + 1); p != nil {
			c.emus = append(c.emus, p.Pid)
		}
	}
	c.d0, c.e0, c.m0 = ProcCPU(c.daemons), ProcCPU(c.emus), MachineCPU()
	return c
}

// stop records CPU per GB of bytes into m.
func (c *cpuMeter) stop(m map[string]float64, bytes float64) {
	d, e, mc := ProcCPU(c.daemons)-c.d0, ProcCPU(c.emus)-c.e0, MachineCPU()-c.m0
	gb := bytes / 1e9
	if gb <= 0 {
		return
	}
	if len(c.daemons) > 0 {
		m["daemon_cpu_s_per_gb"] = d / gb
	}
	if len(c.emus) > 0 {
		m["emu_cpu_s_per_gb"] = e / gb
	}
	m["machine_cpu_s_per_gb"] = mc / gb
}

// background starts argv in role and returns a stop function.
func (x *Exec) background(role, name string, argv ...string) (func(), error) {
	lf, err := os.Create(fmt.Sprintf("%s/%s%s.log", x.Dir, x.Topo.Prefix, name))
	if err != nil {
		return nil, err
	}
	cmd := x.Topo.Command(role, argv...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	lf.Close()
	return func() {
		// SIGTERM first: loadgen writes the reports of streams cut short.
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}, nil
}

// output runs argv in role, killing it when ctx ends, and returns stdout.
func (x *Exec) output(ctx context.Context, role string, argv ...string) ([]byte, error) {
	cmd := x.Topo.Command(role, argv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
	defer stop()
	if err := cmd.Wait(); err != nil {
		return out.Bytes(), fmt.Errorf("%s: %w: %s", argv[0], err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// iperfResult is the part of iperf3 -J output the harness reads.
type iperfResult struct {
	Intervals []struct {
		Sum struct {
			Bytes   float64 `json:"bytes"`
			Omitted bool    `json:"omitted"`
		} `json:"sum"`
	} `json:"intervals"`
	End struct {
		SumSent struct {
			Bytes       float64 `json:"bytes"`
			BPS         float64 `json:"bits_per_second"`
			Retransmits float64 `json:"retransmits"`
		} `json:"sum_sent"`
		SumReceived struct {
			Bytes float64 `json:"bytes"`
			BPS   float64 `json:"bits_per_second"`
		} `json:"sum_received"`
	} `json:"end"`
	Error string `json:"error"`
}

// iperfTCP runs iperf3 (TCP, streams parallel, dur + 1 s omitted) from the
// client to the server namespace and fills m: goodput_mbps (receiver,
// after the omitted second), retransmits, and CPU per GB of everything
// sent during the run.
func (x *Exec) iperfTCP(ctx context.Context, m map[string]float64, streams int) error {
	stop, err := x.background(x.Inst.ServerRole, "iperf3-server", "iperf3", "-s", "-1", "-B", x.Inst.ServerAddr, "-p", "5201")
	if err != nil {
		return err
	}
	defer stop()
	var res iperfResult
	var cpu *cpuMeter
	for attempt := 0; ; attempt++ {
		time.Sleep(200 * time.Millisecond) // the server binds
		cpu = x.startCPU()
		out, err := x.output(ctx, x.Inst.ClientRole, "iperf3", "-c", x.Inst.ServerAddr, "-p", "5201", "-C", x.CC,
			"-t", strconv.Itoa(int(x.Dur.Seconds())), "-O", "1", "-P", strconv.Itoa(streams), "-J")
		res = iperfResult{}
		jerr := json.Unmarshal(out, &res)
		if err == nil && jerr == nil && res.Error == "" {
			break
		}
		if ctx.Err() != nil || attempt == 4 || !strings.Contains(res.Error+fmt.Sprint(err), "refused") {
			if res.Error != "" {
				return fmt.Errorf("iperf3: %s", res.Error)
			}
			if err == nil {
				err = jerr
			}
			return fmt.Errorf("iperf3: %w", err)
		}
	}
	var total float64
	for _, iv := range res.Intervals {
		total += iv.Sum.Bytes
	}
	cpu.stop(m, total)
	m["goodput_mbps"] = res.End.SumReceived.BPS / 1e6
	m["retransmits"] = res.End.SumSent.Retransmits
	return nil
}

// pathSampler polls every emulated uplink's counters every interval and
// keeps the bytes sent per interval per direction.
type pathSampler struct {
	interval time.Duration
	mu       sync.Mutex
	up, down [][]float64 // per uplink: bytes per interval
	last     [][2]uint64
	stop     chan struct{}
	wg       sync.WaitGroup
}

func (x *Exec) samplePaths(interval time.Duration) *pathSampler {
	n := len(x.Topo.Spec.Uplinks)
	s := &pathSampler{interval: interval, up: make([][]float64, n), down: make([][]float64, n), last: make([][2]uint64, n), stop: make(chan struct{})}
	read := func(first bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, u := range x.Topo.Spec.Uplinks {
			if !u.Emulated() {
				continue
			}
			st, err := x.Topo.UplinkStats(i + 1)
			if err != nil {
				continue
			}
			cur := [2]uint64{st.AtoB.TxBytes, st.BtoA.TxBytes}
			if !first {
				s.up[i] = append(s.up[i], float64(cur[0]-s.last[i][0]))
				s.down[i] = append(s.down[i], float64(cur[1]-s.last[i][1]))
			}
			s.last[i] = cur
		}
	}
	read(true)
	s.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				read(false)
			}
		}
	})
	return s
}

func (s *pathSampler) finish() {
	close(s.stop)
	s.wg.Wait()
}

// busiest returns the uplink (1-based) that sent the most bytes up over
// the last d, or 1.
func (s *pathSampler) busiest(d time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := max(int(d/s.interval), 1)
	best, bi := -1.0, 0
	for i, series := range s.up {
		var sum float64
		for j := max(len(series)-k, 0); j < len(series); j++ {
			sum += series[j]
		}
		if sum > best {
			best, bi = sum, i
		}
	}
	return bi + 1
}

// mbps converts per-interval byte counts into Mbit/s.
func (s *pathSampler) mbps(series []float64) []float64 {
	out := make([]float64, len(series))
	for i, b := range series {
		out[i] = b * 8 / s.interval.Seconds() / 1e6
	}
	return out
}

// record stores per-path series (Mbit/s, up direction) and mean rates over
// [from, to) into the sample.
func (s *pathSampler) record(smp *Sample, names []string, from, to time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, series := range s.up {
		if len(series) == 0 {
			continue
		}
		r := s.mbps(series)
		smp.addSeries(names[i], s.interval, r)
		a, z := int(from/s.interval), min(int(to/s.interval), len(r))
		if z > a {
			var sum float64
			for _, v := range r[a:z] {
				sum += v
			}
			smp.Metrics[names[i]+"_mbps"] = sum / float64(z-a)
		}
	}
}

// loadTCP runs bench/cmd/loadgen tcp from the client to a loadgen server in
// the server namespace. at, if set, is called at the given offsets from
// the start of sending (for scripted events) in its own goroutine.
//
// The timeline comes from the server's reports file, which also covers
// streams whose connection never recovered (the client gives up on them
// reportWait after sending; they count as not byte-exact). The result's
// error is set only when nothing was measured.
func (x *Exec) loadTCP(ctx context.Context, streams int, omit, reportWait time.Duration, at map[time.Duration]func()) (load.TCPResult, error) {
	var r load.TCPResult
	reports := filepath.Join(x.Dir, x.Topo.Prefix+"loadgen-reports.jsonl")
	serve := []string{x.Tools.Loadgen, "serve", "-listen", x.Inst.ServerAddr + ":5300", "-reports", reports, "-cc", x.CC}
	cli := []string{x.Tools.Loadgen, "tcp", "-to", x.Inst.ServerAddr + ":5300", "-streams", strconv.Itoa(streams), "-cc", x.CC,
		"-duration", x.Dur.String(), "-omit", omit.String(), "-report-wait", reportWait.String()}
	if x.Inst.MPTCP {
		serve = append(serve, "-mptcp")
		cli = append(cli, "-mptcp")
	}
	stop, err := x.background(x.Inst.ServerRole, "loadgen-server", serve...)
	if err != nil {
		return r, err
	}
	defer stop()
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for off, fn := range at {
		wg.Go(func() {
			select {
			case <-ectx.Done():
			case <-time.After(off):
				fn()
			}
		})
	}
	out, cerr := x.output(ctx, x.Inst.ClientRole, cli...)
	cancel()
	wg.Wait()
	stop() // flushes the reports of streams still open
	if err := json.Unmarshal(out, &r); err != nil || r.StartUnix == 0 {
		return r, errors.Join(cerr, fmt.Errorf("loadgen: no result"))
	}
	b, err := os.ReadFile(reports)
	if err != nil {
		return r, errors.Join(cerr, err)
	}
	var reps []load.Report
	for l := range strings.Lines(string(b)) {
		var rep load.Report
		if json.Unmarshal([]byte(l), &rep) == nil {
			reps = append(reps, rep)
		}
	}
	if len(reps) == 0 {
		return r, errors.Join(cerr, fmt.Errorf("loadgen: the server reported no stream"))
	}
	r.Summarize(reps, time.Duration(r.BucketMS*float64(time.Millisecond)), omit, x.Dur)
	if cerr != nil {
		r.HashOK = false
	}
	return r, nil
}

// voice runs bench/cmd/loadgen voice against a loadgen server (which must
// be running) in the server namespace.
func (x *Exec) voice(ctx context.Context, pps, size int, dur time.Duration) (load.VoiceResult, error) {
	var r load.VoiceResult
	out, err := x.output(ctx, x.Inst.ClientRole, x.Tools.Loadgen, "voice", "-to", x.Inst.ServerAddr+":5300",
		"-pps", strconv.Itoa(pps), "-size", strconv.Itoa(size), "-duration", dur.String())
	if err != nil {
		return r, err
	}
	err = json.Unmarshal(out, &r)
	return r, err
}
