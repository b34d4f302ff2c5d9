// SPDX-License-Identifier: MIT

//go:build netns

package linkmon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// maxLatency is the bound from the netlink command to the event.
const maxLatency = 100 * time.Millisecond

// testNS is a network namespace the test created; it is deleted when the
// test ends.
type testNS struct {
	name string
	ns   netns.NsHandle
	h    *netlink.Handle
}

func newNS(t *testing.T) *testNS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	name := fmt.Sprintf("monlm%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	ns, nerr := netns.NewNamed(name) // moves this thread into it
	if err := netns.Set(orig); err != nil {
		t.Fatalf("restore netns: %v", err) // the thread stays locked and dies
	}
	runtime.UnlockOSThread()
	orig.Close()
	if nerr != nil {
		t.Fatalf("create netns %s: %v", name, nerr)
	}
	n := &testNS{name: name, ns: ns}
	t.Cleanup(func() {
		if n.h != nil {
			n.h.Close()
		}
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	if n.h, err = netlink.NewHandleAt(ns); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *testNS) must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("netns %s: %v", n.name, err)
	}
}

func (n *testNS) link(t *testing.T, name string) netlink.Link {
	t.Helper()
	l, err := n.h.LinkByName(name)
	n.must(t, err)
	return l
}

// dummy adds a dummy link, or an ifb link (which behaves the same here)
// where the kernel has no dummy driver, and returns the kind it made.
func (n *testNS) dummy(t *testing.T, name string) string {
	t.Helper()
	err := n.h.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name}})
	if errors.Is(err, unix.EOPNOTSUPP) {
		n.must(t, n.h.LinkAdd(&netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: name}}))
		return "ifb"
	}
	n.must(t, err)
	return "dummy"
}

func (n *testNS) veth(t *testing.T, name, peer string) {
	t.Helper()
	n.must(t, n.h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer}))
}

func (n *testNS) setUp(t *testing.T, name string) {
	t.Helper()
	n.must(t, n.h.LinkSetUp(n.link(t, name)))
}

func (n *testNS) setDown(t *testing.T, name string) {
	t.Helper()
	n.must(t, n.h.LinkSetDown(n.link(t, name)))
}

func nlAddr(t *testing.T, prefix string) *netlink.Addr {
	t.Helper()
	a, err := netlink.ParseAddr(prefix)
	if err != nil {
		t.Fatal(err)
	}
	if a.IP.To4() == nil {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

func (n *testNS) addAddr(t *testing.T, dev, prefix string) {
	t.Helper()
	n.must(t, n.h.AddrAdd(n.link(t, dev), nlAddr(t, prefix)))
}

func (n *testNS) delAddr(t *testing.T, dev, prefix string) {
	t.Helper()
	n.must(t, n.h.AddrDel(n.link(t, dev), nlAddr(t, prefix)))
}

// watch runs a Monitor on n and collects its events.
type watch struct {
	m     *Monitor
	ch    chan Event
	state map[int]Link // the events replayed, as a consumer would
}

func start(t *testing.T, n *testNS, opts Options, buffer int) *watch {
	t.Helper()
	opts.Namespace = &n.ns
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	w := &watch{m: m, ch: make(chan Event, buffer), state: map[int]Link{}}
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, w.ch) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		// No goroutine outlives Run.
		for i := 0; runtime.NumGoroutine() > before; i++ {
			if i == 100 {
				t.Errorf("goroutines: %d before Run, %d after", before, runtime.NumGoroutine())
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	return w
}

// synced waits until Run has published its first snapshot.
func (w *watch) synced(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); w.m.links.Load() == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no snapshot after 5 s")
		}
	}
}

// take reads the next event, or fails after timeout.
func (w *watch) take(t *testing.T, timeout time.Duration) (Event, time.Time) {
	t.Helper()
	select {
	case ev := <-w.ch:
		at := time.Now()
		w.apply(t, ev)
		return ev, at
	case <-time.After(timeout):
		t.Fatalf("no event within %v", timeout)
	}
	panic("unreachable")
}

