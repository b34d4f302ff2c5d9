// SPDX-License-Identifier: MIT

package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests run the real server and client over a real unix socket in
// t.TempDir(), with fakeBackend in place of the daemon (which implements
// Backend for real and is wired by cmd).

// raw sends one request and returns the status, headers and body.
func raw(t *testing.T, c *Client, method, path string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	resp, err := c.send(testCtx(t), method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func myRequester() Requester { return LocalRequester(uint32(os.Getuid())) }

func TestPolicyLifecycle(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	ctx := testCtx(t)
	c := ts.client

	doc := "name = \"video\"\n[[rule]]\n[[rule]]\nwarn: metered path\nunresolved: tag lte\n"
	p1, err := c.AddPolicy(ctx, []byte(doc), 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// The requester is the uid from SO_PEERCRED: this process's.
	if got, want := ts.backend.lastCaller(), myRequester(); got != want {
		t.Fatalf("requester %+v, want %+v", got, want)
	}
	if p1.ID == "" || p1.Requester != myRequester().Name || p1.Name != "video" || p1.Rules != 2 {
		t.Fatalf("info %+v", p1)
	}
	if d := p1.Expires.Sub(p1.Added); d != 10*time.Minute {
		t.Fatalf("expires %v after added, want 10m", d)
	}
	if len(p1.Warnings) != 1 || len(p1.Errors) != 1 || !strings.Contains(p1.Errors[0], "tag lte") {
		t.Fatalf("feedback: warnings %q errors %q", p1.Warnings, p1.Errors)
	}

	p2, err := c.AddPolicy(ctx, []byte("[[rule]]"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !p2.Expires.IsZero() {
		t.Fatalf("lifetime 0: expires %v, want never", p2.Expires)
	}
	p3, err := c.AddPolicy(ctx, []byte("[[rule]]"), MaxLifetime)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddPolicy(ctx, []byte("[[rule]]"), MaxLifetime+time.Second); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("lifetime over 30d: %v", err)
	}
	if _, err := c.AddPolicy(ctx, []byte("[[rule]]"), -time.Minute); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("negative lifetime: %v", err)
	}

	list, err := c.ListPolicies(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if ids := policyIDs(list); !reflect.DeepEqual(ids, []string{p1.ID, p2.ID, p3.ID}) {
		t.Fatalf("list %v", ids)
	}
	if !list[0].Added.Equal(p1.Added) || !list[0].Expires.Equal(p1.Expires) {
		t.Fatalf("listed %+v, added %+v", list[0], p1)
	}

	if err := c.RemovePolicy(ctx, p1.ID); err != nil {
		t.Fatal(err)
	}
	err = c.RemovePolicy(ctx, p1.ID)
	var ae *APIError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("second remove: %v", err)
	}
	list, err = c.ListPolicies(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if ids := policyIDs(list); !reflect.DeepEqual(ids, []string{p2.ID, p3.ID}) {
		t.Fatalf("list after remove %v", ids)
	}
	if err := c.RemovePolicy(ctx, "a b"); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("remove invalid id: %v", err)
	}
}

func policyIDs(ps []PolicyInfo) []string {
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

func TestAddPolicyBodies(t *testing.T) {
	ts := startServer(t, ServerOptions{MaxBody: 1024})
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantErr    string // substring of the error message
	}{
		{name: "ok", body: `{"policy": "[[rule]]", "lifetime": "10m"}`, wantStatus: 201},
		{name: "no lifetime", body: `{"policy": "[[rule]]"}`, wantStatus: 201},
		{name: "lifetime 0", body: `{"policy": "x", "lifetime": "0"}`, wantStatus: 201},
		{name: "lifetime 30d", body: `{"policy": "x", "lifetime": "720h"}`, wantStatus: 201},
		{name: "lifetime over 30d", body: `{"policy": "x", "lifetime": "720h1s"}`, wantStatus: 400, wantErr: "maximum"},
		{name: "negative lifetime", body: `{"policy": "x", "lifetime": "-1s"}`, wantStatus: 400, wantErr: "negative"},
		{name: "bad lifetime", body: `{"policy": "x", "lifetime": "soon"}`, wantStatus: 400, wantErr: "lifetime"},
		{name: "numeric lifetime", body: `{"policy": "x", "lifetime": 600}`, wantStatus: 400},
		{name: "unknown field", body: `{"policy": "x", "owner": "root"}`, wantStatus: 400, wantErr: "unknown field"},
		{name: "empty policy", body: `{"policy": "  "}`, wantStatus: 400, wantErr: "empty"},
		{name: "no policy", body: `{}`, wantStatus: 400, wantErr: "empty"},
		{name: "empty body", body: ``, wantStatus: 400, wantErr: "empty body"},
		{name: "null", body: `null`, wantStatus: 400, wantErr: "not a json object"},
		{name: "array", body: `[{"policy": "x"}]`, wantStatus: 400, wantErr: "not a json object"},
		{name: "trailing data", body: `{"policy": "x"} {"policy": "y"}`, wantStatus: 400, wantErr: "after"},
		{name: "truncated", body: `{"policy": "x"`, wantStatus: 400},
		{name: "too big", body: `{"policy": "` + strings.Repeat("x", 2000) + `"}`, wantStatus: 413, wantErr: "1024"},
		{name: "one bad line", body: `{"policy": "bad line"}`, wantStatus: 400, wantErr: "line 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := raw(t, ts.client, http.MethodPost, "/v1/policies", []byte(tc.body))
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d (body %s)", status, tc.wantStatus, body)
			}
			if ct := h.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("content type %q", ct)
			}
			if status >= 400 {
				var eb errorBody
				if err := json.Unmarshal(body, &eb); err != nil || eb.Error == "" || len(eb.Errors) == 0 {
					t.Fatalf("error body %s: %v", body, err)
				}
				if !strings.Contains(eb.Error, tc.wantErr) {
					t.Fatalf("error %q, want it to mention %q", eb.Error, tc.wantErr)
				}
			}
		})
	}
}

