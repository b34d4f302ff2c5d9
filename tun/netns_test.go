// SPDX-License-Identifier: MIT

//go:build netns

package tun

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	gcsum "gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// inNewNetns runs fn on a thread moved into a fresh, named network namespace
// that the test deletes afterwards. The thread goes back to the original
// namespace when fn returns (also on t.Fatal); if that fails the thread
// stays locked and dies with the goroutine.
func inNewNetns(t *testing.T, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("needs /dev/net/tun")
	}
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
	name := fmt.Sprintf("montun%d-%s", os.Getpid(), strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()))
	ns, err := netns.NewNamed(name)
	if err != nil {
		t.Fatalf("create netns %s: %v", name, err)
	}
	t.Cleanup(func() {
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	fn()
}

// readUntil reads packets from dev until match accepts one or the timeout
// passes; it closes dev on timeout to unblock Read.
func readUntil(t *testing.T, dev *Device, match func([]byte) bool) []byte {
	t.Helper()
	found := make(chan []byte, 1)
	go func() {
		bufs := make([][]byte, dev.BatchSize())
		for i := range bufs {
			bufs[i] = make([]byte, Offset+65535)
		}
		sizes := make([]int, len(bufs))
		for {
			n, err := dev.Read(bufs, sizes, Offset)
			if err != nil {
				found <- nil
				return
			}
			for i := range n {
				if p := bufs[i][Offset : Offset+sizes[i]]; match(p) {
					found <- slices.Clone(p)
					return
				}
			}
		}
	}()
	select {
	case p := <-found:
		if p == nil {
			t.Fatal("Read failed before the packet arrived")
		}
		return p
	case <-time.After(5 * time.Second):
		dev.Close()
		<-found
		t.Fatal("packet not read from the TUN")
	}
	return nil
}

// udpTo returns a matcher for a UDP packet to dst carrying payload, checking
// the IP and UDP checksums.
func udpTo(dst netip.AddrPort, payload []byte) func([]byte) bool {
	return func(p []byte) bool {
		var (
			l4       []byte
			src, dip netip.Addr
		)
		switch header.IPVersion(p) {
		case 4:
			h := header.IPv4(p)
			if !h.IsValid(len(p)) || h.TransportProtocol() != header.UDPProtocolNumber || !h.IsChecksumValid() {
				return false
			}
			src, dip = netip.AddrFrom4(h.SourceAddress().As4()), netip.AddrFrom4(h.DestinationAddress().As4())
			l4 = h.Payload()
		case 6:
			h := header.IPv6(p)
			if !h.IsValid(len(p)) || h.TransportProtocol() != header.UDPProtocolNumber {
				return false
			}
			src, dip = netip.AddrFrom16(h.SourceAddress().As16()), netip.AddrFrom16(h.DestinationAddress().As16())
			l4 = h.Payload()
		default:
			return false
		}
		u := header.UDP(l4)
		if dip != dst.Addr() || u.DestinationPort() != dst.Port() || string(u.Payload()) != string(payload) {
			return false
		}
		return u.IsChecksumValid(tcpipAddr(src), tcpipAddr(dip), gcsum.Checksum(u.Payload(), 0))
	}
}

func TestOpenConfiguresAndCarries(t *testing.T) {
	inNewNetns(t, func() {
		opts := Options{
			Name:        "montest0",
			MTU:         1400,
			Addresses:   []netip.Prefix{netip.MustParsePrefix("198.18.98.1/24"), netip.MustParsePrefix("fd00:98::1/64")},
			Routes:      []netip.Prefix{netip.MustParsePrefix("198.18.99.0/24"), netip.MustParsePrefix("fd00:99::/64")},
			RouteMetric: 50,
			Logger:      testLogger(t),
		}
		dev, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer dev.Close()
		if dev.LinkName() != "montest0" {
			t.Fatalf("name %q", dev.LinkName())
		}
		if dev.BatchSize() != 128 {
			t.Logf("BatchSize %d: the kernel refused the TUN offloads", dev.BatchSize())
		}

		link, err := netlink.LinkByName("montest0")
		if err != nil {
			t.Fatal(err)
		}
		if link.Attrs().Flags&net.FlagUp == 0 || link.Attrs().MTU != 1400 {
			t.Fatalf("link flags %v mtu %d", link.Attrs().Flags, link.Attrs().MTU)
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range opts.Addresses {
			i := slices.IndexFunc(addrs, func(a netlink.Addr) bool { return a.IPNet.String() == want.String() })
			if i < 0 {
				t.Fatalf("address %s missing from %v", want, addrs)
			}
			if want.Addr().Is6() && (addrs[i].Flags&unix.IFA_F_NODAD == 0 || addrs[i].Flags&unix.IFA_F_TENTATIVE != 0) {
				t.Fatalf("address %s flags %#x: want nodad, not tentative", want, addrs[i].Flags)
			}
		}
		routes, err := netlink.RouteList(link, netlink.FAMILY_ALL)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range opts.Routes {
			i := slices.IndexFunc(routes, func(r netlink.Route) bool { return r.Dst != nil && r.Dst.String() == want.String() })
			if i < 0 {
				t.Fatalf("route %s missing from %v", want, routes)
			}
			if r := routes[i]; r.Priority != 50 || r.Protocol != unix.RTPROT_STATIC {
				t.Fatalf("route %s: metric %d protocol %d", want, r.Priority, r.Protocol)
			}
		}

		for _, tc := range []struct {
			name    string
			network string
			dst     string
		}{
			{name: "ipv4", network: "udp4", dst: "198.18.99.5:9999"},
			{name: "ipv6", network: "udp6", dst: "[fd00:99::5]:9999"},
		} {
			dst := netip.MustParseAddrPort(tc.dst)
			payload := []byte("hello through the tun, " + tc.name)
			c, err := net.ListenUDP(tc.network, nil) // on this thread: in the namespace
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.WriteToUDPAddrPort(payload, dst); err != nil {
				t.Fatalf("%s: send: %v", tc.name, err)
			}
			c.Close()
			readUntil(t, dev, udpTo(dst, payload))
		}

		extra := netip.MustParsePrefix("198.18.97.0/24")
		if err := dev.AddRoute(extra); err != nil {
			t.Fatal(err)
		}
		if err := dev.AddRoute(extra); err == nil {
			t.Fatal("adding a route twice succeeded")
		}
		if got := routeCount(t, link, extra); got != 1 {
			t.Fatalf("AddRoute: %d routes to %s", got, extra)
		}
		if err := dev.DelRoute(extra); err != nil {
			t.Fatal(err)
		}
		if got := routeCount(t, link, extra); got != 0 {
			t.Fatalf("DelRoute: %d routes to %s", got, extra)
		}

		if err := dev.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := dev.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		for range dev.Events() { // closed by Close
		}
		waitLinkGone(t, "montest0")
	})
}

func TestOpenCleansUpOnError(t *testing.T) {
	inNewNetns(t, func() {
		// IPv6 is disabled on links with an MTU below 1280, so adding the
		// IPv6 address fails after the link was created.
		_, err := Open(Options{
			Name:      "montest1",
			MTU:       1200,
			Addresses: []netip.Prefix{netip.MustParsePrefix("198.18.98.1/24"), netip.MustParsePrefix("fd00:98::1/64")},
		})
		if err == nil || !strings.Contains(err.Error(), "add address fd00:98::1/64") {
			t.Fatalf("Open = %v, want an add-address error", err)
		}
		waitLinkGone(t, "montest1")

		_, err = Open(Options{Name: "montest2", Routes: []netip.Prefix{netip.MustParsePrefix("198.18.99.0/24"), netip.MustParsePrefix("198.18.99.0/24")}})
		if err == nil || !strings.Contains(err.Error(), "add route") {
			t.Fatalf("Open = %v, want an add-route error", err)
		}
		waitLinkGone(t, "montest2")
	})
}

func TestOpenDefaults(t *testing.T) {
	inNewNetns(t, func() {
		dev, err := Open(Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer dev.Close()
		if name, _ := dev.Name(); name != DefaultName {
			t.Fatalf("name %q", name)
		}
		if mtu, _ := dev.MTU(); mtu != DefaultMTU {
			t.Fatalf("mtu %d", mtu)
		}
	})
}

func routeCount(t *testing.T, link netlink.Link, p netip.Prefix) int {
	t.Helper()
	routes, err := netlink.RouteList(link, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range routes {
		if r.Dst != nil && r.Dst.String() == p.String() {
			n++
		}
	}
	return n
}

// waitLinkGone waits (briefly) for the kernel to delete the link.
func waitLinkGone(t *testing.T, name string) {
	t.Helper()
	for range 100 {
		_, err := netlink.LinkByName(name)
		if _, ok := errors.AsType[netlink.LinkNotFoundError](err); ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("link %s still exists", name)
}
