// SPDX-License-Identifier: MIT

// Command monami-demo shows monami at work: it builds network namespaces for
// a LAN host, a mobile router with two rate-limited uplinks (one over IPv4,
// one over IPv6), a home agent and a server; starts monami-mr and monami-ha
// with generated keys and configs; pings the server over IPv4 and IPv6;
// runs TCP traffic from the LAN host to the server; and prints the bytes on
// each path every second. Ctrl-C (or -duration) stops it and deletes
// everything it created. It needs root. `make demo` builds and runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"monami/cmd/internal/node"
	"monami/testbed"
)

func main() {
	bin := flag.String("bin", "", "directory holding monami-mr and monami-ha (default: this program's directory)")
	dur := flag.Duration("duration", 0, "stop after this long (default: run until Ctrl-C)")
	rate1 := flag.Int("rate1", 200, "rate limit of uplink 1 (IPv4), Mbit/s")
	rate2 := flag.Int("rate2", 50, "rate limit of uplink 2 (IPv6), Mbit/s")
	flows := flag.Int("flows", 8, "parallel TCP flows from the LAN host to the server (half IPv4, half IPv6)")
	flag.Parse()
	if err := run(*bin, *dur, *rate1, *rate2, *flows); err != nil {
		fmt.Fprintln(os.Stderr, "monami-demo:", err)
		os.Exit(1)
	}
}

func run(bin string, dur time.Duration, rate1, rate2, flows int) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the demo creates network namespaces and TUN devices, so it needs root: run it as root (sudo make demo)")
	}
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		bin = filepath.Dir(exe)
	}
	for _, b := range []string{"monami-mr", "monami-ha"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return fmt.Errorf("%s not found in %s: run `make build` first", b, bin)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, dur)
		defer cancel()
	}

	fmt.Printf("building namespaces: LAN host, mobile router (uplinks wan1 %d Mbit/s IPv4, wan2 %d Mbit/s IPv6), home agent, server\n", rate1, rate2)
	topo, err := testbed.Build("mdemo-", testbed.Options{Uplinks: [2]testbed.Uplink{{RateMbit: rate1}, {RateMbit: rate2}}})
	if err != nil {
		return err
	}
	defer func() {
		topo.Close()
		fmt.Println("namespaces deleted")
	}()
	dir, err := os.MkdirTemp("", "monami-demo-")
	if err != nil {
		return err
	}
	cfgs, err := testbed.NewConfigs("")
	if err != nil {
		return err
	}
	ha, err := topo.Start(testbed.HA, filepath.Join(bin, "monami-ha"), cfgs.HA, dir, testbed.HADebug)
	if err != nil {
		return err
	}
	defer ha.Stop()
	mr, err := topo.Start(testbed.MR, filepath.Join(bin, "monami-mr"), cfgs.MR, dir, testbed.MRDebug)
	if err != nil {
		return err
	}
	defer mr.Stop()
	fmt.Printf("daemons started; configs and logs in %s\n", dir)

	if err := waitUp(ctx, topo, mr); err != nil {
		return fmt.Errorf("%w (see %s and %s)", err, mr.Log, ha.Log)
	}
	for _, a := range []string{testbed.ServerAddr4, testbed.ServerAddr6} {
		out, err := topo.Ping(testbed.LAN, a, 3)
		fmt.Printf("ping %s from the LAN host: %s\n", a, summary(out, err))
	}

	var received atomic.Int64
	var wg sync.WaitGroup
	tctx, tcancel := context.WithCancel(ctx)
	defer func() { tcancel(); wg.Wait() }()
	for _, a := range []string{net.JoinHostPort(testbed.ServerAddr4, "5001"), net.JoinHostPort(testbed.ServerAddr6, "5001")} {
		l, err := topo.Listen(testbed.Server, "tcp", a)
		if err != nil {
			return err
		}
		defer l.Close()
		wg.Go(func() { testbed.Sink(l, &received) })
	}
	for i := range flows {
		addr := net.JoinHostPort(testbed.ServerAddr4, "5001")
		if i%2 == 1 {
			addr = net.JoinHostPort(testbed.ServerAddr6, "5001")
		}
		wg.Go(func() { topo.Blast(tctx, testbed.LAN, "tcp", addr, uint64(i)) })
	}
	fmt.Printf("%d TCP flows from the LAN host to the server; Ctrl-C stops\n\n", flows)
	watch(ctx, topo, &received)
	return nil
}

