//go:build netns

// SPDX-License-Identifier: MIT

package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"monami/cmd/internal/node"
	"monami/testbed"
	"monami/tunnel"
)

var binDir string

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Println("e2e: not root; namespace tests skipped")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "monami-e2e-bin-")
	if err != nil {
		panic(err)
	}
	out, err := exec.Command("go", "build", "-o", dir+"/", "monami/cmd/monami-mr", "monami/cmd/monami-ha", "monami/cmd/monamictl", "monami/bench/cmd/linkem").CombinedOutput()
	if err != nil {
		fmt.Printf("e2e: build: %v\n%s", err, out)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one running topology with both daemons.
type env struct {
	topo   *testbed.Topology
	mr, ha *testbed.Daemon
	dir    string
}

func setup(t *testing.T, opts testbed.Options) *env {
	t.Helper()
	return setupWith(t, opts, nil)
}

// setupWith is setup with the router's configuration rewritten by mrConfig.
func setupWith(t *testing.T, opts testbed.Options, mrConfig func(string) string) *env {
	t.Helper()
	topo, err := testbed.Build(fmt.Sprintf("mnt%d-", os.Getpid()), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := topo.Close(); err != nil {
			t.Errorf("delete namespaces: %v", err)
		}
	})
	return startOn(t, topo, mrConfig)
}

func osPid() int { return os.Getpid() }

// startOn starts both daemons on a built topology (which the caller
// closes) and waits for the session and the first two paths.
func startOn(t *testing.T, topo *testbed.Topology, mrConfig func(string) string) *env {
	t.Helper()
	cfgs, err := testbed.NewConfigs("")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{topo: topo, dir: t.TempDir()}
	e.ha, err = topo.Start(testbed.HA, filepath.Join(binDir, "monami-ha"), cfgs.HA, e.dir, testbed.HADebug, "-log-level", "debug")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.ha.Stop() })
	if mrConfig != nil {
		cfgs.MR = mrConfig(cfgs.MR)
	}
	e.mr, err = topo.Start(testbed.MR, filepath.Join(binDir, "monami-mr"), cfgs.MR, e.dir, testbed.MRDebug)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.mr.Stop()
		if t.Failed() {
			for _, d := range []*testbed.Daemon{e.mr, e.ha} {
				b, _ := os.ReadFile(d.Log)
				t.Logf("--- %s log ---\n%s", d.Role, b)
			}
		}
	})
	e.waitUp(t)
	return e
}

func (e *env) mrStatus(t *testing.T) node.MobileRouterStatus {
	t.Helper()
	var st node.MobileRouterStatus
	if err := e.topo.Status(testbed.MR, testbed.MRDebug, &st); err != nil {
		t.Fatalf("mr status: %v", err)
	}
	return st
}

func (e *env) haStatus(t *testing.T) tunnel.AgentStats {
	t.Helper()
	var st tunnel.AgentStats
	if err := e.topo.Status(testbed.HA, testbed.HADebug, &st); err != nil {
		t.Fatalf("ha status: %v", err)
	}
	return st
}