func (w *watch) apply(t *testing.T, ev Event) {
	t.Helper()
	_, had := w.state[ev.Link.Index]
	if (ev.Kind == LinkAdded) == had {
		t.Errorf("%v: inconsistent with the events before it", ev)
	}
	if ev.Kind == LinkRemoved {
		delete(w.state, ev.Link.Index)
	} else {
		w.state[ev.Link.Index] = ev.Link
	}
}

// expect reads exactly the events described (Event.String), in order.
func (w *watch) expect(t *testing.T, want ...string) {
	t.Helper()
	for _, s := range want {
		ev, _ := w.take(t, 2*time.Second)
		if ev.String() != s {
			t.Fatalf("event %q, want %q", ev, s)
		}
	}
}

// await reads events until one is described by want, and returns it with
// its latency since t0 (when the netlink command was issued) and the
// events skipped on the way.
func (w *watch) await(t *testing.T, t0 time.Time, want string) (Event, time.Duration, []Event) {
	t.Helper()
	var skipped []Event
	for {
		ev, at := w.take(t, 2*time.Second)
		if ev.String() == want {
			if ev.Time.Before(t0) || ev.Time.After(at) {
				t.Errorf("%v: Event.Time %v not between command %v and receipt %v", ev, ev.Time, t0, at)
			}
			return ev, at.Sub(t0), skipped
		}
		skipped = append(skipped, ev)
	}
}

// awaitAll reads events until it has seen all of want, in any order, and
// fails on any other event.
func (w *watch) awaitAll(t *testing.T, want ...string) {
	t.Helper()
	for len(want) > 0 {
		ev, _ := w.take(t, 2*time.Second)
		i := slices.Index(want, ev.String())
		if i < 0 {
			t.Fatalf("unexpected event %v (waiting for %q)", ev, want)
		}
		want = slices.Delete(want, i, i+1)
	}
}

// quiet checks that no event arrives for d.
func (w *watch) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case ev := <-w.ch:
		t.Fatalf("unexpected event %v", ev)
	case <-time.After(d):
	}
}

// check compares the replayed events and Links with want.
func (w *watch) check(t *testing.T, want ...Link) {
	t.Helper()
	got := w.m.Links()
	if got == nil {
		got = []Link{}
	}
	if want == nil {
		want = []Link{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Links() = %+v\nwant %+v", got, want)
	}
	if rep := normalize(w.state); !reflect.DeepEqual(rep, byIndex(want)) {
		t.Errorf("replayed events = %+v\nwant %+v", rep, want)
	}
}

func (w *watch) linkNamed(t *testing.T, name string) Link {
	t.Helper()
	for _, l := range w.m.Links() {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("no link %s in %+v", name, w.m.Links())
	return Link{}
}

// latencies collects the measured latencies for the log.
type latencies []string

// add records a latency that the issue bounds (link down, address loss).
func (ls *latencies) add(t *testing.T, what string, d time.Duration) {
	t.Helper()
	ls.log(what, d)
	if d > maxLatency {
		t.Errorf("%s: %v from the netlink command to the event, want <= %v", what, d, maxLatency)
	}
}

// log records a latency the issue does not bound.
func (ls *latencies) log(what string, d time.Duration) {
	*ls = append(*ls, fmt.Sprintf("%s %v", what, d.Round(time.Microsecond)))
}

// TestInitialSnapshot: links that exist before Run are reported first, in
// index order, with their addresses; links no selector chooses are not.
func TestInitialSnapshot(t *testing.T) {
	n := newNS(t)
	kind := n.dummy(t, "up1")
	n.addAddr(t, "up1", "198.18.2.2/24")
	n.addAddr(t, "up1", "198.18.2.3/24")
	n.addAddr(t, "up1", "fd00:2::2/64")
	n.setUp(t, "up1")
	n.veth(t, "up2", "pe2") // peer down: no carrier
	n.setUp(t, "up2")
	n.dummy(t, "other0")
	n.setUp(t, "other0")
	n.addAddr(t, "other0", "198.18.3.2/24")

	w := start(t, n, Options{Selectors: []Selector{{Glob: "up*"}}}, 64)
	w.expect(t,
		"link-added up1", "link-up up1",
		"addr-added up1 198.18.2.2/24", "addr-added up1 198.18.2.3/24", "addr-added up1 fd00:2::2/64",
		"link-added up2")
	w.quiet(t, 100*time.Millisecond)
	w.check(t,
		Link{Index: n.link(t, "up1").Attrs().Index, Name: "up1", Type: kind, Up: true, Addrs: pfx("198.18.2.2/24", "198.18.2.3/24", "fd00:2::2/64")},
		Link{Index: n.link(t, "up2").Attrs().Index, Name: "up2", Type: "veth"},
	)

	// Without selectors: everything but loopback; a nil channel is fine.
	var names []string
	for _, l := range runNil(t, n) {
		names = append(names, l.Name+"/"+l.Type)
	}
	slices.Sort(names)
	if got, want := strings.Join(names, " "), fmt.Sprintf("other0/%s pe2/veth up1/%[1]s up2/veth", kind); got != want {
		t.Errorf("links without selectors: %s", got)
	}
}

// runNil runs a Monitor without selectors and with a nil events channel
// until it has its first snapshot, and returns that.
func runNil(t *testing.T, n *testNS) []Link {
	t.Helper()
	m, err := New(Options{Namespace: &n.ns})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	for deadline := time.Now().Add(5 * time.Second); m.links.Load() == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no snapshot after 5 s")
		}
	}
	return m.Links()
}

