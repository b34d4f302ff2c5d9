// SPDX-License-Identifier: MIT

package topo

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		name, src string
		err       string
		check     func(t *testing.T, s Spec)
	}{
		{name: "defaults", src: "name = \"x\"\n[[uplink]]\n[[uplink]]\nboth = \"rate=10mbit\"\n", check: func(t *testing.T, s Spec) {
			if s.Uplinks[0].Name != "wan1" || s.Uplinks[1].Name != "wan2" || s.Uplinks[0].MTU != 1500 {
				t.Errorf("defaults not applied: %+v", s.Uplinks)
			}
			if !s.Uplinks[0].Emulated() {
				t.Error("uplinks are emulated by default")
			}
			up, down, err := s.Uplinks[1].Params()
			if err != nil || up.Rate != 1250000 || down.Rate != 1250000 {
				t.Errorf("params %v %v %v", up, down, err)
			}
		}},
		{name: "up and down after both", src: "[[uplink]]\nboth = \"delay=10ms\"\nup = \"delay=20ms\"\n", check: func(t *testing.T, s Spec) {
			up, down, _ := s.Uplinks[0].Params()
			if up.Delay.Milliseconds() != 20 || down.Delay.Milliseconds() != 10 {
				t.Errorf("up %v down %v", up.Delay, down.Delay)
			}
		}},
		{name: "direct veth", src: "[[uplink]]\nemulate = false\n", check: func(t *testing.T, s Spec) {
			if s.Uplinks[0].Emulated() {
				t.Error("emulate = false ignored")
			}
		}},
		{name: "no uplinks", src: "name = \"x\"\n", err: "want 1..9 uplinks"},
		{name: "unknown key", src: "[[uplink]]\nspeed = 3\n", err: "unknown key"},
		{name: "bad params", src: "[[uplink]]\nboth = \"rate=fast\"\n", err: "rate=fast"},
		{name: "params without emulator", src: "[[uplink]]\nemulate = false\nboth = \"delay=1ms\"\n", err: "need emulate"},
		{name: "duplicate name", src: "[[uplink]]\nname = \"a\"\n[[uplink]]\nname = \"a\"\n", err: "duplicate"},
		{name: "reserved name", src: "[[uplink]]\nname = \"lan0\"\n", err: "bad or duplicate"},
		{name: "bad mtu", src: "[[uplink]]\nmtu = 100\n", err: "mtu"},
		{name: "bad toml", src: "[[uplink]\n", err: "t.toml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSpec("t.toml", []byte(tt.src))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

// TestShippedTopologies: every file under bench/topologies parses.
func TestShippedTopologies(t *testing.T) {
	files, _ := filepath.Glob("../topologies/*.toml")
	if len(files) == 0 {
		t.Fatal("no topology files")
	}
	for _, f := range files {
		if _, err := LoadSpec(f); err != nil {
			t.Error(err)
		}
	}
}

func TestUplinkAddrs(t *testing.T) {
	mr4, ha4, mr6, ha6 := UplinkAddrs(2)
	if mr4 != "198.18.2.2" || ha4 != "198.18.2.1" || mr6 != "fd00:2::2" || ha6 != "fd00:2::1" {
		t.Errorf("UplinkAddrs(2) = %s %s %s %s", mr4, ha4, mr6, ha6)
	}
	if !strings.HasPrefix(RunPrefix(), "mbn") || !strings.Contains(RunPrefix(), "-") {
		t.Errorf("RunPrefix %q", RunPrefix())
	}
}

func FuzzParseSpec(f *testing.F) {
	f.Add([]byte("name = \"x\"\n[[uplink]]\nboth = \"rate=10mbit delay=5ms\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSpec("f.toml", b)
		if err != nil {
			return
		}
		for _, u := range s.Uplinks {
			if u.Name == "" || u.MTU == 0 {
				t.Fatalf("accepted spec not normalized: %+v", u)
			}
		}
	})
}