func (e *env) waitUp(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var st node.MobileRouterStatus
		if e.topo.Status(testbed.MR, testbed.MRDebug, &st) == nil && st.Signaling.Connected && len(st.Tunnel.Paths) >= 2 {
			up := true
			for _, p := range st.Tunnel.Paths {
				up = up && p.Up
			}
			if up {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("session and paths not up within 15s")
}

// transfer sends n bytes over TCP from the LAN host to the server at addr
// and checks they arrive byte-exact.
func (e *env) transfer(t *testing.T, addr string, seed uint64, n int64) {
	l, err := e.topo.Listen(testbed.Server, "tcp", addr)
	if err != nil {
		t.Error(err)
		return
	}
	defer l.Close()
	type res struct {
		n   int64
		sum [32]byte
		err error
	}
	got := make(chan res, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- res{err: err}
			return
		}
		defer c.Close()
		n, sum, err := testbed.ReceiveHashed(c)
		got <- res{n, sum, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := e.topo.Dial(ctx, testbed.LAN, "tcp", addr)
	if err != nil {
		t.Errorf("dial %s: %v", addr, err)
		return
	}
	defer c.Close()
	sum, err := testbed.SendHashed(c, seed, n)
	if err != nil {
		t.Errorf("%s: %v", addr, err)
		return
	}
	r := <-got
	if r.err != nil || r.n != n || r.sum != sum {
		t.Errorf("%s: server got %d bytes (err %v), hash match %v; sent %d", addr, r.n, r.err, r.sum == sum, n)
	}
}

// TestTrafficOverTwoUplinks is the foundation's acceptance test: ping over
// IPv4 and IPv6, a 100 MiB TCP transfer and a UDP stream byte-exact, and
// both uplinks carrying flows.
func TestTrafficOverTwoUplinks(t *testing.T) {
	e := setup(t, testbed.Options{})

	for _, a := range []string{testbed.ServerAddr4, testbed.ServerAddr6} {
		if out, err := e.topo.Ping(testbed.LAN, a, 3); err != nil {
			t.Fatalf("ping %s: %v\n%s", a, err, out)
		}
	}

	var wg sync.WaitGroup
	wg.Go(func() { e.transfer(t, net.JoinHostPort(testbed.ServerAddr4, "5001"), 1, 100<<20) })
	for i := range 16 {
		a := testbed.ServerAddr4
		if i%2 == 1 {
			a = testbed.ServerAddr6
		}
		wg.Go(func() { e.transfer(t, net.JoinHostPort(a, fmt.Sprint(6000+i)), uint64(100+i), 2<<20) })
	}
	wg.Wait()

	for _, a := range []string{testbed.ServerAddr4, testbed.ServerAddr6} {
		e.udpStream(t, a)
	}

	// Both uplinks carry flows, and each flow's return traffic (here its
	// ACKs) comes back over the path it went up on.
	st := e.mrStatus(t)
	for _, p := range st.Tunnel.Paths {
		if p.TxBytes < 1<<20 || p.RxPackets < 100 {
			t.Errorf("path %d (%s) carried %d bytes up and %d packets down; both uplinks must carry flows", p.BID, p.Name, p.TxBytes, p.RxPackets)
		}
	}
	// Duplicates are allowed as far as the other side sent hedged copies:
	// on a loaded machine a late probe reply can make a path look silent
	// for a moment, and its packets then also go on the other path.
	ha := e.haStatus(t)
	var mrHedged, haHedged uint64
	for _, p := range st.Tunnel.Paths {
		mrHedged += p.Hedged
	}
	for _, p := range ha.Peers[0].Paths {
		haHedged += p.Hedged
	}
	for reason, n := range st.Tunnel.Drops {
		if n > 0 && reason != "no_session" && reason != "link_local" && (reason != "duplicate" || n > haHedged) { // kernel chatter before the session / on the TUN link
			t.Errorf("mobile router dropped %d packets (%s)", n, reason)
		}
	}
	for reason, n := range ha.Drops {
		if n > 0 && reason != "link_local" && (reason != "duplicate" || n > mrHedged) {
			t.Errorf("home agent dropped %d packets (%s)", n, reason)
		}
	}
	t.Logf("paths: %+v", st.Tunnel.Paths)
	t.Logf("mr drops: %v", st.Tunnel.Drops)
	t.Logf("ha: %+v", ha)
}

// udpStream sends 5000 sequence-numbered datagrams at a paced rate and
// checks that every one arrived, byte-exact (each datagram's content is a
// function of its sequence number). Order is not checked: a datagram flow
// may legitimately be reordered when its path changes.
func (e *env) udpStream(t *testing.T, host string) {
	addr := net.JoinHostPort(host, "7001")
	srv, err := e.topo.ListenPacket(testbed.Server, "udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.(*net.UDPConn).SetReadBuffer(4 << 20)
	const count, size = 5000, 1200
	fill := func(msg []byte, i int) {
		binary.BigEndian.PutUint32(msg, uint32(i))
		for k := 4; k < size; k++ {
			msg[k] = byte(i + k)
		}
	}
	type result struct{ ok, bad int }
	done := make(chan result, 1)
	go func() {
		seen := make([]bool, count)
		var r result
		buf := make([]byte, 2048)
		want := make([]byte, size)
		for r.ok < count {
			srv.SetReadDeadline(time.Now().Add(3 * time.Second))
			n, _, err := srv.ReadFrom(buf)
			if err != nil {
				break
			}
			i := int(binary.BigEndian.Uint32(buf))
			if n != size || i >= count {
				r.bad++
				continue
			}
			fill(want, i)
			if !bytes.Equal(buf[:n], want) || seen[i] {
				r.bad++
				continue
			}
			seen[i] = true
			r.ok++
		}
		done <- r
	}()
	c, err := e.topo.Dial(context.Background(), testbed.LAN, "udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, size)
	for i := range count {
		fill(msg, i)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if i%20 == 19 {
			time.Sleep(2 * time.Millisecond) // ~10k datagrams/s at most
		}
	}
	if r := <-done; r.ok != count || r.bad != 0 {
		t.Errorf("UDP stream to %s: %d of %d datagrams arrived intact, %d corrupt or duplicated", addr, r.ok, count, r.bad)
	}
}

// TestForgedPacketsDropped sends garbage, truncated and forged frames to the
// home agent's data port from the mobile router's namespace: each is dropped
// and counted, and nothing is ever answered.
func TestForgedPacketsDropped(t *testing.T) {
	e := setup(t, testbed.Options{})
	before := e.haStatus(t).Drops
	pc, err := e.topo.ListenPacket(testbed.MR, "udp4", "198.18.1.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	dst := &net.UDPAddr{IP: net.ParseIP(testbed.HAAddr4), Port: 4434}
	probes := [][]byte{
		{1},                         // truncated
		make([]byte, 15),            // shorter than a header
		bytes.Repeat([]byte{9}, 64), // unknown type
		append([]byte{1, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 1}, make([]byte, 100)...), // unknown receiver
	}
	for _, p := range probes {
		if _, err := pc.WriteTo(p, dst); err != nil {
			t.Fatal(err)
		}
	}
	pc.SetReadDeadline(time.Now().Add(time.Second))
	if n, from, err := pc.ReadFrom(make([]byte, 2048)); err == nil {
		t.Errorf("home agent answered a forged packet: %d bytes from %v", n, from)
	}
	after := e.haStatus(t).Drops
	if d := after["bad_frame"] - before["bad_frame"]; d != 3 {
		t.Errorf("bad_frame drops rose by %d, want 3", d)
	}
	if d := after["unknown_receiver"] - before["unknown_receiver"]; d != 1 {
		t.Errorf("unknown_receiver drops rose by %d, want 1", d)
	}
}

// TestHomeAgentRestartMidTransfer kills the home agent (no goodbye) in the
// middle of a TCP transfer and starts it again: the mobile router must
// notice, re-register, and the transfer must complete byte-exact.
func TestHomeAgentRestartMidTransfer(t *testing.T) {
	e := setup(t, testbed.Options{Uplinks: [2]testbed.Uplink{{RateMbit: 200}, {RateMbit: 200}}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.transfer(t, net.JoinHostPort(testbed.ServerAddr4, "5002"), 7, 64<<20)
	}()
	time.Sleep(700 * time.Millisecond)
	e.ha.Kill()
	time.Sleep(time.Second)
	cfg, err := os.ReadFile(filepath.Join(e.dir, "ha.toml"))
	if err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	e.ha, err = e.topo.Start(testbed.HA, filepath.Join(binDir, "monami-ha"), string(cfg), e.dir, testbed.HADebug)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("transfer did not complete after the home agent restarted")
	}
	st := e.mrStatus(t)
	if st.Signaling.Sessions < 2 {
		t.Errorf("mobile router saw %d sessions; want a new one after the restart", st.Signaling.Sessions)
	}
	t.Logf("transfer completed %v after the restart", time.Since(restarted))
}

// blackhole makes uplink wan1 silently drop everything in both directions
// (frames go out with a MAC address nobody has), or restores it. This
// kernel has no netem; the project's link emulator will take this role.
func (e *env) blackhole(t *testing.T, on bool) { e.blackholeUplink(t, 1, on) }

// blackholeUplink is blackhole for uplink wanN, both address families.
func (e *env) blackholeUplink(t *testing.T, n int, on bool) {
	t.Helper()
	dev := fmt.Sprintf("wan%d", n)
	for _, c := range []struct{ role, peer string }{
		{testbed.MR, fmt.Sprintf("198.18.%d.1", n)}, {testbed.HA, fmt.Sprintf("198.18.%d.2", n)},
		{testbed.MR, fmt.Sprintf("fd00:%d::1", n)}, {testbed.HA, fmt.Sprintf("fd00:%d::2", n)},
	} {
		args := []string{"neigh", "replace", c.peer, "lladdr", "02:00:5e:00:00:99", "dev", dev, "nud", "permanent"}
		if !on {
			args = []string{"neigh", "del", c.peer, "dev", dev}
		}
		if out, err := e.topo.Command(c.role, append([]string{"ip"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
}

// stallsAround runs six TCP flows from the LAN host to the server, applies
// fault once they are going, keeps them running for 5 s more, and returns
// the longest stall any flow saw after the fault. Every flow must survive.
func (e *env) stallsAround(t *testing.T, fault func()) time.Duration {
	type flow struct {
		got     atomic.Int64
		lastGap atomic.Int64
	}
	var wg sync.WaitGroup
	const n = 6
	flows := make([]*flow, n)
	stop := make(chan struct{})
	for i := range n {
		f := &flow{}
		flows[i] = f
		addr := net.JoinHostPort(testbed.ServerAddr4, fmt.Sprint(5100+i))
		l, err := e.topo.Listen(testbed.Server, "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		wg.Go(func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			buf := make([]byte, 64<<10)
			last := time.Now()
			for {
				k, err := c.Read(buf)
				if k > 0 {
					now := time.Now()
					if g := now.Sub(last); int64(g) > f.lastGap.Load() {
						f.lastGap.Store(int64(g))
					}
					last = now
					f.got.Add(int64(k))
				}
				if err != nil {
					return
				}
			}
		})
		wg.Go(func() {
			c, err := e.topo.Dial(context.Background(), testbed.LAN, "tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			buf := make([]byte, 32<<10)
			for {
				select {
				case <-stop:
					return
				default:
				}
				c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write(buf); err != nil {
					t.Errorf("flow %d: %v (a connection was lost)", i, err)
					return
				}
			}
		})
	}
	time.Sleep(2 * time.Second)
	for _, f := range flows {
		f.lastGap.Store(0) // only stalls from the fault on count
	}
	fault()
	time.Sleep(5 * time.Second)
	close(stop)
	wg.Wait()
	var worst time.Duration
	for i, f := range flows {
		g := time.Duration(f.lastGap.Load())
		t.Logf("flow %d: %d bytes, longest stall %v", i, f.got.Load(), g)
		worst = max(worst, g)
	}
	return worst
}

// TestBlackholeFailover silently blackholes the IPv4 uplink in the middle
// of TCP transfers: the router must declare the path down and move its
// flows to the other uplink; every flow survives, and the longest stall of
// the flows that were on the dead path stays under 1.5 s.
func TestBlackholeFailover(t *testing.T) {
	e := setup(t, testbed.Options{Uplinks: [2]testbed.Uplink{{RateMbit: 100}, {RateMbit: 100}}})
	time.Sleep(2500 * time.Millisecond) // both paths Up and past their dwell
	e.failover(t, "the blackhole", 1500*time.Millisecond, func() { e.blackhole(t, true) })
}

// failover applies fault to path 1 under six TCP flows (stallsAround) and
// checks that path 1 is no longer Up after them and that no flow stalled
// longer than budget.
func (e *env) failover(t *testing.T, fault string, budget time.Duration, apply func()) {
	t.Helper()
	worst := e.stallsAround(t, apply)
	for _, p := range e.mrStatus(t).Tunnel.Paths {
		if p.BID == 1 && p.Up {
			t.Errorf("path 1 still up after %s: %+v", fault, p)
		}
	}
	t.Logf("longest stall of any flow after %s: %v", fault, worst)
	if worst > budget {
		t.Errorf("longest stall %v; want <= %v", worst, budget)
	}
}

// TestOneWayFailure drops only what the home agent sends on uplink 1
// (reliability scenario S09): the router's packets still arrive, but no
// probe is answered, so the path must go down all the same, and its flows,
// both directions, move within the blackhole's budget. (The router flags
// its frames on the path unanswered, so the home agent hedges its
// downlink onto the other path well before that.)
func TestOneWayFailure(t *testing.T) {
	e := setup(t, testbed.Options{Uplinks: [2]testbed.Uplink{{RateMbit: 100}, {RateMbit: 100}}})
	time.Sleep(2500 * time.Millisecond)
	e.failover(t, "the downlink of path 1 went silent", 1500*time.Millisecond, func() {
		for _, peer := range []string{"198.18.1.2", "fd00:1::2"} {
			args := []string{"ip", "neigh", "replace", peer, "lladdr", "02:00:5e:00:00:99", "dev", "wan1", "nud", "permanent"}
			if out, err := e.topo.Command(testbed.HA, args...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %v: %s", args, err, out)
			}
		}
	})
}

// TestLinkDownFailover takes the IPv4 uplink's link down (on the router's
// side) in the middle of TCP transfers: the link monitor takes the path out
// at once and its flows move to the other uplink.
func TestLinkDownFailover(t *testing.T) {
	e := setup(t, testbed.Options{Uplinks: [2]testbed.Uplink{{RateMbit: 100}, {RateMbit: 100}}})
	time.Sleep(2500 * time.Millisecond)
	e.failover(t, "the link went down", 300*time.Millisecond, func() {
		if out, err := e.topo.Command(testbed.MR, "ip", "link", "set", "wan1", "down").CombinedOutput(); err != nil {
			t.Fatalf("link down: %v: %s", err, out)
		}
	})
}

// TestHotPlugUplink starts the router while uplink wan2 has no address
// (a phone not yet plugged in); when the address appears, the uplink must
// open, come up and carry new flows within 2 s.
func TestHotPlugUplink(t *testing.T) {
	topo, err := testbed.Build(fmt.Sprintf("mnt%d-", os.Getpid()), testbed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { topo.Close() })
	if out, err := topo.Command(testbed.MR, "ip", "addr", "del", "fd00:2::2/64", "dev", "wan2").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	cfgs, err := testbed.NewConfigs("")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{topo: topo, dir: t.TempDir()}
	if e.ha, err = topo.Start(testbed.HA, filepath.Join(binDir, "monami-ha"), cfgs.HA, e.dir, testbed.HADebug); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.ha.Stop() })
	if e.mr, err = topo.Start(testbed.MR, filepath.Join(binDir, "monami-mr"), cfgs.MR, e.dir, testbed.MRDebug); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.mr.Stop() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := node.MobileRouterStatus{}
		if topo.Status(testbed.MR, testbed.MRDebug, &st) == nil && len(st.Tunnel.Paths) == 1 && st.Tunnel.Paths[0].Up {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("uplink 1 did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	plugged := time.Now()
	if out, err := topo.Command(testbed.MR, "ip", "addr", "add", "fd00:2::2/64", "dev", "wan2", "nodad").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// New flows, until one of them is carried by the new uplink.
	for i := 0; ; i++ {
		if time.Since(plugged) > 10*time.Second {
			t.Fatal("the hot-plugged uplink never carried a flow")
		}
		st := e.mrStatus(t)
		var tx uint64
		for _, p := range st.Tunnel.Paths {
			if p.BID == 2 && p.Up {
				tx = p.TxPackets - p.KeepalivesTx
			}
		}
		if tx > 0 {
			break
		}
		c, err := topo.Dial(context.Background(), testbed.LAN, "udp", net.JoinHostPort(testbed.ServerAddr4, fmt.Sprint(7000+i)))
		if err == nil {
			c.Write([]byte("hello"))
			c.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
	d := time.Since(plugged)
	t.Logf("hot-plugged uplink carried new flows %v after its address appeared", d)
	if d > 2*time.Second {
		t.Errorf("took %v; want <= 2s", d)
	}
}
