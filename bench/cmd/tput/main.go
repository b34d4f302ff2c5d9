// SPDX-License-Identifier: MIT

// Command tput measures single-uplink TCP throughput through monami, side by
// side with wireguard-go and with no tunnel at all, on the same namespace
// topology (package testbed, uplink wan1 only, no rate limit), interleaved
// within one run so that the machine's background load hits all three
// alike. For each system it reports goodput (median and spread over the
// repetitions), the ratio to wireguard-go, the CPU seconds per GB of the
// tunnel daemons (both ends) and of the whole machine.
//
//	go run ./bench/cmd/tput [-reps 3] [-dur 5s] [-bin bin] [-cipher aes-256-gcm]
//
// It needs root, builds its own namespaces (prefix mtp-) and deletes them.
// `tput wgnode …` is the wireguard-go node it starts inside a namespace.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/curve25519"

	"monami/testbed"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "wgnode" {
		if err := wgNode(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "wgnode:", err)
			os.Exit(1)
		}
		return
	}
	reps := flag.Int("reps", 3, "repetitions of each system")
	dur := flag.Duration("dur", 5*time.Second, "length of each transfer")
	bin := flag.String("bin", "bin", "directory holding monami-mr and monami-ha")
	cipher := flag.String("cipher", "aes-256-gcm", "monami's cipher")
	out := flag.String("out", "bench/results", "directory for the report")
	flag.Parse()
	if err := run(*reps, *dur, *bin, *cipher, *out); err != nil {
		fmt.Fprintln(os.Stderr, "tput:", err)
		os.Exit(1)
	}
}