// TestEvents walks one uplink through its life and measures how long each
// change takes from the netlink command to the event.
func TestEvents(t *testing.T) {
	n := newNS(t)
	w := start(t, n, Options{Selectors: []Selector{{Glob: "up*"}}}, 256)
	w.synced(t)
	w.check(t)
	var lat latencies
	defer func() { t.Logf("latencies: %s", strings.Join(lat, ", ")) }()

	t0 := time.Now()
	n.veth(t, "up0", "pe0")
	_, d, _ := w.await(t, t0, "link-added up0")
	lat.log("link added", d)
	idx := n.link(t, "up0").Attrs().Index
	w.check(t, Link{Index: idx, Name: "up0", Type: "veth"})

	// IPv4 on a down link is reported; the link stays down.
	t0 = time.Now()
	n.addAddr(t, "up0", "198.18.1.2/24")
	_, d, _ = w.await(t, t0, "addr-added up0 198.18.1.2/24")
	lat.log("ipv4 address added", d)

	// Admin up without carrier (peer down) is not up.
	n.setUp(t, "up0")
	w.quiet(t, 50*time.Millisecond)
	t0 = time.Now()
	n.setUp(t, "pe0")
	_, d, _ = w.await(t, t0, "link-up up0")
	lat.log("link up (carrier)", d)

	t0 = time.Now()
	n.addAddr(t, "up0", "fd00:1::2/64")
	_, d, _ = w.await(t, t0, "addr-added up0 fd00:1::2/64")
	lat.log("ipv6 address added", d)
	n.addAddr(t, "up0", "198.18.1.3/24")
	w.await(t, t0, "addr-added up0 198.18.1.3/24")
	w.check(t, Link{Index: idx, Name: "up0", Type: "veth", Up: true, Addrs: pfx("198.18.1.2/24", "198.18.1.3/24", "fd00:1::2/64")})

	t0 = time.Now()
	n.delAddr(t, "up0", "198.18.1.3/24")
	ev, d, skipped := w.await(t, t0, "addr-removed up0 198.18.1.3/24")
	lat.add(t, "address removed", d)
	if len(skipped) != 0 {
		t.Errorf("events before the removal: %v", skipped)
	}
	if want := pfx("198.18.1.2/24", "fd00:1::2/64"); !slices.Equal(ev.Link.Addrs, want) {
		t.Errorf("after removal, Link.Addrs = %v, want %v", ev.Link.Addrs, want)
	}

	// A new care-of address: the old one goes, the new one comes.
	n.delAddr(t, "up0", "198.18.1.2/24")
	n.addAddr(t, "up0", "198.18.1.4/24")
	w.expect(t, "addr-removed up0 198.18.1.2/24", "addr-added up0 198.18.1.4/24")

	// Carrier loss.
	t0 = time.Now()
	n.setDown(t, "pe0")
	_, d, _ = w.await(t, t0, "link-down up0")
	lat.add(t, "link down (carrier lost)", d)
	w.check(t, Link{Index: idx, Name: "up0", Type: "veth", Addrs: pfx("198.18.1.4/24", "fd00:1::2/64")})
	t0 = time.Now()
	n.setUp(t, "pe0")
	w.await(t, t0, "link-up up0")

	// Admin down: the kernel also flushes the IPv6 address
	// (keep_addr_on_down=0), IPv4 stays.
	t0 = time.Now()
	n.setDown(t, "up0")
	_, d, _ = w.await(t, t0, "link-down up0")
	lat.add(t, "link down (admin)", d)
	for deadline := time.Now().Add(time.Second); len(w.linkNamed(t, "up0").Addrs) != 1 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	w.await(t, t0, "addr-removed up0 fd00:1::2/64")
	w.check(t, Link{Index: idx, Name: "up0", Type: "veth", Addrs: pfx("198.18.1.4/24")})

	// Deleting a live link: the kernel announces it down at once, and
	// deleted after an RCU grace period (tens of ms on this VM; the
	// command itself takes that long).
	n.setUp(t, "up0")
	n.addAddr(t, "up0", "fd00:1::2/64")
	w.await(t, time.Now().Add(-time.Second), "addr-added up0 fd00:1::2/64")
	t0 = time.Now()
	n.must(t, n.h.LinkDel(n.link(t, "up0")))
	cmd := time.Since(t0)
	_, d, _ = w.await(t, t0, "link-down up0")
	// The kernel announces the deletion as it completes the command; the
	// bound is on what the Monitor adds.
	lat.add(t, "link down (deleted), after the command returned", d-cmd)
	_, d, skipped = w.await(t, t0, "link-removed up0")
	lat.log("link removed", d)
	lat.log("delete command duration", cmd)
	got := kinds(skipped)
	if got != "addr-removed up0 fd00:1::2/64; addr-removed up0 198.18.1.4/24" && got != "addr-removed up0 198.18.1.4/24; addr-removed up0 fd00:1::2/64" {
		t.Errorf("events between link-down and link-removed: %s", got)
	}
	w.check(t)
	w.quiet(t, 50*time.Millisecond)
	if s := w.m.Stats().Snapshot(); s.OverrunsTotal != 0 || s.BadMessagesTotal != 0 || s.ReopensTotal != 0 || s.ResyncsTotal != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestVLAN: a VLAN sub-interface is chosen by a glob on its parent's name
// and by type, and its parent is not. Where the kernel has no 802.1Q
// support, a macvlan named like a VLAN stands in for it.
func TestVLAN(t *testing.T) {
	n := newNS(t)
	n.veth(t, "trunk0", "trunkp")
	n.setUp(t, "trunkp")
	n.setUp(t, "trunk0")
	n.addAddr(t, "trunk0", "198.18.9.2/24")
	parent := n.link(t, "trunk0").Attrs().Index
	kind := "vlan"
	sub := func() {
		err := n.h.LinkAdd(&netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: "trunk0.10", ParentIndex: parent}, VlanId: 10})
		if errors.Is(err, unix.EOPNOTSUPP) {
			kind = "macvlan"
			err = n.h.LinkAdd(&netlink.Macvlan{LinkAttrs: netlink.LinkAttrs{Name: "trunk0.10", ParentIndex: parent}, Mode: netlink.MACVLAN_MODE_BRIDGE})
		}
		n.must(t, err)
	}
	sub()
	n.must(t, n.h.LinkDel(n.link(t, "trunk0.10")))
	if kind != "vlan" {
		t.Logf("no 802.1Q in this kernel: testing with a %s sub-interface", kind)
	}
	for _, sel := range []Selector{{Glob: "trunk0.*"}, {Type: kind}} {
		t.Run(fmt.Sprintf("%+v", sel), func(t *testing.T) {
			w := start(t, n, Options{Selectors: []Selector{sel}}, 64)
			w.synced(t)
			w.check(t)
			t0 := time.Now()
			sub()
			t.Cleanup(func() {
				if l, err := n.h.LinkByName("trunk0.10"); err == nil {
					n.h.LinkDel(l)
				}
			})
			n.addAddr(t, "trunk0.10", "198.18.10.2/24")
			n.addAddr(t, "trunk0.10", "198.18.10.3/24")
			n.addAddr(t, "trunk0.10", "fd00:10::2/64")
			n.setUp(t, "trunk0.10")
			// The IPv6 address stays tentative until the link is up.
			w.expect(t, "link-added trunk0.10", "addr-added trunk0.10 198.18.10.2/24", "addr-added trunk0.10 198.18.10.3/24")
			w.awaitAll(t, "link-up trunk0.10", "addr-added trunk0.10 fd00:10::2/64")
			t.Logf("sub-interface created, addressed and up: %v", time.Since(t0))
			w.check(t, Link{Index: n.link(t, "trunk0.10").Attrs().Index, Name: "trunk0.10", Type: kind, Up: true, Addrs: pfx("198.18.10.2/24", "198.18.10.3/24", "fd00:10::2/64")})
			// The parent losing carrier takes the sub-interface down.
			t0 = time.Now()
			n.setDown(t, "trunkp")
			_, d, _ := w.await(t, t0, "link-down trunk0.10")
			if d > maxLatency {
				t.Errorf("link down after %v", d)
			}
			n.setUp(t, "trunkp")
			w.await(t, t0, "link-up trunk0.10")
			n.must(t, n.h.LinkDel(n.link(t, "trunk0.10")))
			w.await(t, t0, "link-removed trunk0.10")
			w.check(t)
		})
	}
}

