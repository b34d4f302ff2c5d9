//go:build netns

// SPDX-License-Identifier: MIT

package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"monami/testbed"
)

// TestSecondAddressAndVLAN adds two more paths: a second IPv4 address on
// wan1 (two paths on one interface, told apart by their source) and a VLAN
// sub-interface on wan2. All paths come up and carry the flows that a
// policy sends them by tag. A kernel
// without 802.1Q support (like this project's CI machine) runs the test
// without the VLAN path and says so.
func TestSecondAddressAndVLAN(t *testing.T) {
	topo, err := testbed.Build(fmt.Sprintf("mnt%d-", osPid()), testbed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { topo.Close() })
	if out, err := topo.Command(testbed.MR, "ip", "addr", "add", "198.18.1.3/24", "dev", "wan1").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	vlan := true
	if out, err := topo.Command(testbed.MR, "ip", "link", "add", "link", "wan2", "name", "wan2.7", "type", "vlan", "id", "7").CombinedOutput(); err != nil {
		if !strings.Contains(string(out), "Unknown device type") {
			t.Fatalf("add vlan: %v: %s", err, out)
		}
		t.Log("this kernel has no 802.1Q VLAN support: testing without the VLAN path")
		vlan = false
	}
	for _, c := range [][]string{
		{testbed.MR, "ip", "addr", "add", "198.18.7.2/24", "dev", "wan2.7"},
		{testbed.MR, "ip", "addr", "add", "198.18.7.2/24", "dev", "wan2.7"},
		{testbed.MR, "ip", "link", "set", "wan2.7", "up"},
		{testbed.MR, "ip", "route", "add", "198.18.0.1/32", "via", "198.18.7.1", "dev", "wan2.7", "metric", "300"},
		{testbed.HA, "ip", "link", "add", "link", "wan2", "name", "wan2.7", "type", "vlan", "id", "7"},
		{testbed.HA, "ip", "addr", "add", "198.18.7.1/24", "dev", "wan2.7"},
		{testbed.HA, "ip", "link", "set", "wan2.7", "up"},
	} {
		if !vlan {
			break
		}
		if out, err := topo.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", c, err, out)
		}
	}
	// Each path gets a tag, and a policy sends four of the sixteen
	// transfers below to the path with each tag: every path must carry
	// its four, whatever the flow hash does.
	var pol strings.Builder
	tags := []string{"one", "two", "three", "four"}
	if !vlan {
		tags = tags[:3] // the last four transfers go wherever the default sends them
	}
	for i, tag := range tags {
		fmt.Fprintf(&pol, "[[rule]]\nname = %q\n  [[rule.policy]]\n  name = %q\n  target = \"both\"\n"+
			"  proto = \"tcp\"\n  dst_ports = [\"%d-%d\"]\n  require_tags = [%q]\n  strict = true\n\n",
			tag, tag, 5200+4*i, 5203+4*i, tag)
	}
	polFile := filepath.Join(t.TempDir(), "paths.toml")
	if err := os.WriteFile(polFile, []byte(pol.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	want := 3
	e := startOn(t, topo, func(cfg string) string {
		cfg = strings.Replace(cfg, "name = \"wan1\"\n", "name = \"wan1\"\ntags = [\"one\"]\n", 1)
		cfg = strings.Replace(cfg, "name = \"wan2\"\n", "name = \"wan2\"\ntags = [\"two\"]\n", 1)
		cfg += "\n[[uplink]]\nname = \"wan1b\"\ninterface = \"wan1\"\nbid = 3\nsource = \"198.18.1.3\"\ntags = [\"three\"]\n"
		if vlan {
			want = 4
			cfg += "\n[[uplink]]\nname = \"vlan7\"\ninterface = \"wan2.7\"\nbid = 4\nsource = \"198.18.7.2\"\ntags = [\"four\"]\n"
		}
		return cfg + "\n[policy]\nfiles = [" + strconv.Quote(polFile) + "]\n"
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := e.mrStatus(t)
		up := 0
		for _, p := range st.Tunnel.Paths {
			if p.Up {
				up++
			}
		}
		if up == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not all %d paths up: %+v", want, st.Tunnel.Paths)
		}
		time.Sleep(100 * time.Millisecond)
	}
	before := e.mrStatus(t).Tunnel.Paths
	for i := range 16 {
		e.transfer(t, net.JoinHostPort(testbed.ServerAddr4, fmt.Sprint(5200+i)), uint64(i), 256<<10)
	}
	after := e.mrStatus(t).Tunnel.Paths
	for k := range after {
		data := (after[k].TxPackets - after[k].KeepalivesTx) - (before[k].TxPackets - before[k].KeepalivesTx)
		t.Logf("path %d (%s): %d data packets", after[k].BID, after[k].Name, data)
		// Four transfers of 256 KiB in packets of at most 1500 bytes.
		if data < 4*256<<10/1500 {
			t.Errorf("path %d (%s) carried %d packets, fewer than the four transfers its policy sends it",
				after[k].BID, after[k].Name, data)
		}
	}
	for _, p := range e.haStatus(t).Peers[0].Paths {
		if p.BID == 3 && !strings.HasPrefix(p.Endpoint, "198.18.1.3:") {
			t.Errorf("the HA sends path 3 to %s, want the second address", p.Endpoint)
		}
		if p.BID == 4 && !strings.HasPrefix(p.Endpoint, "198.18.7.2:") {
			t.Errorf("the HA sends path 4 to %s, want the VLAN address", p.Endpoint)
		}
	}
}
