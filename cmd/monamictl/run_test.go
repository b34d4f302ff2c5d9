// SPDX-License-Identifier: MIT

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"monami/signaling/control"
)

// fakeBackend stands in for the daemon (which implements control.Backend
// for real and is wired by cmd/monami-mr): policies in a map, and each
// line starting with "bad" in a policy is one error of an errors.Join.
type fakeBackend struct {
	mu        sync.Mutex
	next      int
	policies  []control.PolicyInfo
	reloadErr error
}

func (f *fakeBackend) AddPolicy(r control.Requester, doc []byte, lifetime time.Duration) (control.PolicyInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	info := control.PolicyInfo{Requester: r.Name, Added: time.Now(), Name: "p"}
	for i, line := range strings.Split(string(doc), "\n") {
		switch {
		case strings.HasPrefix(line, "bad"):
			errs = append(errs, fmt.Errorf("line %d: %s", i+1, line))
		case strings.HasPrefix(line, "warn"):
			info.Warnings = append(info.Warnings, line)
		case line == "[[rule]]":
			info.Rules++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return control.PolicyInfo{}, err
	}
	f.next++
	info.ID = "p" + strconv.Itoa(f.next)
	if lifetime > 0 {
		info.Expires = info.Added.Add(lifetime)
	}
	f.policies = append(f.policies, info)
	return info, nil
}

func (f *fakeBackend) ListPolicies(r control.Requester, all bool) ([]control.PolicyInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.policies), nil
}

