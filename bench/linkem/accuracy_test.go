//go:build netns

// SPDX-License-Identifier: MIT

package linkem

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// The accuracy test builds A —veth— EMU —veth— B, runs an in-process
// Emulator in EMU, and measures what crosses it from sockets in A and B.
//
//	A: va 198.18.1.2/24     EMU: ea, eb (no addresses)     B: vb 198.18.1.1/24

const (
	addrA = "198.18.1.2"
	addrB = "198.18.1.1"
)

type bed struct {
	prefix string
	emu    *Emulator
	base   time.Time // timestamps in probes count from here
}

func sh(argv ...string) error {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// inNS runs fn on a thread switched into namespace ns.
func inNS(ns string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	h, err := netns.GetFromName(ns)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		return err // the thread stays locked and dies with the goroutine
	}
	runtime.UnlockOSThread()
	return ferr
}

func newBed(t *testing.T) *bed { return newBedWith(t, nil) }

// newBedWith calls before, if set, between Open and Run.
func newBedWith(t *testing.T, before func(*Emulator)) *bed {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	for _, tool := range []string{"ip", "ethtool"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (run bench/deps.sh)", tool)
		}
	}
	b := &bed{prefix: fmt.Sprintf("lkt%d-", os.Getpid()), base: time.Now()}
	a, e, bb := b.prefix+"a", b.prefix+"e", b.prefix+"b"
	del := func() {
		for _, n := range []string{a, e, bb} {
			if _, err := os.Stat("/run/netns/" + n); err == nil {
				sh("ip", "netns", "del", n)
			}
		}
	}
	del()
	t.Cleanup(del)
	cmds := [][]string{
		{"ip", "netns", "add", a}, {"ip", "netns", "add", e}, {"ip", "netns", "add", bb},
		{"ip", "netns", "exec", e, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"},
		{"ip", "link", "add", "va", "netns", a, "type", "veth", "peer", "name", "ea", "netns", e},
		{"ip", "link", "add", "vb", "netns", bb, "type", "veth", "peer", "name", "eb", "netns", e},
		{"ip", "-n", a, "addr", "add", addrA + "/24", "dev", "va"},
		{"ip", "-n", bb, "addr", "add", addrB + "/24", "dev", "vb"},
		append([]string{"ip", "netns", "exec", a, "ethtool"}, EthtoolArgs("va")...),
		append([]string{"ip", "netns", "exec", bb, "ethtool"}, EthtoolArgs("vb")...),
	}
	for _, x := range [][2]string{{a, "va"}, {a, "lo"}, {e, "ea"}, {e, "eb"}, {bb, "vb"}, {bb, "lo"}} {
		cmds = append(cmds, []string{"ip", "-n", x[0], "link", "set", x[1], "up"})
	}
	for _, c := range cmds {
		if err := sh(c...); err != nil {
			t.Fatal(err)
		}
	}
	err := inNS(e, func() error {
		var err error
		b.emu, err = Open(Options{A: "ea", B: "eb", Seed: uint64(time.Now().UnixNano())})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(b.emu)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := b.emu.Run(ctx); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return b
}

func (b *bed) set(t *testing.T, d Dir, spec string) {
	t.Helper()
	var p Params
	if err := p.Apply(spec); err != nil {
		t.Fatal(err)
	}
	if err := b.emu.Set(d, p); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // the loops pick it up on their next wake
}

func (b *bed) udp(t *testing.T, side string, laddr string) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	err := inNS(b.prefix+side, func() error {
		var err error
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(mustAddrPort(laddr)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadBuffer(8 << 20)
	c.SetWriteBuffer(8 << 20)
	t.Cleanup(func() { c.Close() })
	return c
}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func (b *bed) stamp() int64 { return int64(time.Since(b.base)) }

// warm resolves ARP both ways so the first probes measure the link only.
func (b *bed) warm(t *testing.T) {
	t.Helper()
	for _, x := range [][2]string{{"a", addrB}, {"b", addrA}} {
		if err := sh("ip", "netns", "exec", b.prefix+x[0], "ping", "-c", "1", "-W", "2", x[1]); err != nil {
			t.Fatal(err)
		}
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func pct(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(int(p*float64(len(s))), len(s)-1)]
}

// TestAccuracyDelay: 20 ms each way. UDP probes from A are echoed by B;
// the probe carries its send time, so each direction's one-way delay is
// measured exactly (one clock), and the RTT too.
func TestAccuracyDelay(t *testing.T) {
	b := newBed(t)
	b.warm(t)
	b.set(t, Both, "delay=20ms")
	ca := b.udp(t, "a", addrA+":0")
	cb := b.udp(t, "b", addrB+":7000")
	const n = 400
	var fwd []time.Duration
	var wg sync.WaitGroup
	wg.Go(func() { // B: echo, noting the one-way delay A→B
		buf := make([]byte, 64)
		cb.SetReadDeadline(time.Now().Add(20 * time.Second))
		for range n {
			m, from, err := cb.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			fwd = append(fwd, time.Duration(b.stamp()-int64(binary.BigEndian.Uint64(buf[0:8]))))
			binary.BigEndian.PutUint64(buf[8:16], uint64(b.stamp()))
			cb.WriteToUDPAddrPort(buf[:m], from)
		}
	})
	var rtt, rev []time.Duration
	wg.Go(func() { // A: collect echoes
		buf := make([]byte, 64)
		ca.SetReadDeadline(time.Now().Add(20 * time.Second))
		for range n {
			if _, err := ca.Read(buf); err != nil {
				return
			}
			now := b.stamp()
			rtt = append(rtt, time.Duration(now-int64(binary.BigEndian.Uint64(buf[0:8]))))
			rev = append(rev, time.Duration(now-int64(binary.BigEndian.Uint64(buf[8:16]))))
		}
	})
	dst := net.UDPAddrFromAddrPort(mustAddrPort(addrB + ":7000"))
	pkt := make([]byte, 64)
	for range n {
		binary.BigEndian.PutUint64(pkt, uint64(b.stamp()))
		ca.WriteToUDP(pkt, dst)
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	if len(rtt) < n*99/100 {
		t.Fatalf("only %d of %d echoes", len(rtt), n)
	}
	t.Logf("one-way A→B p50 %v p99 %v; B→A p50 %v p99 %v; RTT p50 %v p1 %v p99 %v (n=%d)",
		median(fwd), pct(fwd, 0.99), median(rev), pct(rev, 0.99), median(rtt), pct(rtt, 0.01), pct(rtt, 0.99), len(rtt))
	for _, c := range []struct {
		name      string
		got, want time.Duration
		tol       time.Duration
	}{
		{"one-way A→B", median(fwd), 20 * time.Millisecond, 500 * time.Microsecond},
		{"one-way B→A", median(rev), 20 * time.Millisecond, 500 * time.Microsecond},
		{"RTT", median(rtt), 40 * time.Millisecond, time.Millisecond},
	} {
		if d := c.got - c.want; d < -c.tol/5 || d > c.tol {
			t.Errorf("%s median %v, want %v (−%v/+%v)", c.name, c.got, c.want, c.tol/5, c.tol)
		}
	}
}

// TestAccuracyRateUDP offers 70 Mbit/s to a 50 Mbit/s link and measures what
// arrives in the steady state.
func TestAccuracyRateUDP(t *testing.T) {
	b := newBed(t)
	b.warm(t)
	b.set(t, AtoB, "rate=50mbit")
	ca := b.udp(t, "a", addrA+":0")
	cb := b.udp(t, "b", addrB+":7001")
	const payload = 1472
	const wire = payload + 8 + 20 + 14
	const dur = 4 * time.Second
	var arrivals []time.Duration
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			cb.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := cb.Read(buf); err != nil {
				return
			}
			arrivals = append(arrivals, time.Duration(b.stamp()))
		}
	})
	dst := net.UDPAddrFromAddrPort(mustAddrPort(addrB + ":7001"))
	pkt := make([]byte, payload)
	offered := 70e6 / 8 / wire // frames per second
	start := time.Now()
	sent := 0
	for time.Since(start) < dur {
		for want := int(time.Since(start).Seconds() * offered); sent < want; sent++ {
			ca.WriteToUDP(pkt, dst)
		}
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	// Steady state: from 1 s in to 0.5 s before the sender stopped.
	t0 := arrivals[0] + time.Second
	t1 := arrivals[0] + dur - 500*time.Millisecond
	var first, last time.Duration
	var cnt int
	for _, a := range arrivals {
		if a < t0 || a > t1 {
			continue
		}
		if cnt == 0 {
			first = a
		}
		last = a
		cnt++
	}
	wireRate := float64((cnt-1)*wire*8) / (last - first).Seconds()
	goodput := wireRate * payload / wire
	ss := b.emu.Stats(AtoB).Snapshot()
	t.Logf("sent %d, received %d; steady state %d frames: wire %.2f Mbit/s, UDP goodput %.2f Mbit/s (expected %.2f); emulator a2b %+v",
		sent, len(arrivals), cnt, wireRate/1e6, goodput/1e6, 50.0*payload/wire, ss)
	if math.Abs(wireRate/50e6-1) > 0.05 {
		t.Errorf("wire rate %.2f Mbit/s, want 50 ±5%%", wireRate/1e6)
	}
}

// TestAccuracyRateTCP runs one TCP stream through a 50 Mbit/s link with
// 5 ms each way and checks the steady-state goodput against the payload
// share of the link (1448 of 1514 bytes per frame).
func TestAccuracyRateTCP(t *testing.T) {
	b := newBed(t)
	b.warm(t)
	b.set(t, AtoB, "rate=50mbit delay=5ms")
	b.set(t, BtoA, "delay=5ms")
	var ln net.Listener
	if err := inNS(b.prefix+"b", func() error {
		var err error
		ln, err = net.Listen("tcp4", addrB+":7002")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const dur = 6 * time.Second
	type sample struct {
		at    time.Duration
		bytes int64
	}
	var samples []sample
	var wg sync.WaitGroup
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 256<<10)
		var total int64
		for {
			n, err := c.Read(buf)
			total += int64(n)
			samples = append(samples, sample{time.Duration(b.stamp()), total})
			if err != nil {
				return
			}
		}
	})
	var c net.Conn
	if err := inNS(b.prefix+"a", func() error {
		var err error
		c, err = net.Dial("tcp4", addrB+":7002")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	chunk := make([]byte, 64<<10)
	for time.Since(start) < dur {
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	wg.Wait()
	// Goodput between 2 s after the first byte and the end of sending.
	s0 := samples[0].at
	var a, z sample
	for _, s := range samples {
		if s.at <= s0+2*time.Second {
			a = s
		}
		if s.at <= s0+dur-200*time.Millisecond {
			z = s
		}
	}
	got := float64(z.bytes-a.bytes) * 8 / (z.at - a.at).Seconds()
	want := 50e6 * 1448 / 1514
	t.Logf("TCP goodput %.2f Mbit/s over %v, expected %.2f (50 Mbit/s × 1448/1514); emulator a2b %+v",
		got/1e6, z.at-a.at, want/1e6, b.emu.Stats(AtoB).Snapshot())
	if math.Abs(got/want-1) > 0.05 {
		t.Errorf("TCP goodput %.2f Mbit/s, want %.2f ±5%%", got/1e6, want/1e6)
	}
}

// blast sends n numbered datagrams from A to B at pps and returns the
// sequence numbers B received, in arrival order.
func (b *bed) blast(t *testing.T, port, n, pps int) []uint32 {
	t.Helper()
	ca := b.udp(t, "a", addrA+":0")
	cb := b.udp(t, "b", fmt.Sprintf("%s:%d", addrB, port))
	var got []uint32
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			cb.SetReadDeadline(time.Now().Add(time.Second))
			m, err := cb.Read(buf)
			if err != nil {
				return
			}
			if m >= 4 {
				got = append(got, binary.BigEndian.Uint32(buf))
			}
		}
	})
	dst := net.UDPAddrFromAddrPort(mustAddrPort(fmt.Sprintf("%s:%d", addrB, port)))
	pkt := make([]byte, 100)
	start := time.Now()
	for i := 0; i < n; {
		for want := min(int(time.Since(start).Seconds()*float64(pps)), n); i < want; i++ {
			binary.BigEndian.PutUint32(pkt, uint32(i))
			ca.WriteToUDP(pkt, dst)
		}
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	return got
}

// TestAccuracyLoss: 5 % random loss over 40000 datagrams.
func TestAccuracyLoss(t *testing.T) {
	b := newBed(t)
	b.warm(t)
	b.set(t, AtoB, "loss=5%")
	const n = 40000
	got := b.blast(t, 7003, n, 20000)
	loss := 1 - float64(len(got))/n
	ss := b.emu.Stats(AtoB).Snapshot()
	t.Logf("loss %.3f%% (%d of %d received); emulator a2b %+v", loss*100, len(got), n, ss)
	if math.Abs(loss-0.05) > 0.005 {
		t.Errorf("loss %.3f%%, want 5 ±0.5 points", loss*100)
	}
	if ss.KernelDrops != 0 {
		t.Errorf("kernel dropped %d frames before the emulator read them", ss.KernelDrops)
	}
}

// TestAccuracyImpairments checks the rarer knobs end to end: bursty loss,
// duplication, reordering, and a blackhole switched on and off live.
func TestAccuracyImpairments(t *testing.T) {
	b := newBed(t)
	b.warm(t)
	tests := []struct {
		name  string
		spec  string
		check func(t *testing.T, got []uint32, n int)
	}{
		{name: "gilbert-elliott", spec: "ge_p=1% ge_r=20% ge_bad=100%", check: func(t *testing.T, got []uint32, n int) {
			loss := 1 - float64(len(got))/float64(n)
			if want := 0.01 / 0.21; math.Abs(loss-want) > 0.015 {
				t.Errorf("loss %.3f, want %.3f ±0.015", loss, want)
			}
		}},
		{name: "duplicate", spec: "dup=10%", check: func(t *testing.T, got []uint32, n int) {
			if f := float64(len(got)-n) / float64(n); math.Abs(f-0.1) > 0.015 {
				t.Errorf("duplicated %.3f, want 0.10 ±0.015", f)
			}
		}},
		{name: "reorder", spec: "delay=5ms reorder=5%", check: func(t *testing.T, got []uint32, n int) {
			var late int
			var hi uint32
			for _, s := range got {
				if s < hi {
					late++
				}
				hi = max(hi, s)
			}
			if len(got) != n || late == 0 {
				t.Errorf("received %d of %d, %d late; want all, some late", len(got), n, late)
			}
		}},
		{name: "jitter keeps order", spec: "delay=5ms jitter=4ms", check: func(t *testing.T, got []uint32, n int) {
			if len(got) != n || !slices.IsSorted(got) {
				t.Errorf("received %d of %d, sorted %v; want all, in order", len(got), n, slices.IsSorted(got))
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.set(t, AtoB, tt.spec)
			const n = 10000
			got := b.blast(t, 7100+i, n, 10000)
			tt.check(t, got, n)
			b.set(t, AtoB, "")
		})
	}
	t.Run("blackhole", func(t *testing.T) {
		// Blackhole from 0.3 s to 0.6 s of a 1 s stream at 1000 pps.
		var wg sync.WaitGroup
		wg.Go(func() {
			time.Sleep(300 * time.Millisecond)
			b.emu.Update(AtoB, "blackhole=on")
			time.Sleep(300 * time.Millisecond)
			b.emu.Update(AtoB, "blackhole=off")
		})
		got := b.blast(t, 7200, 1000, 1000)
		wg.Wait()
		lost := 1000 - len(got)
		if lost < 250 || lost > 350 {
			t.Errorf("lost %d of 1000 in a 300 ms blackhole at 1000 pps, want about 300", lost)
		}
	})
}

// TestSetBeforeRun: parameters set before the direction loops start are
// applied (a harness sets them as soon as the control socket answers).
func TestSetBeforeRun(t *testing.T) {
	b := newBedWith(t, func(e *Emulator) {
		if err := e.Update(AtoB, "dup=100%"); err != nil {
			t.Fatal(err)
		}
	})
	b.warm(t)
	if err := b.emu.Run(context.Background()); err == nil {
		t.Error("a second Run was accepted")
	}
	if got := b.blast(t, 7300, 1000, 4000); len(got) != 2000 {
		t.Errorf("received %d copies of 1000 datagrams, want 2000 (the early Update was lost)", len(got))
	}
}

// TestOversizeCounted: with segmentation offloads left on, TCP super-frames
// reach the emulator; they are dropped and counted, never forwarded
// truncated.
func TestOversizeCounted(t *testing.T) {
	b := newBed(t)
	b.warm(t)
	if err := sh("ip", "netns", "exec", b.prefix+"a", "ethtool", "-K", "va", "tso", "on"); err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	if err := inNS(b.prefix+"b", func() error {
		var err error
		ln, err = net.Listen("tcp4", addrB+":7004")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	var c net.Conn
	if err := inNS(b.prefix+"a", func() error {
		var err error
		c, err = net.DialTimeout("tcp4", addrB+":7004", 2*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write(make([]byte, 4<<20))
	c.Close()
	if n := b.emu.Stats(AtoB).Drops(DropOversize); n == 0 {
		t.Errorf("no oversize drops with TSO on")
	}
}
