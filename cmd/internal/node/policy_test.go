// SPDX-License-Identifier: MIT

package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"monami/classifier"
	"monami/signaling/control"
)

// Policy files reload as a whole: a good file replaces the rules, a bad
// one is refused with every error and the running rules stay.
func TestPolicyReload(t *testing.T) {
	p := startPair(t, "aes-256-gcm")
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.toml")
	os.WriteFile(file, []byte(`
[[rule]]
name = "ssh"
  [[rule.policy]]
  name = "ssh"
  proto = "tcp"
  dst_ports = ["22"]
  prefer = ["delay"]
`), 0o600)
	p.mr.cfg.Policy.Files = []string{file}
	if err := p.mr.Reload(); err != nil {
		t.Fatal(err)
	}
	rules := func() []classifier.FilterRule {
		p.mr.pol.resolve()
		p.mr.pol.mu.Lock()
		defer p.mr.pol.mu.Unlock()
		return p.mr.pol.res.Rules
	}
	if rs := rules(); len(rs) != 1 || len(rs[0].BIDs) == 0 {
		t.Fatalf("rules after a good reload: %+v", rs)
	}
	os.WriteFile(file, []byte("[[rule]]\nname = \"ssh\"\n  [[rule.policy]]\n  name = \"ssh\"\n  max_delay = \"soon\"\n  bid = 3\n"), 0o600)
	err := p.mr.Reload()
	if err == nil {
		t.Fatal("a bad policy file was accepted")
	}
	for _, want := range []string{"policy.toml:5", "max_delay", "policy.toml:6", "bid"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("reload error %q does not name %q", err, want)
		}
	}
	if rs := rules(); len(rs) != 1 {
		t.Fatalf("a refused reload changed the rules: %+v", rs)
	}
}

// Local requesters add, list and withdraw their own policies; an
// unsatisfiable one is accepted with an error and falls back (strict:
// drops); another requester may not withdraw it; lifetimes expire.
func TestRequesterPolicies(t *testing.T) {
	p := startPair(t, "aes-256-gcm")
	b := backend{p.mr.pol}
	alice, bob := control.LocalRequester(1000), control.LocalRequester(1001)
	info, err := b.AddPolicy(alice, []byte(`
[[rule]]
name = "huge"
  [[rule.policy]]
  name = "huge"
  proto = "udp"
  min_bandwidth = "100Gbit"
`), 0)
	if err != nil {
		t.Fatal(err)
	}
	if info.Rules != 1 || len(info.Errors) == 0 {
		t.Fatalf("unsatisfiable policy: %+v; want one fallback rule and an error", info)
	}
	strict, err := b.AddPolicy(alice, []byte(`
[[rule]]
name = "strict"
  [[rule.policy]]
  name = "strict"
  proto = "tcp"
  dst_ports = ["9"]
  min_bandwidth = "100Gbit"
  strict = true
`), 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	p.mr.pol.mu.Lock()
	var drop bool
	for _, r := range p.mr.pol.res.Rules {
		if strings.HasSuffix(r.Ref.Requester, strict.ID) && r.Mode == classifier.ModeDrop && r.Fallback {
			drop = true
		}
	}
	p.mr.pol.mu.Unlock()
	if !drop {
		t.Error("an unsatisfiable strict policy did not become a drop rule")
	}
	if l, _ := b.ListPolicies(bob, false); len(l) != 0 {
		t.Errorf("bob sees alice's policies: %+v", l)
	}
	if err := b.RemovePolicy(bob, info.ID); !errors.Is(err, control.ErrForbidden) {
		t.Errorf("bob removed alice's policy: %v", err)
	}
	if _, err := b.AddPolicy(bob, []byte("[[rule]]\nname = \"x\"\n  [[rule.policy]]\n  name = \"y\"\n  interface = \"up1\"\n"), 0); err == nil {
		t.Error("a policy naming an interface was accepted (R1.2)")
	}
	time.Sleep(300 * time.Millisecond)
	p.mr.pol.resolve()
	if l, _ := b.ListPolicies(alice, false); len(l) != 1 || l[0].ID != info.ID {
		t.Errorf("after the strict one's lifetime alice has %+v; want only %s", l, info.ID)
	}
	if err := b.RemovePolicy(alice, info.ID); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{control.FormatJSON, control.FormatNft, control.FormatIptables} {
		if _, _, err := b.Rules(f); err != nil {
			t.Errorf("rules %s: %v", f, err)
		}
	}
}