func TestMultiErrors(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	ctx := testCtx(t)
	doc := "[[rule]]\nbad one\nok\nbad two\nbad three\n"
	_, err := ts.client.AddPolicy(ctx, []byte(doc), 0)
	ae, ok := errors.AsType[*APIError](err)
	if !ok || ae.Status != http.StatusBadRequest || !errors.Is(err, ErrBadRequest) {
		t.Fatalf("add: %v", err)
	}
	want := []string{`line 2: cannot parse "bad one"`, `line 4: cannot parse "bad two"`, `line 5: cannot parse "bad three"`}
	if !reflect.DeepEqual(ae.Errors, want) {
		t.Fatalf("errors %q, want %q", ae.Errors, want)
	}
	if strings.Contains(ae.Message, "\n") || !strings.HasPrefix(ae.Message, "policy: ") {
		t.Fatalf("message %q", ae.Message)
	}

	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantErrors []string
	}{
		{name: "ok", wantStatus: 0},
		{
			name:       "joined",
			err:        fmt.Errorf("reload: %w", errors.Join(errors.New("policies.a: unknown path"), errors.New("policies.b: bad port"))),
			wantStatus: 400,
			wantErrors: []string{"policies.a: unknown path", "policies.b: bad port"},
		},
		{
			name: "nested joins",
			err: errors.Join(errors.New("a"), fmt.Errorf("file x: %w", errors.Join(errors.New("b"), errors.New("c"))),
				errors.Join(errors.New("d"))),
			wantStatus: 400,
			wantErrors: []string{"a", "file x: b", "c", "d"},
		},
		{name: "single", err: errors.New("cannot read policy dir"), wantStatus: 400, wantErrors: []string{"cannot read policy dir"}},
		{name: "forbidden", err: fmt.Errorf("reload: %w", ErrForbidden), wantStatus: 403, wantErrors: []string{"reload: forbidden"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts.backend.mu.Lock()
			ts.backend.reloadErr = tc.err
			ts.backend.mu.Unlock()
			err := ts.client.Reload(testCtx(t))
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			ae, ok := errors.AsType[*APIError](err)
			if !ok || ae.Status != tc.wantStatus {
				t.Fatalf("reload: %v", err)
			}
			if !reflect.DeepEqual(ae.Errors, tc.wantErrors) {
				t.Fatalf("errors %q, want %q", ae.Errors, tc.wantErrors)
			}
		})
	}
}