// sample is one transfer's result.
type sample struct {
	System     string  `json:"system"`
	Rep        int     `json:"rep"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
	Mbps       float64 `json:"mbit_per_s"`
	DaemonCPU  float64 `json:"daemon_cpu_s"` // tunnel processes, both ends
	MachineCPU float64 `json:"machine_cpu_s"`
}

var systems = []string{"no tunnel", "wireguard-go", "monami"}

func run(reps int, dur time.Duration, bin, cipher, out string) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces)")
	}
	bin, _ = filepath.Abs(bin)
	for _, b := range []string{"monami-mr", "monami-ha"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return fmt.Errorf("%s not found in %s: run make build", b, bin)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var all []sample
	for rep := 1; rep <= reps; rep++ {
		for _, sys := range systems {
			fmt.Printf("[%d/%d] %-12s ", rep, reps, sys)
			s, err := measure(sys, rep, dur, bin, self, cipher)
			if err != nil {
				return fmt.Errorf("%s: %w", sys, err)
			}
			fmt.Printf("%8.0f Mbit/s  daemons %.2f CPU-s  machine %.2f CPU-s\n", s.Mbps, s.DaemonCPU, s.MachineCPU)
			all = append(all, s)
		}
	}
	report := render(all, reps, dur, cipher)
	fmt.Print("\n" + report)
	dir := filepath.Join(out, "tput-"+time.Now().UTC().Format("20060102T150405Z"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	raw, _ := json.MarshalIndent(all, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "results.json"), raw, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(report), 0o644); err != nil {
		return err
	}
	fmt.Println("written to", dir)
	return nil
}

// measure builds a fresh topology, sets up sys, and runs one transfer.
func measure(sys string, rep int, dur time.Duration, bin, self, cipher string) (sample, error) {
	topo, err := testbed.Build("mtp-", testbed.Options{})
	if err != nil {
		return sample{}, err
	}
	defer topo.Close()
	dir, err := os.MkdirTemp("", "monami-tput-")
	if err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(dir)
	var pids []int
	var stops []func()
	defer func() {
		for _, s := range stops {
			s()
		}
	}()
	switch sys {
	case "no tunnel":
		for _, c := range [][]string{
			{"ip", "-n", topo.Namespace(testbed.MR), "route", "add", "198.18.20.0/24", "via", "198.18.1.1", "dev", "wan1"},
			{"ip", "-n", topo.Namespace(testbed.HA), "route", "add", "198.18.10.0/24", "via", "198.18.1.2", "dev", "wan1"},
		} {
			if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
				return sample{}, fmt.Errorf("%v: %s", err, out)
			}
		}
	case "wireguard-go":
		mrPriv, mrPub := wgKey()
		haPriv, haPub := wgKey()
		for _, n := range []struct{ role, args string }{
			{testbed.HA, fmt.Sprintf("-key %s -peer %s -listen 51820 -tun wgh -route 198.18.10.0/24", haPriv, mrPub)},
			{testbed.MR, fmt.Sprintf("-key %s -peer %s -listen 51821 -endpoint 198.18.1.1:51820 -tun wgm -route 198.18.20.0/24", mrPriv, haPub)},
		} {
			cmd := topo.Command(n.role, append([]string{self, "wgnode"}, strings.Fields(n.args)...)...)
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				return sample{}, err
			}
			pids = append(pids, cmd.Process.Pid)
			stops = append(stops, func() { cmd.Process.Kill(); cmd.Wait() })
		}
		time.Sleep(500 * time.Millisecond) // devices up and routed
	case "monami":
		cfgs, err := testbed.NewConfigs(cipher)
		if err != nil {
			return sample{}, err
		}
		mrCfg := cfgs.MR[:strings.Index(cfgs.MR, "[[uplink]]\nname = \"wan2\"")]
		ha, err := topo.Start(testbed.HA, filepath.Join(bin, "monami-ha"), cfgs.HA, dir, testbed.HADebug)
		if err != nil {
			return sample{}, err
		}
		stops = append(stops, func() { ha.Stop() })
		mr, err := topo.Start(testbed.MR, filepath.Join(bin, "monami-mr"), mrCfg, dir, testbed.MRDebug)
		if err != nil {
			return sample{}, err
		}
		stops = append(stops, func() { mr.Stop() })
		pids = append(pids, ha.Pid(), mr.Pid())
		deadline := time.Now().Add(15 * time.Second)
		for {
			var st struct {
				Tunnel struct{ Paths []struct{ Up bool } }
			}
			if topo.Status(testbed.MR, testbed.MRDebug, &st) == nil && len(st.Tunnel.Paths) == 1 && st.Tunnel.Paths[0].Up {
				break
			}
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(mr.Log)
				return sample{}, fmt.Errorf("monami path not up:\n%s", b)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return transfer(topo, sys, rep, dur, pids)
}

// transfer runs one TCP stream from the LAN host to the server for dur.
func transfer(topo *testbed.Topology, sys string, rep int, dur time.Duration, pids []int) (sample, error) {
	l, err := topo.Listen(testbed.Server, "tcp", net.JoinHostPort(testbed.ServerAddr4, "5201"))
	if err != nil {
		return sample{}, err
	}
	defer l.Close()
	var got atomic.Int64
	go testbed.Sink(l, &got)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := topo.Dial(ctx, testbed.LAN, "tcp", net.JoinHostPort(testbed.ServerAddr4, "5201"))
	if err != nil {
		return sample{}, err
	}
	defer c.Close()
	buf := make([]byte, 256<<10)
	testbed.NewPattern(1).Read(buf)
	// Warm up for a second (slow start, offload negotiation), then measure.
	warm := time.Now().Add(time.Second)
	for time.Now().Before(warm) {
		if _, err := c.Write(buf); err != nil {
			return sample{}, err
		}
	}
	d0, m0 := procCPU(pids), machineCPU()
	b0, t0 := got.Load(), time.Now()
	end := t0.Add(dur)
	for time.Now().Before(end) {
		if _, err := c.Write(buf); err != nil {
			return sample{}, err
		}
	}
	b1, t1 := got.Load(), time.Now()
	d1, m1 := procCPU(pids), machineCPU()
	secs := t1.Sub(t0).Seconds()
	return sample{System: sys, Rep: rep, Bytes: b1 - b0, Seconds: secs, Mbps: float64(b1-b0) * 8 / secs / 1e6,
		DaemonCPU: d1 - d0, MachineCPU: m1 - m0}, nil
}

// procCPU returns the user+system CPU seconds of pids and their threads.
func procCPU(pids []int) float64 {
	var ticks float64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		u, _ := strconv.ParseFloat(f[11], 64)
		s, _ := strconv.ParseFloat(f[12], 64)
		ticks += u + s
	}
	return ticks / 100 // USER_HZ
}

// machineCPU returns the busy CPU seconds of the whole machine.
func machineCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
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

func wgKey() (priv, pub string) {
	var k [32]byte
	rand.Read(k[:])
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
	p, _ := curve25519.X25519(k[:], curve25519.Basepoint)
	return hex.EncodeToString(k[:]), hex.EncodeToString(p)
}

func render(all []sample, reps int, dur time.Duration, cipher string) string {
	med := func(sys string, f func(sample) float64) (m, lo, hi float64) {
		var v []float64
		for _, s := range all {
			if s.System == sys {
				v = append(v, f(s))
			}
		}
		slices.Sort(v)
		return v[len(v)/2], v[0], v[len(v)-1]
	}
	wg, _, _ := med("wireguard-go", func(s sample) float64 { return s.Mbps })
	var b strings.Builder
	fmt.Fprintf(&b, "### Single uplink, 1 TCP stream (%d × %s each, interleaved; monami %s)\n\n", reps, dur, cipher)
	b.WriteString("| system | goodput Mbit/s, median (min–max) | ratio to wireguard-go | tunnel daemons CPU s/GB | whole machine CPU s/GB |\n|---|---|---|---|---|\n")
	for _, sys := range systems {
		m, lo, hi := med(sys, func(s sample) float64 { return s.Mbps })
		dc, _, _ := med(sys, func(s sample) float64 { return s.DaemonCPU / (float64(s.Bytes) / 1e9) })
		mc, _, _ := med(sys, func(s sample) float64 { return s.MachineCPU / (float64(s.Bytes) / 1e9) })
		dcs := fmt.Sprintf("%.2f", dc)
		if sys == "no tunnel" {
			dcs = "–"
		}
		fmt.Fprintf(&b, "| %s | %.0f (%.0f–%.0f) | %.2f | %s | %.2f |\n", sys, m, lo, hi, m/wg, dcs, mc)
	}
	return b.String()
}
