//go:build netns

// SPDX-License-Identifier: MIT

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"monami/bench/anchor"
	"monami/bench/topo"
	"monami/cmd/internal/node"
	"monami/testbed"
	"monami/tunnel"
)

// policyFile is the paper's kind of policy: voice needs low delay, bulk
// wants the cheapest path. Neither names a path.
const policyFile = `
[[rule]]
name = "voice"
  [[rule.policy]]
  name = "voice"
  target = "both"
  proto = "udp"
  dst_ports = ["4000"]
  max_delay = "25ms"
  prefer = ["delay"]

[[rule]]
name = "split"
  [[rule.policy]]
  name = "split-up"
  target = "local"
  proto = "udp"
  dst_ports = ["4002"]
  prefer = ["cost"]
  [[rule.policy]]
  name = "split-down"
  target = "peer"
  proto = "udp"
  dst_ports = ["4002"]
  prefer = ["delay"]

[[rule]]
name = "bulk"
  [[rule.policy]]
  name = "bulk"
  target = "both"
  proto = "tcp"
  prefer = ["cost"]
`

// inNS runs fn on a thread in namespace ns; sockets it makes stay there.
func inNS(ns string, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	h, err := netns.GetFromName(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		return err
	}
	defer netns.Set(orig)
	return fn()
}

func nsStatus(t *testing.T, ns, addr string, v any) {
	t.Helper()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		var c net.Conn
		err := inNS(ns, func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, network, a)
			return err
		})
		return c, err
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 2 * time.Second}).Get("http://" + addr + "/status")
	if err != nil {
		t.Fatalf("status of %s: %v", ns, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("status of %s: %v", ns, err)
	}
}

