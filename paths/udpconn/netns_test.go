// SPDX-License-Identifier: MIT

//go:build netns

package udpconn

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// testNetns is a network namespace the test created; it is deleted when the
// test ends.
type testNetns struct {
	name string
	ns   netns.NsHandle
	h    *netlink.Handle
}

func newNetns(t *testing.T, suffix string) *testNetns {
	t.Helper()
	name := fmt.Sprintf("monudp%d-%s", os.Getpid(), suffix)
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
	n := &testNetns{name: name, ns: ns}
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
	lo, err := n.h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	n.must(t, n.h.LinkSetUp(lo))
	return n
}

func (n *testNetns) must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("netns %s: %v", n.name, err)
	}
}

// addr adds prefix to the link named dev (IPv6 without DAD).
func (n *testNetns) addr(t *testing.T, dev, prefix string) {
	t.Helper()
	l, err := n.h.LinkByName(dev)
	n.must(t, err)
	a, err := netlink.ParseAddr(prefix)
	n.must(t, err)
	if a.IP.To4() == nil {
		a.Flags = unix.IFA_F_NODAD
	}
	n.must(t, n.h.AddrAdd(l, a))
	n.must(t, n.h.LinkSetUp(l))
}

// route adds dst via gw on dev with metric.
func (n *testNetns) route(t *testing.T, dst, gw, dev string, metric int) {
	t.Helper()
	l, err := n.h.LinkByName(dev)
	n.must(t, err)
	_, d, err := net.ParseCIDR(dst)
	n.must(t, err)
	n.must(t, n.h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: d, Gw: net.ParseIP(gw), Priority: metric}))
}

// do runs fn on a thread inside the namespace (sockets made there stay in it).
func (n *testNetns) do(t *testing.T, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer func() {
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		orig.Close()
	}()
	n.must(t, netns.Set(n.ns))
	fn()
}

// TestBindToDevice: a router namespace reaches the same destination address
// (198.18.0.1 / fd00::1) through two uplinks, each a veth to its own peer
// namespace. The route via uplink 1 has the better metric. A socket bound to
// uplink 2 must still send out of uplink 2, and a socket bound to uplink 1
// out of uplink 1: each peer receives only its own uplink's datagram, with
// that uplink's source address.
func TestBindToDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	mr := newNetns(t, "mr")
	peers := []*testNetns{newNetns(t, "p1"), newNetns(t, "p2")}
	for i, p := range peers {
		up, peer := fmt.Sprintf("wan%d", i+1), fmt.Sprintf("ha%d", i+1)
		mr.must(t, mr.h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: up}, PeerName: peer, PeerNamespace: netlink.NsFd(p.ns)}))
		mr.addr(t, up, fmt.Sprintf("198.18.%d.2/24", i+1))
		mr.addr(t, up, fmt.Sprintf("fd00:%d::2/64", i+1))
		p.addr(t, peer, fmt.Sprintf("198.18.%d.1/24", i+1))
		p.addr(t, peer, fmt.Sprintf("fd00:%d::1/64", i+1))
		p.addr(t, "lo", "198.18.0.1/32")
		p.addr(t, "lo", "fd00::1/128")
		mr.route(t, "198.18.0.1/32", fmt.Sprintf("198.18.%d.1", i+1), up, 100*(i+1))
		mr.route(t, "fd00::1/128", fmt.Sprintf("fd00:%d::1", i+1), up, 100*(i+1))
	}

	for _, fam := range []struct {
		name   string
		dst    netip.AddrPort
		any    netip.Addr
		source func(i int) netip.Addr
	}{
		{name: "ipv4", dst: netip.MustParseAddrPort("198.18.0.1:7777"), any: netip.IPv4Unspecified(),
			source: func(i int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("198.18.%d.2", i+1)) }},
		{name: "ipv6", dst: netip.MustParseAddrPort("[fd00::1]:7777"), any: netip.IPv6Unspecified(),
			source: func(i int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("fd00:%d::2", i+1)) }},
	} {
		t.Run(fam.name, func(t *testing.T) {
			listeners := make([]*Conn, len(peers))
			for i, p := range peers {
				p.do(t, func() {
					c, err := Open(Options{Source: fam.dst})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { c.Close() })
					listeners[i] = c
				})
			}
			// Senders: a Conn and a plain Listen socket per uplink, sending
			// in reverse order so the better route is not simply "first".
			for i := len(peers) - 1; i >= 0; i-- {
				up := fmt.Sprintf("wan%d", i+1)
				mr.do(t, func() {
					c, err := Open(Options{Interface: up, Source: netip.AddrPortFrom(fam.any, 0)})
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					if err := c.Write([][]byte{[]byte("conn via " + up)}, fam.dst); err != nil {
						t.Fatalf("write via %s: %v", up, err)
					}
					pc, err := Listen(up, netip.AddrPortFrom(fam.any, 0))
					if err != nil {
						t.Fatal(err)
					}
					defer pc.Close()
					if _, err := pc.WriteToUDPAddrPort([]byte("plain via "+up), fam.dst); err != nil {
						t.Fatalf("plain write via %s: %v", up, err)
					}
				})
			}
			for i, l := range listeners {
				up := fmt.Sprintf("wan%d", i+1)
				got, from := receive(t, l, 2, 128)
				for k, want := range []string{"conn via " + up, "plain via " + up} {
					if string(got[k]) != want || from[k].Addr() != fam.source(i) {
						t.Errorf("peer %d datagram %d: %q from %v, want %q from %v", i+1, k, got[k], from[k], want, fam.source(i))
					}
				}
			}
			// Nothing else arrived: a last marker from each uplink is the
			// next datagram each peer reads.
			for i := range peers {
				up := fmt.Sprintf("wan%d", i+1)
				mr.do(t, func() {
					c, err := Open(Options{Interface: up, Source: netip.AddrPortFrom(fam.any, 0)})
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					if err := c.Write([][]byte{[]byte("marker")}, fam.dst); err != nil {
						t.Fatal(err)
					}
				})
				got, _ := receive(t, listeners[i], 1, 128)
				if string(got[0]) != "marker" {
					t.Errorf("peer %d received a stray %q", i+1, got[0])
				}
			}
		})
	}
}
