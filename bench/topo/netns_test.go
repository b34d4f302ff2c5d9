//go:build netns

// SPDX-License-Identifier: MIT

package topo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var linkemBin string

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Println("topo: not root; namespace tests skipped")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "topo-test-")
	if err != nil {
		panic(err)
	}
	if out, err := exec.Command("go", "build", "-o", dir+"/", "monami/bench/cmd/linkem").CombinedOutput(); err != nil {
		fmt.Printf("build linkem: %v\n%s", err, out)
		os.Exit(1)
	}
	linkemBin = filepath.Join(dir, "linkem")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func nsExists(name string) bool {
	_, err := os.Stat("/run/netns/" + name)
	return err == nil
}

func TestBuildClose(t *testing.T) {
	for _, tool := range []string{"ip", "ethtool", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (bench/deps.sh)", tool)
		}
	}
	spec, err := ParseSpec("t", []byte(`
[[uplink]]
both = "delay=5ms"
[[uplink]]
emulate = false
`))
	if err != nil {
		t.Fatal(err)
	}
	prefix := RunPrefix() + "t-"
	tp, err := Build(context.Background(), spec, Options{Prefix: prefix, Dir: t.TempDir(), Linkem: linkemBin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	for _, r := range Roles() {
		if !nsExists(prefix + r) {
			t.Errorf("namespace %s missing", prefix+r)
		}
	}
	ping := func(dev, dst string) (time.Duration, error) {
		t0 := time.Now()
		_, err := tp.Exec(MR, "ping", "-c", "1", "-W", "2", "-I", dev, dst)
		return time.Since(t0), err
	}
	// Uplink 1 crosses the emulator (5 ms each way), uplink 2 is direct.
	if _, err := ping("wan1", "198.18.1.1"); err != nil { // ARP through the emulator
		t.Fatal(err)
	}
	if d, err := ping("wan1", "198.18.1.1"); err != nil || d < 10*time.Millisecond {
		t.Errorf("ping over the emulated uplink: %v, %v (want ≥ 10 ms)", d, err)
	}
	if _, err := ping("wan2", "198.18.2.1"); err != nil {
		t.Errorf("ping over the direct uplink: %v", err)
	}
	if _, err := tp.Exec(MR, "ping", "-c", "1", "-W", "2", HALo4); err != nil {
		t.Errorf("home agent loopback unreachable: %v", err)
	}
	// Live change: blackhole uplink 1, then restore.
	if err := tp.SetUplink(1, "both", "blackhole=on"); err != nil {
		t.Fatal(err)
	}
	if _, err := ping("wan1", "198.18.1.1"); err == nil {
		t.Error("ping crossed a blackhole")
	}
	if err := tp.SetUplink(1, "both", "blackhole=off"); err != nil {
		t.Fatal(err)
	}
	if _, err := ping("wan1", "198.18.1.1"); err != nil {
		t.Errorf("ping after the blackhole: %v", err)
	}
	st, err := tp.UplinkStats(1)
	if err != nil || st.AtoB.Drops["blackhole"] == 0 || st.AtoB.Drops["oversize"] != 0 {
		t.Errorf("stats %+v, %v", st.AtoB, err)
	}
	if err := tp.SetUplink(2, "both", "delay=1ms"); err == nil {
		t.Error("SetUplink on a direct veth accepted")
	}
	// Link down on the router side.
	if err := tp.SetLinkUp(2, false); err != nil {
		t.Fatal(err)
	}
	if _, err := ping("wan2", "198.18.2.1"); err == nil {
		t.Error("ping over a downed link")
	}
	if err := tp.Close(); err != nil {
		t.Fatal(err)
	}
	for _, r := range Roles() {
		if nsExists(prefix + r) {
			t.Errorf("namespace %s left behind", prefix+r)
		}
	}
	if p := tp.Emulator(1); p != nil && exec.Command("kill", "-0", fmt.Sprint(p.Pid)).Run() == nil {
		t.Error("linkem still running after Close")
	}
}

// TestCleanStale: namespaces of a harness pid that no longer exists are
// removed, with the processes inside; others are left alone.
func TestCleanStale(t *testing.T) {
	// A pid that is certainly not running: a child that has exited.
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("mbn%d-x-", c.Process.Pid)
	mine := RunPrefix() + "keep-"
	for _, n := range []string{dead + "mr", mine + "mr"} {
		if err := Run("ip", "netns", "add", n); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if nsExists(n) {
				Run("ip", "netns", "del", n)
			}
		})
	}
	sleeper := exec.Command("ip", "netns", "exec", dead+"mr", "sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sleeper.Wait() }()
	time.Sleep(200 * time.Millisecond)
	removed := CleanStale()
	if !strings.Contains(strings.Join(removed, " "), dead+"mr") || nsExists(dead+"mr") {
		t.Errorf("stale namespace not removed (removed %v)", removed)
	}
	if !nsExists(mine + "mr") {
		t.Error("a live harness's namespace was removed")
	}
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Error("the process inside the stale namespace was not killed")
		sleeper.Process.Kill()
	}
}
