// SPDX-License-Identifier: MIT

package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain fails the package if a test left a server, handler or client
// connection goroutine behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := checkLeaks(5 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// leakMarkers are the frames of goroutines that must be gone after the
// tests: ours, and net/http's per-connection ones.
var leakMarkers = []string{
	"monami/signaling/control.(",
	"net/http.(*conn).serve",
	"net/http.(*persistConn)",
	"net/http.(*Server).Serve",
}

func checkLeaks(wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for g := range strings.SplitSeq(string(buf), "\n\n") {
			if strings.Contains(g, "control.TestMain") || strings.Contains(g, "control.checkLeaks") {
				continue
			}
			for _, m := range leakMarkers {
				if strings.Contains(g, m) {
					leaked = append(leaked, g)
					break
				}
			}
		}
		if len(leaked) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d goroutines leaked:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fakeBackend stands in for the daemon, which implements Backend for real
// and is wired by cmd (the lead's part): it keeps policies in a map,
// records who called, and turns each line of a policy starting with "bad"
// into one error of an errors.Join, like a policy parser reporting every
// bad line.
type fakeBackend struct {
	mu        sync.Mutex
	next      int
	policies  map[string]fakePolicy
	callers   []Requester
	rootMay   bool // a privileged requester may remove others' policies
	paths     []PathView
	peers     []PeerAddr
	reloadErr error
	rulesErr  error
}

type fakePolicy struct {
	info  PolicyInfo
	owner string
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{policies: map[string]fakePolicy{}, rootMay: true}
}

func (f *fakeBackend) record(r Requester) {
	f.callers = append(f.callers, r)
}

func (f *fakeBackend) lastCaller() Requester {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.callers) == 0 {
		return Requester{}
	}
	return f.callers[len(f.callers)-1]
}

func (f *fakeBackend) AddPolicy(r Requester, doc []byte, lifetime time.Duration) (PolicyInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(r)
	var errs []error
	info := PolicyInfo{Requester: r.Name, Added: time.Now()}
	for i, line := range strings.Split(string(doc), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "bad"):
			errs = append(errs, fmt.Errorf("line %d: cannot parse %q", i+1, line))
		case strings.HasPrefix(line, "name = "):
			info.Name, _ = strconv.Unquote(strings.TrimPrefix(line, "name = "))
		case line == "[[rule]]":
			info.Rules++
		case strings.HasPrefix(line, "warn"):
			info.Warnings = append(info.Warnings, "line "+strconv.Itoa(i+1)+": "+line)
		case strings.HasPrefix(line, "unresolved"):
			info.Errors = append(info.Errors, "line "+strconv.Itoa(i+1)+": "+line)
		}
	}
	if len(errs) > 0 {
		return PolicyInfo{}, fmt.Errorf("policy: %w", errors.Join(errs...))
	}
	f.next++
	info.ID = "p" + strconv.Itoa(f.next)
	if lifetime > 0 {
		info.Expires = info.Added.Add(lifetime)
	}
	f.policies[info.ID] = fakePolicy{info: info, owner: r.Name}
	return info, nil
}

func (f *fakeBackend) ListPolicies(r Requester, all bool) ([]PolicyInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(r)
	var out []PolicyInfo
	for _, p := range f.policies {
		if all || p.owner == r.Name {
			out = append(out, p.info)
		}
	}
	slices.SortFunc(out, func(a, b PolicyInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (f *fakeBackend) RemovePolicy(r Requester, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(r)
	p, ok := f.policies[id]
	if !ok {
		return fmt.Errorf("policy %s: %w", id, ErrNotFound)
	}
	if p.owner != r.Name && !(f.rootMay && r.Privileged()) {
		return fmt.Errorf("policy %s belongs to %s: %w", id, p.owner, ErrForbidden)
	}
	delete(f.policies, id)
	return nil
}

// seed adds a policy owned by owner directly.
func (f *fakeBackend) seed(id, owner string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.policies[id] = fakePolicy{info: PolicyInfo{ID: id, Requester: owner, Added: time.Now()}, owner: owner}
}

func (f *fakeBackend) Rules(format string) ([]byte, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rulesErr != nil {
		return nil, "", f.rulesErr
	}
	switch format {
	case FormatJSON:
		return []byte(`[{"rule":1,"bid":10}]`), "", nil
	case FormatNft:
		return []byte("table inet monami {\n}\n"), "text/plain; charset=utf-8", nil
	case FormatIptables:
		return []byte("*mangle\n-A PREROUTING -j MARK --set-mark 10\nCOMMIT\n"), "", nil
	}
	return nil, "", fmt.Errorf("%w: format %q", ErrBadRequest, format)
}

func (f *fakeBackend) Paths() []PathView {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.paths)
}

func (f *fakeBackend) setPaths(p []PathView) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paths = p
}

func (f *fakeBackend) PeerAddrs() []PeerAddr {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.peers)
}

func (f *fakeBackend) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reloadErr
}

// testServer is a control server on a real unix socket in a temporary
// directory, with a fake backend.
type testServer struct {
	path    string
	backend *fakeBackend
	hub     *Hub
	server  *Server
	client  *Client
	cancel  context.CancelFunc
	done    chan error
}

// startServer serves on a socket in t.TempDir() until the test ends. opts'
// Backend and Hub are filled in if nil.
func startServer(t *testing.T, opts ServerOptions) *testServer {
	t.Helper()
	ts := &testServer{path: filepath.Join(t.TempDir(), "run", "mr.sock"), done: make(chan error, 1)}
	if opts.Backend == nil {
		ts.backend = newFakeBackend()
		opts.Backend = ts.backend
	}
	if opts.Hub == nil {
		opts.Hub = NewHub()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ts.hub = opts.Hub
	ln, err := Listen(ts.path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts.server = s
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel = cancel
	go func() { ts.done <- s.Serve(ctx, ln) }()
	ts.client = Dial(ts.path)
	t.Cleanup(func() {
		ts.client.Close()
		ts.stop(t)
	})
	return ts
}

// stop ends Serve and checks that it returns promptly and cleanly.
func (ts *testServer) stop(t *testing.T) {
	t.Helper()
	ts.cancel()
	select {
	case err, ok := <-ts.done:
		if ok && err != nil {
			t.Errorf("Serve: %v", err)
		}
		if ok {
			close(ts.done)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10s of its context ending")
	}
}

// ctx returns a context for one test step.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