func (f *fakeBackend) RemovePolicy(r control.Requester, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, p := range f.policies {
		if p.ID == id {
			f.policies = slices.Delete(f.policies, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("policy %s: %w", id, control.ErrNotFound)
}

func (f *fakeBackend) Rules(format string) ([]byte, string, error) {
	return []byte("rules in " + format), "", nil
}

func (f *fakeBackend) Paths() []control.PathView {
	return []control.PathView{
		{BID: 10, Name: "wan1", Interface: "wan1", State: "up", RTTMillis: 12.5, Loss: 0.01, CapacityBps: 5e7,
			Local: "198.18.1.2:4500", Remote: "198.18.0.1:4500", Tags: []string{"cheap", "wired"}},
		{BID: 20, Name: "lte", Interface: "wan2", State: "down", Metered: true, CapReached: true, CostPerGB: 2},
	}
}

func (f *fakeBackend) PeerAddrs() []control.PeerAddr {
	return []control.PeerAddr{{Addr: "198.18.0.1", Kind: "in-use"}, {Addr: "fd00::1"}}
}

func (f *fakeBackend) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reloadErr
}

type fixture struct {
	socket  string
	backend *fakeBackend
	hub     *control.Hub
}

// start serves the control API with a fake backend on a real unix socket
// in t.TempDir() until the test ends.
func start(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{socket: filepath.Join(t.TempDir(), "mr.sock"), backend: &fakeBackend{}, hub: control.NewHub()}
	ln, err := control.Listen(f.socket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- control.Serve(ctx, ln, control.ServerOptions{Backend: f.backend, Hub: f.hub}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return f
}

// ctl runs monamictl against the fixture's socket with stdin.
func (f *fixture) ctl(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return ctlContext(t, t.Context(), f.socket, stdin, args...)
}

func ctlContext(t *testing.T, ctx context.Context, socket, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runContext(ctx, append([]string{"-socket", socket}, args...), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	f := start(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "no command", args: nil, wantCode: 2, wantErr: "usage:"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantErr: `unknown command "frobnicate"`},
		{name: "policy alone", args: []string{"policy"}, wantCode: 2, wantErr: "want add, list or rm"},
		{name: "policy unknown", args: []string{"policy", "edit"}, wantCode: 2, wantErr: `"edit"`},
		{name: "add without file", args: []string{"policy", "add"}, wantCode: 2, wantErr: "want FILE"},
		{name: "add two files", args: []string{"policy", "add", "a", "b"}, wantCode: 2, wantErr: "want FILE"},
		{name: "bad lifetime", args: []string{"policy", "add", "-", "-lifetime", "soon"}, wantCode: 2, wantErr: "invalid value"},
		{name: "lifetime too long", args: []string{"policy", "add", "-", "-lifetime", "721h"}, wantCode: 2, wantErr: "between 0 and"},
		{name: "rm without id", args: []string{"policy", "rm"}, wantCode: 2, wantErr: "want ID"},
		{name: "list extra", args: []string{"policy", "list", "x"}, wantCode: 2, wantErr: `unexpected argument "x"`},
		{name: "unknown flag", args: []string{"paths", "-wide"}, wantCode: 2, wantErr: "-wide"},
		{name: "bad format", args: []string{"rules", "-format", "xml"}, wantCode: 2, wantErr: `unknown format "xml"`},
		{name: "negative n", args: []string{"events", "-n", "-1"}, wantCode: 2, wantErr: "-n"},
		{name: "help", args: []string{"-h"}, wantCode: 0, wantErr: "usage:"},
		{name: "subcommand help", args: []string{"policy", "add", "-h"}, wantCode: 0, wantErr: "-lifetime"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := f.ctl(t, "", tc.args...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut, tc.wantCode, tc.wantErr)
			}
			if out != "" {
				t.Fatalf("stdout %q", out)
			}
		})
	}
	// The thin wrapper main uses.
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb); code != 2 {
		t.Fatalf("run(nil) = %d", code)
	}
	if code := run([]string{"-socket", f.socket, "peer"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "fd00::1") {
		t.Fatalf("run peer = %d, %q %q", code, out.String(), errb.String())
	}
}

func TestPolicyCommands(t *testing.T) {
	f := start(t)
	file := filepath.Join(t.TempDir(), "video.toml")
	if err := os.WriteFile(file, []byte("[[rule]]\nwarn: uses a metered path\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// From a file, flags after the file.
	code, out, errOut := f.ctl(t, "", "policy", "add", file, "-lifetime", "10m")
	if code != 0 || out != "p1\n" || !strings.Contains(errOut, "warning: warn: uses a metered path") {
		t.Fatalf("add file: %d %q %q", code, out, errOut)
	}
	// From stdin, flags first.
	code, out, errOut = f.ctl(t, "[[rule]]\n", "policy", "add", "-lifetime=0", "-")
	if code != 0 || out != "p2\n" || errOut != "" {
		t.Fatalf("add stdin: %d %q %q", code, out, errOut)
	}
	// Every error of a refused policy, one per line, exit 1.
	code, out, errOut = f.ctl(t, "bad a\n[[rule]]\nbad b\n", "policy", "add", "-")
	want := "monamictl: line 1: bad a\nmonamictl: line 3: bad b\n"
	if code != 1 || out != "" || errOut != want {
		t.Fatalf("add bad: %d %q %q, want stderr %q", code, out, errOut, want)
	}
	// A missing file.
	if code, _, errOut := f.ctl(t, "", "policy", "add", filepath.Join(t.TempDir(), "nope")); code != 1 || !strings.Contains(errOut, "no such file") {
		t.Fatalf("add missing file: %d %q", code, errOut)
	}

	code, out, errOut = f.ctl(t, "", "policy", "list")
	if code != 0 || errOut != "" {
		t.Fatalf("list: %d %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") ||
		!strings.HasPrefix(lines[1], "p1 ") || !strings.Contains(lines[1], "(in 10m") || !strings.Contains(lines[1], "1 warning") ||
		!strings.HasPrefix(lines[2], "p2 ") || !strings.Contains(lines[2], "never") {
		t.Fatalf("list output:\n%s", out)
	}
	if code, out, _ := f.ctl(t, "", "policy", "list", "-all"); code != 0 || !strings.Contains(out, "p2") {
		t.Fatalf("list -all: %d %q", code, out)
	}

	if code, out, errOut := f.ctl(t, "", "policy", "rm", "p1"); code != 0 || out != "" || errOut != "" {
		t.Fatalf("rm: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := f.ctl(t, "", "policy", "rm", "p1"); code != 1 || !strings.Contains(errOut, "policy p1: not found") {
		t.Fatalf("rm again: %d %q", code, errOut)
	}
}

func TestViewCommands(t *testing.T) {
	f := start(t)
	tests := []struct {
		name string
		args []string
		want []string // substrings of stdout
	}{
		{name: "rules default", args: []string{"rules"}, want: []string{"rules in json\n"}},
		{name: "rules nft", args: []string{"rules", "-format", "nft"}, want: []string{"rules in nft\n"}},
		{name: "rules iptables", args: []string{"rules", "-format=iptables"}, want: []string{"rules in iptables\n"}},
		{name: "paths", args: []string{"paths"}, want: []string{
			"BID", "wan1", "12.5ms", "1.0%", "50.0Mbit/s", "198.18.1.2:4500", "cheap,wired",
			"lte", "down", "yes (cap reached)", "2.00"}},
		{name: "peer", args: []string{"peer"}, want: []string{"ADDRESS", "198.18.0.1", "in-use", "fd00::1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := f.ctl(t, "", tc.args...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Fatalf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestReload(t *testing.T) {
	f := start(t)
	if code, out, errOut := f.ctl(t, "", "reload"); code != 0 || out != "" || errOut != "" {
		t.Fatalf("reload: %d %q %q", code, out, errOut)
	}
	f.backend.mu.Lock()
	f.backend.reloadErr = fmt.Errorf("reload: %w", errors.Join(errors.New("policies[0].match: bad port"), errors.New("policies[2]: unknown path lte")))
	f.backend.mu.Unlock()
	code, _, errOut := f.ctl(t, "", "reload")
	want := "monamictl: policies[0].match: bad port\nmonamictl: policies[2]: unknown path lte\n"
	if code != 1 || errOut != want {
		t.Fatalf("reload: %d %q, want %q", code, errOut, want)
	}
}

func TestEvents(t *testing.T) {
	f := start(t)
	publish := func() {
		// Wait until monamictl has subscribed, then publish.
		for f.hub.Stats().Subscribers == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		f.hub.Publish(control.Event{Kind: control.KindPathDown, Path: &control.PathView{BID: 20, Name: "lte", State: "down"}})
		f.hub.Publish(control.Event{Kind: control.KindRulesChanged, Detail: "3 rules"})
		f.hub.Publish(control.Event{Kind: control.KindPathUp, Path: &control.PathView{BID: 20, Name: "lte", State: "up", RTTMillis: 40}})
	}

	t.Run("count", func(t *testing.T) {
		go publish()
		code, out, errOut := f.ctl(t, "", "events", "-n", "3")
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		wants := []string{
			" #1 path-down bid=20 name=lte state=down",
			` #2 rules-changed "3 rules"`,
			" #3 path-up bid=20 name=lte state=up rtt=40.0ms",
		}
		if len(lines) != len(wants) {
			t.Fatalf("output:\n%s", out)
		}
		for i, w := range wants {
			if !strings.Contains(lines[i], w) {
				t.Fatalf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	})

	t.Run("interrupted", func(t *testing.T) {
		for f.hub.Stats().Subscribers != 0 { // the previous stream's, closing
			time.Sleep(5 * time.Millisecond)
		}
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			for f.hub.Stats().Subscribers == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			f.hub.Publish(control.Event{Kind: control.KindPeerChanged})
			cancel() // ^C
		}()
		code, out, errOut := ctlContext(t, ctx, f.socket, "", "events")
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		_ = out // the event may or may not be printed before the interrupt
	})
}

func TestNoRouter(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "absent.sock")
	for _, args := range [][]string{{"paths"}, {"events"}, {"policy", "list"}} {
		code, out, errOut := ctlContext(t, t.Context(), socket, "", args...)
		if code != 1 || out != "" || !strings.Contains(errOut, "no such file or directory") {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}
