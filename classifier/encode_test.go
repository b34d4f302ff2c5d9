// SPDX-License-Identifier: MIT

package classifier

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"monami/paths"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func encode(t *testing.T, rules []FilterRule) (nft, ipt []byte) {
	t.Helper()
	var a, b bytes.Buffer
	if err := WriteNft(&a, rules); err != nil {
		t.Fatal(err)
	}
	if err := WriteIptables(&b, rules); err != nil {
		t.Fatal(err)
	}
	return a.Bytes(), b.Bytes()
}

// TestEncodePaper: the paper's examples (§4.1) come out as the NEPL-style
// marking rules it shows, with BIDs the resolution chose.
func TestEncodePaper(t *testing.T) {
	rules := mustParse(t, "paper.toml", readTestdata(t, "policies/paper.toml"))
	res := Resolve([]PolicySet{{Requester: "user", Rules: rules}}, []PathInfo{
		{BID: 10, Name: "wlan0", Up: true, RTT: 30 * ms, Tags: []string{"wifi"}},
		{BID: 20, Name: "wwan0", Up: true, RTT: 80 * ms, Tags: []string{"lte"}},
	}, now, nil)
	nft, ipt := encode(t, res.Local())
	golden(t, "paper.nft", nft)
	golden(t, "paper.iptables", ipt)
	for _, want := range []string{
		"ip6 saddr 2001:db8:0:f011::/64 meta l4proto tcp th dport 22 meta mark set 10 return",
		"ip6 saddr 2001:db8:0:f011::/64 meta mark set 20 return",
	} {
		if !strings.Contains(string(nft), "\t\t"+want+"\n") {
			t.Errorf("nft lacks %q", want)
		}
	}
	for _, want := range []string{
		"ip6tables -t mangle -A MONAMI -s 2001:db8:0:f011::/64 -p tcp --dport 22 -j MARK --set-mark 10",
		"ip6tables -t mangle -A MONAMI -s 2001:db8:0:f011::/64 -j MARK --set-mark 20",
	} {
		if !strings.Contains(string(ipt), "\n"+want+"\n") {
			t.Errorf("iptables lacks %q", want)
		}
	}
}

// TestEncodeAll covers every selector field, every mode and the split of
// lists the commands cannot take at once.
func TestEncodeAll(t *testing.T) {
	many := make([]PortRange, 0, 20)
	for p := range uint16(12) {
		many = append(many, PortRange{1000 + p, 1000 + p})
	}
	many = append(many, PortRange{2000, 2100}, PortRange{3000, 3100})
	rules := []FilterRule{
		{Index: 0, Ref: PolicyRef{Requester: "a", Rule: "r", Policy: "both-families"}, BIDs: []paths.BID{1, 2},
			Selector: Selector{Dst: []netip.Prefix{pfx("198.18.20.0/24"), pfx("fd00:20::/64")}, Proto: []uint8{17},
				SrcPorts: []PortRange{{16384, 32767}}, DSCP: []uint8{46, 34}}},
		{Index: 1, Ref: PolicyRef{Requester: "a", Rule: "r", Policy: "labels"}, Mode: ModeStripe, BIDs: []paths.BID{2, 1},
			Weights: []uint32{3, 1}, Selector: Selector{FlowLabel: []uint32{4711, 0x12345}}},
		{Index: 2, Ref: PolicyRef{Requester: "a", Rule: "r", Policy: "ports-any-proto"}, Mode: ModeRedundant, BIDs: []paths.BID{1, 2},
			Selector: Selector{Src: []netip.Prefix{pfx("198.18.10.0/24"), pfx("198.18.11.0/24")}, DstPorts: many}},
		{Index: 3, Ref: PolicyRef{Requester: "a", Rule: "r", Policy: "telnet"}, Mode: ModeDrop, Fallback: true,
			Selector: Selector{Proto: []uint8{6, 1}, DstPorts: []PortRange{{23, 23}}}},
		{Index: 4, Ref: PolicyRef{Requester: "b\nc", Rule: "r", Policy: "no-path"}, Fallback: true,
			Selector: Selector{Proto: []uint8{58, 47}}},
		{Index: 5, Ref: PolicyRef{Requester: "a", Rule: "r", Policy: "everything"}, BIDs: []paths.BID{3}},
	}
	nft, ipt := encode(t, rules)
	golden(t, "all.nft", nft)
	golden(t, "all.iptables", ipt)
	if strings.Contains(string(nft), "b\nc") || strings.Contains(string(ipt), "b\nc") {
		t.Error("a requester's newline reached the output")
	}
}

func TestEncodeInvalid(t *testing.T) {
	bad := []FilterRule{{BIDs: []paths.BID{1}, Selector: Selector{Src: []netip.Prefix{netip.PrefixFrom(lan4, 8)}}}}
	for name, write := range map[string]func(*bytes.Buffer, []FilterRule) error{
		"nft":      func(b *bytes.Buffer, r []FilterRule) error { return WriteNft(b, r) },
		"iptables": func(b *bytes.Buffer, r []FilterRule) error { return WriteIptables(b, r) },
	} {
		var b bytes.Buffer
		if err := write(&b, bad); err == nil || !strings.Contains(err.Error(), "host bits") || b.Len() != 0 {
			t.Errorf("%s: err %v, wrote %d bytes", name, err, b.Len())
		}
	}
}

// TestEncodeLoads feeds the golden scripts to the real nft and iptables,
// twice each (the scripts replace what they installed before), inside a
// network namespace of their own that ends with the command. It needs
// root, unshare, nft and iptables, and skips without them.
func TestEncodeLoads(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, tool := range []string{"unshare", "nft", "iptables", "ip6tables"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	for _, tc := range []struct{ file, script string }{
		{"paper.nft", "nft -f %[1]s && nft -f %[1]s && nft list table inet monami"},
		{"all.nft", "nft -f %[1]s && nft -f %[1]s && nft list table inet monami"},
		{"paper.iptables", "sh -e %[1]s && sh -e %[1]s && ip6tables -t mangle -S MONAMI"},
		{"all.iptables", "sh -e %[1]s && sh -e %[1]s && iptables -t mangle -S MONAMI"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			out, err := exec.Command("unshare", "-n", "sh", "-c", fmt.Sprintf(tc.script, path)).CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(string(out), "MONAMI") && !strings.Contains(string(out), "chain classify") {
				t.Errorf("nothing installed:\n%s", out)
			}
		})
	}
}
