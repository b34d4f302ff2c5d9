//go:build netns

// SPDX-License-Identifier: MIT

package e2e

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"monami/testbed"
)

// TestAddressChangeIsNewCareOf changes the address of uplink wan1 (whose
// configuration names no source address) while traffic flows: the path is
// reopened on the new address, the home agent learns the new care-of
// address and endpoint, and traffic keeps flowing.
func TestAddressChangeIsNewCareOf(t *testing.T) {
	e := setupWith(t, testbed.Options{}, func(cfg string) string {
		return strings.Replace(cfg, "source = \"198.18.1.2\"\n", "", 1)
	})
	var old netip.Addr
	for _, u := range e.mrStatus(t).Uplinks {
		if u.Name == "wan1" {
			old = netip.MustParseAddr(u.Source)
		}
	}
	// The old address goes, a new one comes (as a new DHCP lease does),
	// and the route to the home agent the kernel dropped with the old one
	// comes back.
	newAddr, cmds := netip.MustParseAddr("198.18.1.5"), [][]string{
		{"ip", "addr", "del", "198.18.1.2/24", "dev", "wan1"},
		{"ip", "addr", "add", "198.18.1.5/24", "dev", "wan1"},
		{"ip", "route", "replace", "198.18.0.1/32", "via", "198.18.1.1", "dev", "wan1", "metric", "100"},
	}
	if old.Is6() {
		newAddr, cmds = netip.MustParseAddr("fd00:1::5"), [][]string{
			{"ip", "addr", "add", "fd00:1::5/64", "dev", "wan1", "nodad"},
			{"ip", "addr", "del", "fd00:1::2/64", "dev", "wan1"},
			{"ip", "route", "replace", "fd00::1/128", "via", "fd00:1::1", "dev", "wan1", "metric", "100"},
		}
	}
	t.Logf("wan1 moves from %v to %v", old, newAddr)
	changed := time.Now()
	for _, c := range cmds {
		if out, err := e.topo.Command(testbed.MR, c...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", c, err, out)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var src string
		for _, u := range e.mrStatus(t).Uplinks {
			if u.Name == "wan1" {
				src = u.Source
			}
		}
		var ep string
		for _, p := range e.haStatus(t).Peers[0].Paths {
			if p.BID == 1 && p.Up {
				ep = p.Endpoint
			}
		}
		// The new care-of address is whatever the interface has now: the new
		// IPv4 address, or its IPv6 one if that was there first.
		if a, err := netip.ParseAddr(src); err == nil && a != old {
			if hep, err := netip.ParseAddrPort(ep); err == nil && hep.Addr() == a {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the change the router uses %q and the home agent sends path 1 to %q; want a new address (%v or wan1's IPv6)", src, ep, newAddr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("path 1 moved to a new care-of address %v after the change", time.Since(changed))
	if st := e.mrStatus(t); st.Signaling.Updates == 0 {
		t.Errorf("no binding update after the address change: %+v", st.Signaling)
	}
	e.transfer(t, net.JoinHostPort(testbed.ServerAddr4, "5300"), 5, 8<<20)
}