// TestPolicyVoiceAndBulk is the policy issue's acceptance test, on two
// emulated uplinks: wan1 fast and costly, wan2 slow and free. A voice-like
// UDP flow (max delay 25 ms) must use wan1 and a bulk TCP transfer
// ("lowest cost") wan2, in both directions at the home agent; when the
// emulator raises wan1's delay the voice flow must move within 2 s.
func TestPolicyVoiceAndBulk(t *testing.T) {
	spec, err := topo.ParseSpec("policy", []byte(`
[[uplink]]
name = "wan1"
both = "rate=20mbit delay=5ms"
[[uplink]]
name = "wan2"
both = "rate=20mbit delay=40ms"
`))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	prefix := fmt.Sprintf("%sp%d-", topo.RunPrefix(), os.Getpid())
	tp, err := topo.Build(context.Background(), spec, topo.Options{Prefix: prefix, Dir: dir, Linkem: filepath.Join(binDir, "linkem")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	polPath := filepath.Join(dir, "policy.toml")
	if err := os.WriteFile(polPath, []byte(policyFile), 0o600); err != nil {
		t.Fatal(err)
	}
	ctlPath := filepath.Join(dir, "mr.sock")
	env := anchor.Env{Bins: anchor.Bins{MonamiMR: filepath.Join(binDir, "monami-mr"), MonamiHA: filepath.Join(binDir, "monami-ha")}, Dir: dir,
		MRConfig: func(c string) string {
			c = strings.Replace(c, `control_socket = ""`, fmt.Sprintf("control_socket = %q", ctlPath), 1)
			c = strings.Replace(c, "name = \"wan1\"\n", "name = \"wan1\"\ncost = 5.0\nmetered = true\ntags = [\"cellular\"]\n", 1)
			return c + fmt.Sprintf("\n[policy]\nfiles = [%q]\n", polPath)
		}}
	in, err := anchor.Start(context.Background(), anchor.Monami, tp, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Stop)

	mrNS, haNS := tp.NS(topo.MR), tp.NS(topo.HA)
	// The paths must be measured before the policies can be satisfied.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var st node.MobileRouterStatus
		nsStatus(t, mrNS, "127.0.0.1:9400", &st)
		ok := len(st.Tunnel.Paths) == 2
		for _, p := range st.Tunnel.Paths {
			ok = ok && p.Up && p.SRTTMicros > 0
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("paths not up and measured: %+v", st.Tunnel.Paths)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // a resolution with both measured

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Voice: 50 packets/s of 160 bytes to the server's port 4000, echoed;
	// the same to port 4002, whose policy sends it up on the cheap path
	// and its echoes down on the fast one.
	var echoed atomic.Int64
	for _, port := range []string{"4000", "4002"} {
		var srv net.PacketConn
		if err := inNS(tp.NS(topo.Server), func() error {
			var err error
			srv, err = net.ListenPacket("udp4", net.JoinHostPort(topo.Server4, port))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		go testbed.Echo(srv)
		var voice net.Conn
		if err := inNS(tp.NS(topo.LAN), func() error {
			var err error
			voice, err = net.Dial("udp4", net.JoinHostPort(topo.Server4, port))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer voice.Close()
		count := port == "4000"
		go func() {
			buf := make([]byte, 2048)
			for {
				if _, err := voice.Read(buf); err != nil {
					return
				}
				if count {
					echoed.Add(1)
				}
			}
		}()
		go func() {
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			pkt := make([]byte, 160)
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					voice.Write(pkt)
				}
			}
		}()
	}
	// Bulk: a TCP stream to the server's port 5001, as fast as it goes.
	var ln net.Listener
	if err := inNS(tp.NS(topo.Server), func() error {
		var err error
		ln, err = net.Listen("tcp4", net.JoinHostPort(topo.Server4, "5001"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, c)
	}()
	var bulk net.Conn
	if err := inNS(tp.NS(topo.LAN), func() error {
		var err error
		bulk, err = net.Dial("tcp4", net.JoinHostPort(topo.Server4, "5001"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer bulk.Close()
	go func() {
		buf := make([]byte, 64<<10)
		for ctx.Err() == nil {
			if _, err := bulk.Write(buf); err != nil {
				return
			}
		}
	}()

	haPaths := func() map[uint16]tunnel.PathStats {
		var st tunnel.AgentStats
		nsStatus(t, haNS, "127.0.0.1:9401", &st)
		out := map[uint16]tunnel.PathStats{}
		for _, p := range st.Peers[0].Paths {
			out[p.BID] = p
		}
		return out
	}
	time.Sleep(2 * time.Second)
	a := haPaths()
	time.Sleep(3 * time.Second)
	b := haPaths()
	rate := func(bid uint16, rx bool) float64 { // bytes/s over the 3 s
		if rx {
			return float64(b[bid].RxBytes-a[bid].RxBytes) / 3
		}
		return float64(b[bid].TxBytes-a[bid].TxBytes) / 3
	}
	t.Logf("at the HA, bytes/s: BID 1 up %.0f down %.0f; BID 2 up %.0f down %.0f; voice echoes %d",
		rate(1, true), rate(1, false), rate(2, true), rate(2, false), echoed.Load())
	// Voice: 50 × ~200 B/s each way on BID 1; the split flow up on BID 2
	// and down on BID 1 (the HA follows the flow bindings, not the path
	// the flow came up on); bulk: megabits up on BID 2, its
	// acknowledgements down on BID 2.
	if r := rate(1, true); r < 5000 || r > 15_000 {
		t.Errorf("BID 1 carries %.0f B/s up; want the voice flow alone (~10 kB/s)", r)
	}
	if r := rate(1, false); r < 16_000 || r > 100_000 {
		t.Errorf("BID 1 carries %.0f B/s down; want the echoes of voice and of the split flow (~20 kB/s)", r)
	}
	if r := rate(2, true); r < 500_000 {
		t.Errorf("BID 2 carries %.0f B/s up; want the bulk transfer", r)
	}
	if r := rate(2, false); r < 10_000 {
		t.Errorf("BID 2 carries %.0f B/s down; want the bulk transfer's acknowledgements", r)
	}

	// wan1's delay grows past the voice limit, and past wan2's even with the
	// bulk transfer queued on it: voice must leave wan1.
	if err := tp.SetUplink(1, "both", "rate=20mbit delay=150ms"); err != nil {
		t.Fatal(err)
	}
	raised := time.Now()
	var moved time.Duration
	prev := haPaths()
	for moved == 0 {
		time.Sleep(200 * time.Millisecond)
		cur := haPaths()
		if up := cur[1].RxPackets - prev[1].RxPackets - (cur[1].KeepalivesRx - prev[1].KeepalivesRx); up == 0 {
			moved = time.Since(raised)
		}
		prev = cur
		if time.Since(raised) > 10*time.Second {
			t.Fatal("the voice flow stayed on wan1 after its delay went past the limit")
		}
	}
	t.Logf("voice left wan1 %v after its delay was raised", moved)
	if moved > 2*time.Second {
		t.Errorf("voice moved after %v; want within 2 s", moved)
	}
	before := echoed.Load()
	time.Sleep(time.Second)
	if echoed.Load()-before < 30 {
		t.Errorf("voice echoes stopped after the move: %d in 1 s", echoed.Load()-before)
	}
	// The operator's view: the rules as nftables text.
	out, err := tp.Command(topo.MR, filepath.Join(binDir, "monamictl"), "-socket", ctlPath, "rules", "-format", "nft").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "meta mark set") {
		t.Errorf("monamictl rules: %v\n%s", err, out)
	}
}