func summary(out string, err error) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "packet loss") {
			return strings.TrimSpace(l)
		}
	}
	if err != nil {
		return err.Error()
	}
	return "no summary"
}

// waitUp waits until the signaling session is up and every path confirmed.
func waitUp(ctx context.Context, topo *testbed.Topology, mr *testbed.Daemon) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if done, err := mr.Exited(); done {
			return fmt.Errorf("monami-mr exited: %v", err)
		}
		var st node.MobileRouterStatus
		if topo.Status(testbed.MR, testbed.MRDebug, &st) == nil && st.Signaling.Connected && allUp(st) {
			fmt.Printf("signaling session up over %s; %d paths confirmed\n", st.Signaling.Uplink, len(st.Tunnel.Paths))
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("the mobile router did not bring up its session and paths within 15s")
}

func allUp(st node.MobileRouterStatus) bool {
	if len(st.Tunnel.Paths) == 0 {
		return false
	}
	for _, p := range st.Tunnel.Paths {
		if !p.Up {
			return false
		}
	}
	return true
}

// watch prints the per-path table every second until ctx is done.
func watch(ctx context.Context, topo *testbed.Topology, received *atomic.Int64) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	prev := map[uint16][2]uint64{}
	prevRx, last := int64(0), time.Now()
	for {
		select {
		case <-ctx.Done():
			fmt.Println()
			return
		case <-t.C:
		}
		var st node.MobileRouterStatus
		if err := topo.Status(testbed.MR, testbed.MRDebug, &st); err != nil {
			fmt.Println("status:", err)
			continue
		}
		now := time.Now()
		dt := now.Sub(last).Seconds()
		last = now
		var b strings.Builder
		fmt.Fprintf(&b, "%s  signaling over %s, sessions %d\n", now.Format("15:04:05"), st.Signaling.Uplink, st.Signaling.Sessions)
		fmt.Fprintf(&b, "  %-4s %-6s %-20s %-5s %9s %12s %12s %12s %12s\n", "BID", "uplink", "home agent", "state", "RTT ms", "up Mbit/s", "down Mbit/s", "up total", "down total")
		for _, p := range st.Tunnel.Paths {
			pv := prev[p.BID]
			state := "down"
			if p.Up {
				state = "up"
			}
			fmt.Fprintf(&b, "  %-4d %-6s %-20s %-5s %9.2f %12.1f %12.1f %12s %12s\n", p.BID, p.Name, p.Endpoint, state, float64(p.SRTTMicros)/1e3,
				mbit(p.TxBytes-pv[0], dt), mbit(p.RxBytes-pv[1], dt), size(p.TxBytes), size(p.RxBytes))
			prev[p.BID] = [2]uint64{p.TxBytes, p.RxBytes}
		}
		rx := received.Load()
		fmt.Fprintf(&b, "  server goodput %.1f Mbit/s, %s received", mbit(uint64(rx-prevRx), dt), size(uint64(rx)))
		prevRx = rx
		var drops []string
		for k, v := range st.Tunnel.Drops {
			if v > 0 {
				drops = append(drops, fmt.Sprintf("%s=%d", k, v))
			}
		}
		if len(drops) > 0 {
			fmt.Fprintf(&b, "; drops: %s", strings.Join(drops, " "))
		}
		fmt.Println(b.String())
	}
}

func mbit(bytes uint64, dt float64) float64 { return float64(bytes) * 8 / dt / 1e6 }

func size(b uint64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}