func TestForbiddenRemove(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	ctx := testCtx(t)
	ts.backend.seed("theirs", "uid:4242")
	ts.backend.mu.Lock()
	ts.backend.rootMay = false // as if we were not root
	ts.backend.mu.Unlock()
	err := ts.client.RemovePolicy(ctx, "theirs")
	if ae, ok := errors.AsType[*APIError](err); !ok || ae.Status != http.StatusForbidden || !errors.Is(err, ErrForbidden) {
		t.Fatalf("remove another's policy: %v", err)
	}
	if !strings.Contains(err.Error(), "belongs to uid:4242") {
		t.Fatalf("message %q", err)
	}
	if got := ts.backend.lastCaller(); got != myRequester() {
		t.Fatalf("backend saw %+v", got)
	}
	ts.backend.mu.Lock()
	ts.backend.rootMay = true
	ts.backend.mu.Unlock()
	err = ts.client.RemovePolicy(ctx, "theirs")
	if myRequester().Privileged() {
		if err != nil {
			t.Fatalf("root removing another's policy: %v", err)
		}
	} else if !errors.Is(err, ErrForbidden) {
		t.Fatalf("non-root removing another's policy: %v", err)
	}
}

func TestListAll(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	ctx := testCtx(t)
	ts.backend.seed("theirs", "uid:4242")
	mine, err := ts.client.AddPolicy(ctx, []byte("[[rule]]"), 0)
	if err != nil {
		t.Fatal(err)
	}
	list, err := ts.client.ListPolicies(ctx, false)
	if err != nil || !reflect.DeepEqual(policyIDs(list), []string{mine.ID}) {
		t.Fatalf("own list %v, %v", policyIDs(list), err)
	}
	list, err = ts.client.ListPolicies(ctx, true)
	if myRequester().Privileged() {
		if err != nil || !reflect.DeepEqual(policyIDs(list), []string{mine.ID, "theirs"}) {
			t.Fatalf("all (root) %v, %v", policyIDs(list), err)
		}
	} else if !errors.Is(err, ErrForbidden) {
		t.Fatalf("all (non-root): %v", err)
	}
	if status, _, body := raw(t, ts.client, http.MethodGet, "/v1/policies?all=perhaps", nil); status != 400 {
		t.Fatalf("all=perhaps: %d %s", status, body)
	}
}

func TestRulesFormats(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	tests := []struct {
		name      string
		format    string
		wantBody  string
		wantCType string
		wantErr   error
	}{
		{name: "default", format: "", wantBody: `[{"rule":1,"bid":10}]`, wantCType: "application/json"},
		{name: "json", format: "json", wantBody: `[{"rule":1,"bid":10}]`, wantCType: "application/json"},
		{name: "nft", format: "nft", wantBody: "table inet monami {\n}\n", wantCType: "text/plain; charset=utf-8"},
		{name: "iptables", format: "iptables", wantBody: "*mangle\n-A PREROUTING -j MARK --set-mark 10\nCOMMIT\n", wantCType: "text/plain; charset=utf-8"},
		{name: "unknown", format: "xml", wantErr: ErrBadRequest},
		{name: "weird", format: "json&all=1", wantErr: ErrBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, ctype, err := ts.client.Rules(testCtx(t), tc.format)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != tc.wantBody || ctype != tc.wantCType {
				t.Fatalf("got %q (%s), want %q (%s)", body, ctype, tc.wantBody, tc.wantCType)
			}
		})
	}
	// A backend failure that is not the caller's fault is a 500.
	ts.backend.mu.Lock()
	ts.backend.rulesErr = errors.New("table not compiled yet")
	ts.backend.mu.Unlock()
	_, _, err := ts.client.Rules(testCtx(t), "nft")
	if ae, ok := errors.AsType[*APIError](err); !ok || ae.Status != 500 || ae.Message != "table not compiled yet" {
		t.Fatalf("backend failure: %v", err)
	}
	if st := ts.server.Stats(); st.ServerErrorsTotal != 1 || st.ClientErrorsTotal != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRouting(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantAllow  string
	}{
		{name: "unknown endpoint", method: "GET", path: "/v2/policies", wantStatus: 404},
		{name: "root", method: "GET", path: "/", wantStatus: 404},
		{name: "put policies", method: "PUT", path: "/v1/policies", wantStatus: 405, wantAllow: "GET, POST"},
		{name: "get a policy", method: "GET", path: "/v1/policies/p1", wantStatus: 405, wantAllow: "DELETE"},
		{name: "delete no id", method: "DELETE", path: "/v1/policies/", wantStatus: 400},
		{name: "delete nested id", method: "DELETE", path: "/v1/policies/a%2Fb", wantStatus: 400},
		{name: "delete unknown", method: "DELETE", path: "/v1/policies/nope", wantStatus: 404},
		{name: "post paths", method: "POST", path: "/v1/paths", wantStatus: 405, wantAllow: "GET"},
		{name: "get reload", method: "GET", path: "/v1/reload", wantStatus: 405, wantAllow: "POST"},
		{name: "delete events", method: "DELETE", path: "/v1/events", wantStatus: 405, wantAllow: "GET"},
		{name: "peer", method: "GET", path: "/v1/peer", wantStatus: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := raw(t, ts.client, tc.method, tc.path, nil)
			if status != tc.wantStatus || h.Get("Allow") != tc.wantAllow {
				t.Fatalf("status %d allow %q, want %d %q (%s)", status, h.Get("Allow"), tc.wantStatus, tc.wantAllow, body)
			}
			if status >= 400 {
				var eb errorBody
				if err := json.Unmarshal(body, &eb); err != nil || eb.Error == "" {
					t.Fatalf("error body %s: %v", body, err)
				}
			}
		})
	}
}