// TestSelectorType: a type selector reports veths and nothing else.
func TestSelectorType(t *testing.T) {
	n := newNS(t)
	w := start(t, n, Options{Selectors: []Selector{{Type: "veth"}}}, 64)
	w.synced(t)
	n.dummy(t, "d0")
	n.setUp(t, "d0")
	n.addAddr(t, "d0", "198.18.4.2/24")
	n.veth(t, "v0", "v1")
	n.setUp(t, "v0")
	n.setUp(t, "v1")
	n.addAddr(t, "v0", "198.18.5.2/24")
	// Carrier changes reach netlink through the kernel's linkwatch work,
	// after the command returned: wait for each event, whatever the order.
	w.awaitAll(t, "link-added v0", "link-added v1", "link-up v0", "link-up v1", "addr-added v0 198.18.5.2/24")
	w.quiet(t, 100*time.Millisecond)
	var names []string
	for _, l := range w.m.Links() {
		names = append(names, l.Name)
	}
	if got := strings.Join(names, " "); got != "v1 v0" && got != "v0 v1" {
		t.Errorf("Links() names %q", got)
	}
}

// TestOverrun: while the consumer does not read, the kernel drops
// notifications; once it reads again, a resync reports the final state.
func TestOverrun(t *testing.T) {
	n := newNS(t)
	mon, err := New(Options{Namespace: &n.ns, Selectors: []Selector{{Glob: "up*"}}})
	if err != nil {
		t.Fatal(err)
	}
	mon.rcvbuf = 4096
	ch := make(chan Event) // unbuffered, not read for now
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mon.Run(ctx, ch) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	w := &watch{m: mon, ch: ch, state: map[int]Link{}}
	w.synced(t)

	kind := n.dummy(t, "up0")
	n.setUp(t, "up0")
	var want []netip.Prefix
	for i := range 600 {
		p := fmt.Sprintf("198.18.%d.%d/16", 100+i/250, 1+i%250)
		n.addAddr(t, "up0", p)
		if i%2 == 0 {
			want = append(want, netip.MustParsePrefix(p))
		}
	}
	for i := range 600 {
		if i%2 == 1 {
			n.delAddr(t, "up0", fmt.Sprintf("198.18.%d.%d/16", 100+i/250, 1+i%250))
		}
	}
	slices.SortFunc(want, netip.Prefix.Compare)
	// Drain until quiet.
	for {
		select {
		case ev := <-ch:
			w.apply(t, ev)
			continue
		case <-time.After(300 * time.Millisecond):
		}
		break
	}
	w.check(t, Link{Index: n.link(t, "up0").Attrs().Index, Name: "up0", Type: kind, Up: true, Addrs: want})
	s := mon.Stats().Snapshot()
	if s.OverrunsTotal == 0 || s.ResyncsTotal < 2 {
		t.Errorf("no overrun provoked: %+v", s)
	}
	t.Logf("stats %+v", s)
}

