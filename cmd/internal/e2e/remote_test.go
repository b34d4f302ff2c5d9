//go:build netns

// SPDX-License-Identifier: MIT

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"monami/testbed"
)

// TestRemotePolicy adds a policy on the home agent's control socket for
// mr1 (a remote requester): it travels over the signaling channel, the
// router resolves it like its own and lists it under the peer requester,
// and a bad policy comes back refused with its line.
func TestRemotePolicy(t *testing.T) {
	e := setup(t, testbed.Options{})
	ctl := filepath.Join(binDir, "monamictl")
	haSock, mrSock := filepath.Join(e.dir, "ha-mr1.sock"), filepath.Join(e.dir, "mr.sock")
	good := filepath.Join(e.dir, "ssh.toml")
	os.WriteFile(good, []byte(`
[[rule]]
name = "ssh"
  [[rule.policy]]
  name = "ssh"
  src = ["198.18.10.0/24"]
  proto = "tcp"
  dst_ports = ["22"]
  prefer = ["delay"]
`), 0o600)
	out, err := e.topo.Command(testbed.HA, ctl, "-socket", haSock, "policy", "add", good, "-lifetime", "10m").CombinedOutput()
	if err != nil {
		t.Fatalf("policy add on the home agent: %v\n%s", err, out)
	}
	id := strings.TrimSpace(strings.Split(string(out), "\n")[0])
	out, err = e.topo.Command(testbed.MR, ctl, "-socket", mrSock, "policy", "list", "-all").CombinedOutput()
	if err != nil || !strings.Contains(string(out), id) || !strings.Contains(string(out), "peer:") {
		t.Fatalf("the router does not list the remote policy %q: %v\n%s", id, err, out)
	}
	out, err = e.topo.Command(testbed.HA, ctl, "-socket", haSock, "rules", "-format", "iptables").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--dport 22") || !strings.Contains(string(out), "--set-mark") {
		t.Fatalf("rules through the home agent: %v\n%s", err, out)
	}
	bad := filepath.Join(e.dir, "bad.toml")
	os.WriteFile(bad, []byte("[[rule]]\nname = \"x\"\n  [[rule.policy]]\n  name = \"y\"\n  interface = \"wan1\"\n"), 0o600)
	out, err = e.topo.Command(testbed.HA, ctl, "-socket", haSock, "policy", "add", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "interface") {
		t.Fatalf("a policy naming an interface was not refused with its key: %v\n%s", err, out)
	}
	out, err = e.topo.Command(testbed.HA, ctl, "-socket", haSock, "policy", "rm", id).CombinedOutput()
	if err != nil {
		t.Fatalf("policy rm through the home agent: %v\n%s", err, out)
	}
}