func TestPathsAndPeer(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	ctx := testCtx(t)
	// Empty lists are [] on the wire, not null.
	if _, _, body := raw(t, ts.client, "GET", "/v1/paths", nil); string(body) != `{"seq":0,"paths":[]}`+"\n" {
		t.Fatalf("empty paths: %s", body)
	}
	want := []PathView{
		{BID: 10, Name: "wan1", Interface: "wan1", State: "up", RTTMillis: 12.5, Loss: 0.01, CapacityBps: 5e7,
			Tags: []string{"cheap"}, Local: "198.18.1.2:4500", Remote: "198.18.0.1:4500"},
		{BID: 20, Name: "lte", Interface: "wan2", State: "down", Metered: true, CapReached: true, CostPerGB: 2},
	}
	ts.backend.setPaths(want)
	ts.backend.mu.Lock()
	ts.backend.peers = []PeerAddr{{Addr: "198.18.0.1", Kind: "in-use"}, {Addr: "fd00::1", Kind: "configured"}}
	ts.backend.mu.Unlock()
	ts.hub.Publish(Event{Kind: KindPathUp})
	ts.hub.Publish(Event{Kind: KindPathDown})

	got, seq, err := ts.client.Paths(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || seq != 2 {
		t.Fatalf("paths %+v seq %d", got, seq)
	}
	addrs, seq, err := ts.client.PeerAddrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 2 || addrs[1].Addr != "fd00::1" || seq != 2 {
		t.Fatalf("peer %+v seq %d", addrs, seq)
	}
}

func TestEventsStream(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	ctx := testCtx(t)
	st, err := ts.client.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pv := &PathView{BID: 10, Name: "wan1", State: "up"}
	const n = 100
	for i := range n {
		ts.hub.Publish(Event{Kind: KindPathChanged, Path: pv, Detail: fmt.Sprint(i)})
	}
	for i := range n {
		ev, err := st.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Seq != uint64(i+1) || ev.Detail != fmt.Sprint(i) || ev.Kind != KindPathChanged ||
			ev.Path == nil || !reflect.DeepEqual(*ev.Path, *pv) || ev.Time.IsZero() {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
	if s := ts.server.Stats(); s.StreamsTotal != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestEventsNoGap follows the recipe of the package doc while a publisher
// changes a path as fast as it can: open the stream, list, apply events
// newer than the list's Seq, list again after a lagged event. The result
// must be the final state.
func TestEventsNoGap(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	ctx := testCtx(t)
	const n = 300
	ts.backend.setPaths([]PathView{{BID: 10, RTTMillis: 0}})

	start := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		<-start
		for i := 1; i <= n; i++ {
			p := PathView{BID: 10, RTTMillis: float64(i)}
			ts.backend.setPaths([]PathView{p})                     // state first,
			ts.hub.Publish(Event{Kind: KindPathChanged, Path: &p}) // then the event
		}
	})
	defer wg.Wait()

	st, err := ts.client.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	close(start)
	paths, seq, err := ts.client.Paths(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rtt := paths[0].RTTMillis
	if rtt < float64(seq) {
		t.Fatalf("list at seq %d shows rtt %v: an event ≤ seq is missing from it", seq, rtt)
	}
	lags := 0
	for last := uint64(0); last < n; {
		ev, err := st.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == KindLagged {
			// We read too slowly and lost events up to ev.Seq: list again.
			lags++
			if paths, seq, err = ts.client.Paths(ctx); err != nil {
				t.Fatal(err)
			}
			if rtt = paths[0].RTTMillis; rtt < float64(seq) || seq < ev.Seq {
				t.Fatalf("relisted at seq %d (lagged at %d) shows rtt %v", seq, ev.Seq, rtt)
			}
			last = ev.Seq
			continue
		}
		if ev.Seq != last+1 {
			t.Fatalf("seq %d after %d", ev.Seq, last)
		}
		last = ev.Seq
		if ev.Seq > seq {
			rtt = ev.Path.RTTMillis
		}
	}
	t.Logf("followed %d changes with %d lagged re-lists", n, lags)
	if rtt != n {
		t.Fatalf("final rtt %v, want %d", rtt, n)
	}
}

// TestEventsLaggingClient: a client that does not read makes the server's
// writes block; the hub keeps publishing without blocking, drops for that
// subscriber only, and the client, once it reads, gets a lagged event in
// place of each run it lost, with every Seq accounted for.
func TestEventsLaggingClient(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	ctx := testCtx(t)
	st, err := ts.client.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	other := ts.hub.Subscribe(30000) // a subscriber that keeps up
	defer other.Close()

	const n = 20000
	pad := strings.Repeat("x", 1000) // ~20 MB in all, far more than the socket buffers
	began := time.Now()
	for range n {
		ts.hub.Publish(Event{Kind: KindPathChanged, Detail: pad})
	}
	t.Logf("published %d events in %v to a client that does not read", n, time.Since(began))
	hs := ts.hub.Stats()
	if hs.DroppedTotal == 0 || hs.LaggedTotal == 0 {
		t.Fatalf("hub stats %+v: nothing dropped", hs)
	}
	if got := len(drain(t, other)); got != n {
		t.Fatalf("the other subscriber got %d events, want %d", got, n)
	}

	var evs []Event
	for len(evs) == 0 || evs[len(evs)-1].Seq < n {
		ev, err := st.Next()
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	got, lost := checkContiguous(t, evs, 1)
	if got+lost != n || lost != hs.DroppedTotal {
		t.Fatalf("real %d lost %d, want %d in all and %d lost", got, lost, n, hs.DroppedTotal)
	}
	t.Logf("client read %d events and %d lagged markers; %d lost", got, len(evs)-int(got), lost)
	// The stream goes on.
	ts.hub.Publish(Event{Kind: KindPeerChanged})
	if ev, err := st.Next(); err != nil || ev.Kind != KindPeerChanged || ev.Seq != n+1 {
		t.Fatalf("after catching up: %+v, %v", ev, err)
	}
}

// TestStuckStream: a client that never reads is cut off after the write
// timeout, and meanwhile the other endpoints keep answering.
func TestStuckStream(t *testing.T) {
	ts := startServer(t, ServerOptions{WriteTimeout: 200 * time.Millisecond})
	ctx := testCtx(t)
	st, err := ts.client.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pad := strings.Repeat("y", 4000)
	eventually(t, 10*time.Second, "the stuck stream to be cut off", func() bool {
		for range 200 {
			ts.hub.Publish(Event{Kind: KindPathChanged, Detail: pad})
		}
		if _, _, err := ts.client.Paths(ctx); err != nil {
			t.Fatalf("paths while a stream is stuck: %v", err)
		}
		return ts.server.Stats().StreamWriteFailuresTotal == 1
	})
	eventually(t, 5*time.Second, "the stream's subscription to end", func() bool {
		return ts.hub.Stats().Subscribers == 0
	})
}

func TestServeStops(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	st, err := ts.client.Events(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	nextErr := make(chan error, 1)
	go func() {
		_, err := st.Next()
		nextErr <- err
	}()
	began := time.Now()
	ts.stop(t)
	if d := time.Since(began); d > 3*time.Second {
		t.Fatalf("Serve took %v to stop with an open stream", d)
	}
	select {
	case err := <-nextErr:
		if err == nil {
			t.Fatal("stream went on after Serve stopped")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream still open after Serve stopped")
	}
	if _, err := os.Lstat(ts.path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file after Serve: %v", err)
	}
	if _, _, err := ts.client.Paths(testCtx(t)); err == nil {
		t.Fatal("request succeeded after Serve stopped")
	}
}

func TestServeRequiresBackend(t *testing.T) {
	ln, err := Listen(t.TempDir() + "/s.sock")
	if err != nil {
		t.Fatal(err)
	}
	if err := Serve(context.Background(), ln, ServerOptions{}); err == nil {
		t.Fatal("Serve without a backend succeeded")
	}
}