// TestRunErrors: a second concurrent Run and an unusable namespace fail.
func TestRunErrors(t *testing.T) {
	n := newNS(t)
	w := start(t, n, Options{}, 8)
	w.synced(t)
	if err := w.m.Run(context.Background(), nil); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run: %v, want ErrRunning", err)
	}
	bad := netns.NsHandle(1 << 20) // not an open file
	m, err := New(Options{Namespace: &bad})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background(), nil); err == nil {
		t.Error("Run in a closed namespace handle succeeded")
	}
}

// TestReconnect: after a socket failure the Monitor reopens its socket,
// dumps again and reports what changed meanwhile, removals included; a
// second Run on the same Monitor does the same.
func TestReconnect(t *testing.T) {
	n := newNS(t)
	for _, v := range []string{"up1", "up2"} {
		n.veth(t, v, "p"+v)
		n.setUp(t, "p"+v)
		n.setUp(t, v)
		n.addAddr(t, v, "fd00:"+v[2:]+"::2/64")
	}
	n.addAddr(t, "up1", "198.18.1.2/24")
	socks := make(chan *nl.NetlinkSocket, 4)
	mon, err := New(Options{Namespace: &n.ns, Selectors: []Selector{{Glob: "up*"}}})
	if err != nil {
		t.Fatal(err)
	}
	var gate atomic.Pointer[chan struct{}] // holds a reopen until the test's changes are done
	mon.onOpen = func(s *nl.NetlinkSocket) {
		socks <- s
		if g := gate.Load(); g != nil {
			<-*g
		}
	}
	w := &watch{m: mon, ch: make(chan Event, 64), state: map[int]Link{}}
	run := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- mon.Run(ctx, w.ch) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	stop := run()
	defer func() { stop() }()
	w.awaitAll(t, "link-added up1", "link-up up1", "addr-added up1 198.18.1.2/24", "addr-added up1 fd00:1::2/64",
		"link-added up2", "link-up up2", "addr-added up2 fd00:2::2/64")
	up2 := n.link(t, "up2").Attrs().Index

	// Break the socket, change things while it is gone.
	g := make(chan struct{})
	gate.Store(&g)
	(<-socks).Close()
	n.must(t, n.h.LinkDel(n.link(t, "up1")))
	n.delAddr(t, "up2", "fd00:2::2/64")
	n.addAddr(t, "up2", "198.18.2.2/24")
	close(g)
	w.expect(t,
		"addr-removed up1 198.18.1.2/24", "addr-removed up1 fd00:1::2/64", "link-down up1", "link-removed up1",
		"addr-removed up2 fd00:2::2/64", "addr-added up2 198.18.2.2/24")
	w.check(t, Link{Index: up2, Name: "up2", Type: "veth", Up: true, Addrs: pfx("198.18.2.2/24")})
	if s := mon.Stats().Snapshot(); s.ReopensTotal != 1 || s.ResyncsTotal != 2 {
		t.Errorf("stats %+v, want 1 reopen and 2 resyncs", s)
	}

	// Stopped, changed, run again.
	stop()
	<-socks
	n.setDown(t, "pup2")
	n.veth(t, "up3", "pup3")
	stop = run()
	w.awaitAll(t, "link-down up2", "link-added up3") // carrier loss goes through linkwatch: maybe after the dump
	w.check(t, Link{Index: up2, Name: "up2", Type: "veth", Addrs: pfx("198.18.2.2/24")}, Link{Index: n.link(t, "up3").Attrs().Index, Name: "up3", Type: "veth"})
}
