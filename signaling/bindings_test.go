// SPDX-License-Identifier: MIT

package signaling

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"monami/paths"
	"monami/signaling/msg"
)

// latest keeps the last value a callback gave, and how many it gave.
type latest[T any] struct {
	mu sync.Mutex
	v  T
	n  int
}

func (l *latest[T]) set(v T) {
	l.mu.Lock()
	l.v = v
	l.n++
	l.mu.Unlock()
}

func (l *latest[T]) get() (T, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.v, l.n
}

func bidsOf(bs []Binding) []paths.BID {
	var out []paths.BID
	for _, b := range bs {
		out = append(out, b.BID)
	}
	return out
}

// sessionPair is a running client and the fixture's server, with the
// server's binding and flow callbacks recorded.
type sessionPair struct {
	f        *fixture
	c        *Client
	rec      *recorder
	bindings latest[[]Binding]
	flows    latest[[]msg.FlowIdentification]
	errs     chan msg.ErrorReport
}

func newSessionPair(t *testing.T, tweakServer func(*ServerOptions), tweakClient func(*ClientOptions)) *sessionPair {
	t.Helper()
	p := &sessionPair{rec: newRecorder(), errs: make(chan msg.ErrorReport, 64)}
	p.f = newFixtureWith(t, func(o *ServerOptions) {
		o.OnBindings = func(_ string, bs []Binding) { p.bindings.set(bs) }
		o.OnFlows = func(_ string, fs []msg.FlowIdentification) { p.flows.set(fs) }
		if tweakServer != nil {
			tweakServer(o)
		}
	})
	opts := p.f.clientOptions(t, p.rec)
	opts.OnError = func(e msg.ErrorReport) {
		select {
		case p.errs <- e:
		default:
		}
	}
	if tweakClient != nil {
		tweakClient(&opts)
	}
	var err error
	p.c, err = NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	run(t, p.c.Run)
	waitSession(t, p.rec.sessions, 10*time.Second)
	return p
}

func (p *sessionPair) waitBindings(t *testing.T, want ...paths.BID) time.Duration {
	t.Helper()
	start := time.Now()
	eventually(t, 5*time.Second, "bindings "+paths.BID(0).String(), func() bool {
		bs, _ := p.bindings.get()
		return slices.Equal(bidsOf(bs), want)
	})
	return time.Since(start)
}

// A path that goes away is removed from the HA's binding cache at once
// (binding update with lifetime 0 for its BID); one that comes back, or
// changes its care-of address, is registered again at once.
func TestPathChangesReachHAAtOnce(t *testing.T) {
	leakCheck(t)
	p := newSessionPair(t, nil, nil)
	p.waitBindings(t, 10, 11)

	p.c.SetPaths([]msg.BIDOption{{BID: 10}})
	if d := p.waitBindings(t, 10); d > 500*time.Millisecond {
		t.Errorf("removal reached the HA after %v", d)
	}
	coa := netip.MustParseAddr("198.18.2.2")
	p.c.SetPaths([]msg.BIDOption{{BID: 10}, {BID: 11, CareOf: coa}, {BID: 12}})
	p.waitBindings(t, 10, 11, 12)
	bs, _ := p.bindings.get()
	if bs[1].CareOf != coa {
		t.Errorf("BID 11 registered with care-of %v, want %v", bs[1].CareOf, coa)
	}
	if st := p.c.Stats(); st.UpdatesTotal < 2 || st.SessionsTotal != 1 {
		t.Errorf("client stats %+v: want ≥ 2 updates in one session", st)
	}
}

// Bindings are refreshed at 2/3 of the granted lifetime, so they never
// lapse while the session lives; an MR that stops refreshing loses them
// when the lifetime ends.
func TestBindingRefreshAndExpiry(t *testing.T) {
	t.Parallel() // slow (seconds of timers); no leakCheck, which needs the process to itself
	p := newSessionPair(t, func(o *ServerOptions) { o.MaxLifetime = 4 * time.Second }, nil)
	p.waitBindings(t, 10, 11)
	time.Sleep(6 * time.Second) // beyond one lifetime
	bs, _ := p.bindings.get()
	if !slices.Equal(bidsOf(bs), []paths.BID{10, 11}) {
		t.Fatalf("bindings lapsed despite refreshes: %v", bidsOf(bs))
	}
	if st := p.c.Stats(); st.UpdatesTotal < 1 {
		t.Fatalf("no refresh sent in 6 s with a 4 s lifetime: %+v", st)
	}

	// A raw MR registers with a 4 s lifetime and never refreshes.
	f := newFixtureWith(t, func(o *ServerOptions) {
		o.OnBindings = func(_ string, bs []Binding) { p.bindings.set(bs) }
	})
	conn, err := rawConn(t, f.mrPriv, f.haPub, f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseWithError(0, "")
	bu := goodBU()
	bu.Lifetime = 1
	if ba, err := exchange(t, conn, bu); err != nil || !ba.Status.Accepted() {
		t.Fatalf("set-up: %v %v", ba.Status, err)
	}
	p.waitBindings(t, 1, 2)
	start := time.Now()
	eventually(t, 10*time.Second, "bindings expired", func() bool {
		bs, _ := p.bindings.get()
		return len(bs) == 0
	})
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("bindings of 4 s expired after %v", d)
	}
}

// rawSession is a hand-driven MR session: set-up done, the stream open.
type rawSession struct {
	conn *quic.Conn
	str  *quic.Stream
}

func newRawSession(t *testing.T, f *fixture, bu *msg.BindingUpdate) *rawSession {
	t.Helper()
	conn, err := rawConn(t, f.mrPriv, f.haPub, f.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseWithError(0, "") })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rs := &rawSession{conn, str}
	if ba := rs.ask(t, bu); !ba.Status.Accepted() {
		t.Fatalf("set-up refused: %v", ba.Status)
	}
	return rs
}

// ask sends m and returns the next binding acknowledgement.
func (rs *rawSession) ask(t *testing.T, m msg.Message) msg.BindingAck {
	t.Helper()
	rs.str.SetDeadline(time.Now().Add(5 * time.Second))
	if err := msg.WriteMessage(rs.str, m); err != nil {
		t.Fatal(err)
	}
	for {
		typ, body, err := msg.ReadMessage(rs.str, nil)
		if err != nil {
			t.Fatal(err)
		}
		if typ != msg.TypeBindingAck {
			continue // path reports
		}
		ba, err := msg.ParseBindingAck(body)
		if err != nil {
			t.Fatal(err)
		}
		return ba
	}
}

// Sequence numbers must advance within the window (RFC 6275 §9.5.1);
// an old, repeated or far-ahead number gets 135 with the last accepted
// number, and changes nothing.
func TestSequenceWindow(t *testing.T) {
	leakCheck(t)
	var bindings latest[[]Binding]
	f := newFixtureWith(t, func(o *ServerOptions) { o.OnBindings = func(_ string, bs []Binding) { bindings.set(bs) } })
	rs := newRawSession(t, f, goodBU()) // sequence 7, BIDs 1 and 2
	refresh := func(seq uint16, bids ...paths.BID) msg.BindingAck {
		bu := &msg.BindingUpdate{Sequence: seq, Flags: msg.BUAck | msg.BUHome, Lifetime: 150}
		for _, b := range bids {
			bu.BIDs = append(bu.BIDs, msg.BIDOption{BID: b})
		}
		return rs.ask(t, bu)
	}
	for _, tc := range []struct {
		name string
		seq  uint16
		ok   bool
	}{
		{"repeated", 7, false},
		{"older", 6, false},
		{"far ahead", 7 + 40000, false},
		{"next", 8, true},
		{"ahead within window", 8 + 30000, true},
		{"wrapped older", 9, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ba := refresh(tc.seq, 3)
			if ba.Status.Accepted() != tc.ok {
				t.Fatalf("sequence %d: status %v", tc.seq, ba.Status)
			}
			if !tc.ok && ba.Status != msg.StatusSequenceOutOfWindow {
				t.Fatalf("sequence %d: status %v, want 135", tc.seq, ba.Status)
			}
		})
	}
	if ba := refresh(8+30000+1, 5); !ba.Status.Accepted() {
		t.Fatalf("status %v", ba.Status)
	}
	eventually(t, time.Second, "BID 5 registered", func() bool {
		bs, _ := bindings.get()
		return slices.Contains(bidsOf(bs), 5)
	})
	// A refused number reports the last accepted one.
	if ba := refresh(3, 9); ba.Sequence != 8+30000+1 {
		t.Errorf("135 carries sequence %d, want the last accepted %d", ba.Sequence, 8+30000+1)
	}
	bs, _ := bindings.get()
	if slices.Contains(bidsOf(bs), 9) {
		t.Error("an out-of-window update registered its BID")
	}
}

// A refresh may not claim another MR's prefix either (NEMO status 142),
// and removal of one BID (lifetime 0) leaves the others.
func TestRefreshAuthorizationAndRemoval(t *testing.T) {
	leakCheck(t)
	var bindings latest[[]Binding]
	f := newFixtureWith(t, func(o *ServerOptions) { o.OnBindings = func(_ string, bs []Binding) { bindings.set(bs) } })
	rs := newRawSession(t, f, goodBU())
	ba := rs.ask(t, &msg.BindingUpdate{Sequence: 8, Flags: msg.BUAck | msg.BUHome, Lifetime: 150,
		BIDs: []msg.BIDOption{{BID: 1}}, Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.11.0/24")}})
	if ba.Status != msg.StatusNotAuthorizedForPrefix {
		t.Fatalf("foreign prefix in a refresh: status %v, want 142", ba.Status)
	}
	ba = rs.ask(t, &msg.BindingUpdate{Sequence: 9, Flags: msg.BUAck | msg.BUHome, Lifetime: 0, BIDs: []msg.BIDOption{{BID: 2}}})
	if !ba.Status.Accepted() {
		t.Fatalf("removal: %v", ba.Status)
	}
	eventually(t, time.Second, "BID 2 removed", func() bool {
		bs, _ := bindings.get()
		return slices.Equal(bidsOf(bs), []paths.BID{1})
	})
}

func selectorTo(dst string) *msg.TrafficSelector {
	p := netip.MustParsePrefix(dst)
	ts := &msg.TrafficSelector{Format: msg.TSFormatIPv6, Dst: msg.AddrRangeFromPrefix(p)}
	if p.Addr().Is4() {
		ts.Format = msg.TSFormatIPv4
	}
	return ts
}

// Flow bindings travel as differences (add, modify, delete); the HA's
// view follows, and a flow bound to a BID the MR has not registered is
// refused with 131 and reported back with its FID.
func TestFlowBindings(t *testing.T) {
	leakCheck(t)
	p := newSessionPair(t, nil, nil)
	p.waitBindings(t, 10, 11)
	a := msg.FlowIdentification{FID: 1, Priority: 10, BIDs: []paths.BID{10, 11}, Selector: selectorTo("198.18.20.0/24")}
	b := msg.FlowIdentification{FID: 2, Priority: 20, BIDs: []paths.BID{11}, Selector: selectorTo("fd00:20::/64")}
	p.c.SetFlowBindings([]msg.FlowIdentification{a, b})
	waitFlows := func(want ...msg.FlowIdentification) {
		t.Helper()
		eventually(t, 5*time.Second, "flows at the HA", func() bool {
			got, _ := p.flows.get()
			if len(got) != len(want) {
				return false
			}
			for i := range got {
				if got[i].FID != want[i].FID || !sameFlow(&got[i], &want[i]) {
					return false
				}
			}
			return true
		})
	}
	waitFlows(a, b)
	a.BIDs = []paths.BID{11, 10}
	p.c.SetFlowBindings([]msg.FlowIdentification{a})
	waitFlows(a)
	_, n := p.flows.get()

	bad := msg.FlowIdentification{FID: 7, Priority: 1, BIDs: []paths.BID{99}, Selector: selectorTo("198.18.21.0/24")}
	p.c.SetFlowBindings([]msg.FlowIdentification{a, bad})
	select {
	case e := <-p.errs:
		if e.Kind != msg.ErrorKindFlow || e.Index != 7 || e.Status != uint8(msg.FlowStatusBIDNotFound) {
			t.Fatalf("error report %+v, want flow 7 status 131", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no error for a flow bound to an unknown BID")
	}
	if got, m := p.flows.get(); m != n || len(got) != 1 {
		t.Errorf("a refused flow changed the HA's flows: %d flows", len(got))
	}
}

// The session moves to new data-plane keys on schedule; both sides derive
// the same keys under fresh receiver indexes.
func TestRekey(t *testing.T) {
	leakCheck(t)
	var haKeys, mrKeys latest[Session]
	p := newSessionPair(t,
		func(o *ServerOptions) { o.OnRekey = haKeys.set },
		func(o *ClientOptions) { o.RekeyInterval = 200 * time.Millisecond; o.OnRekey = mrKeys.set })
	eventually(t, 5*time.Second, "three rekeys", func() bool { _, n := mrKeys.get(); return n >= 3 })
	mr, _ := mrKeys.get()
	eventually(t, time.Second, "HA at the same generation", func() bool { ha, _ := haKeys.get(); return ha.Generation == mr.Generation })
	ha, _ := haKeys.get()
	if mr.SendKey != ha.RecvKey || mr.RecvKey != ha.SendKey || mr.LocalIndex != ha.PeerIndex || mr.PeerIndex != ha.LocalIndex {
		t.Fatalf("generation %d: the two sides disagree", mr.Generation)
	}
	if mr.Generation < 4 {
		t.Fatalf("generation %d after three rekeys", mr.Generation)
	}
	if st := p.c.Stats(); st.SessionsTotal != 1 {
		t.Errorf("rekeying made new sessions: %+v", st)
	}
}

// Path reports travel both ways.
func TestPathReports(t *testing.T) {
	leakCheck(t)
	var atHA, atMR latest[[]msg.PathMetrics]
	mine := []msg.PathMetrics{{BID: 10, RTT: 20000, State: paths.StateUp}, {BID: 11, RTT: 90000, Loss: 655, State: paths.StateDown}}
	theirs := []msg.PathMetrics{{BID: 10, DeliveryRate: 1 << 20, State: paths.StateUp}}
	newSessionPair(t,
		func(o *ServerOptions) {
			o.ReportInterval = 100 * time.Millisecond
			o.OnPathReport = func(_ string, ps []msg.PathMetrics) { atHA.set(ps) }
			o.PathReport = func(string) []msg.PathMetrics { return theirs }
		},
		func(o *ClientOptions) {
			o.ReportInterval = 100 * time.Millisecond
			o.PathReport = func() []msg.PathMetrics { return mine }
			o.OnPeerReport = atMR.set
		})
	eventually(t, 5*time.Second, "reports both ways", func() bool {
		a, _ := atHA.get()
		b, _ := atMR.get()
		return slices.Equal(a, mine) && slices.Equal(b, theirs)
	})
}

// cutConn is a socket whose path can be cut: once cut, it sends nothing
// and receives nothing, like an uplink that went silent.
type cutConn struct {
	net.PacketConn
	cut atomic.Bool
}

func (c *cutConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.cut.Load() {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

func (c *cutConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || !c.cut.Load() {
			return n, addr, err
		}
	}
}

// When the uplink under the connection goes silent, Migrate moves the
// connection to another socket within a second, without a new session,
// and it keeps working there.
func TestMigration(t *testing.T) {
	leakCheck(t)
	var mu sync.Mutex
	var socks []*cutConn
	listen := func() (net.PacketConn, error) {
		pc, err := loopbackListen()
		if err != nil {
			return nil, err
		}
		c := &cutConn{PacketConn: pc}
		mu.Lock()
		socks = append(socks, c)
		mu.Unlock()
		return c, nil
	}
	p := newSessionPair(t, nil, func(o *ClientOptions) { o.Listen = listen })
	p.waitBindings(t, 10, 11)
	mu.Lock()
	socks[0].cut.Store(true)
	mu.Unlock()
	start := time.Now()
	p.c.Migrate()
	eventually(t, 3*time.Second, "migration", func() bool { return p.c.Stats().MigrationsTotal == 1 })
	if d := time.Since(start); d > time.Second {
		t.Errorf("migration took %v", d)
	}
	p.c.SetPaths([]msg.BIDOption{{BID: 11}})
	p.waitBindings(t, 11)
	if st := p.c.Stats(); st.SessionsTotal != 1 || st.MigrationFailuresTotal != 0 {
		t.Fatalf("client stats after migration: %+v", st)
	}
}

// An unanswered binding update is sent again after 1 s, then 2 s, ...
// (RFC 6275 §11.8), each time under a new sequence number.
func TestBindingUpdateRetransmission(t *testing.T) {
	t.Parallel() // slow (seconds of timers); no leakCheck, which needs the process to itself
	haPub, haPriv := newKey(t)
	mrPub, mrPriv := newKey(t)
	pc := listenLoopback(t, 0)
	defer pc.Close()
	// A mute HA: it sets the session up, then never answers.
	s, err := NewServer(ServerOptions{PrivateKey: haPriv, Peers: []Peer{{Name: "mr1", PublicKey: mrPub, Prefixes: mrPrefixes}}, Conn: pc})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: pc}
	defer tr.Close()
	ln, err := tr.Listen(s.tlsConf, quicConfig(false))
	if err != nil {
		t.Fatal(err)
	}
	type arrival struct {
		seq uint16
		at  time.Time
	}
	arrivals := make(chan arrival, 16)
	go func() {
		conn, err := ln.Accept(t.Context())
		if err != nil {
			return
		}
		defer conn.CloseWithError(0, "")
		str, err := conn.AcceptStream(t.Context())
		if err != nil {
			return
		}
		for {
			typ, body, err := msg.ReadMessage(str, nil)
			if err != nil {
				return
			}
			if typ != msg.TypeBindingUpdate {
				continue
			}
			bu, _ := msg.ParseBindingUpdate(body)
			if bu.Session != nil {
				ba := &msg.BindingAck{Sequence: bu.Sequence, Lifetime: bu.Lifetime,
					Session: &msg.SessionOption{Index: 99, Generation: 1, Suite: bu.Session.Suite}}
				msg.WriteMessage(str, ba)
				continue
			}
			arrivals <- arrival{bu.Sequence, time.Now()}
		}
	}()
	rec := newRecorder()
	c, err := NewClient(ClientOptions{PrivateKey: mrPriv, ServerKey: haPub, Server: pc.LocalAddr().(*net.UDPAddr).AddrPort(),
		BIDs: []paths.BID{1}, Prefixes: mrPrefixes, Listen: loopbackListen, OnSession: rec.onSession})
	if err != nil {
		t.Fatal(err)
	}
	run(t, c.Run)
	waitSession(t, rec.sessions, 10*time.Second)
	c.SetPaths([]msg.BIDOption{{BID: 1}, {BID: 2}})
	var got []arrival
	for len(got) < 3 {
		select {
		case a := <-arrivals:
			got = append(got, a)
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d updates arrived", len(got))
		}
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second} {
		gap := got[i+1].at.Sub(got[i].at)
		if gap < want-200*time.Millisecond || gap > want+500*time.Millisecond {
			t.Errorf("retransmission %d after %v, want %v", i+1, gap, want)
		}
		if got[i+1].seq == got[i].seq {
			t.Errorf("retransmission %d reused sequence %d", i+1, got[i].seq)
		}
	}
	if st := c.Stats(); st.RetransmitsTotal < 2 {
		t.Errorf("stats %+v", st)
	}
}

// A remote requester's policy operation goes from the HA to the MR over
// the session and the MR's answer comes back; with no session it fails.
func TestRemotePolicyRequest(t *testing.T) {
	leakCheck(t)
	var got latest[msg.PolicyRequest]
	p := newSessionPair(t, nil, func(o *ClientOptions) {
		o.OnPolicyRequest = func(r msg.PolicyRequest) msg.PolicyResponse {
			got.set(r)
			return msg.PolicyResponse{Status: 201, Body: []byte(`{"id":"abc"}`)}
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for i := range 3 {
		resp, err := p.f.server.Policy(ctx, "mr1", msg.PolicyRequest{Op: msg.PolicyAdd, Lifetime: 60, Arg: "[[rule]]"})
		if err != nil || resp.Status != 201 || string(resp.Body) != `{"id":"abc"}` {
			t.Fatalf("request %d: %+v %v", i, resp, err)
		}
	}
	if r, n := got.get(); n != 3 || r.Op != msg.PolicyAdd || r.Lifetime != 60 || r.Arg != "[[rule]]" {
		t.Fatalf("the MR saw %d requests, last %+v", n, r)
	}
	if _, err := p.f.server.Policy(ctx, "nobody", msg.PolicyRequest{Op: msg.PolicyList}); err != ErrNoSession {
		t.Fatalf("request to an unknown MR: %v", err)
	}
}

// closeConn records that it was closed.
type closeConn struct {
	*cutConn
	closed atomic.Bool
}

func (c *closeConn) Close() error { c.closed.Store(true); return c.cutConn.Close() }

// With ListenAll, a router whose preferred uplink is dead connects over
// the next one raceDelay later, not after the dead one's handshake
// timeout, and closes the loser's socket.
func TestDialRaceOverDeadUplink(t *testing.T) {
	leakCheck(t)
	var dead *closeConn
	listenAll := func() ([]Socket, error) {
		a, err := loopbackListen()
		if err != nil {
			return nil, err
		}
		b, err := loopbackListen()
		if err != nil {
			a.Close()
			return nil, err
		}
		dead = &closeConn{cutConn: &cutConn{PacketConn: a}}
		dead.cut.Store(true)
		return []Socket{{Name: "dead", Conn: dead}, {Name: "good", Conn: b}}, nil
	}
	var uplink atomic.Pointer[string]
	start := time.Now()
	p := newSessionPair(t, nil, func(o *ClientOptions) {
		o.ListenAll = listenAll
		next := o.OnSession
		o.OnSession = func(s Session) { uplink.Store(&s.Uplink); next(s) }
	})
	took := time.Since(start)
	if u := uplink.Load(); u == nil || *u != "good" {
		t.Errorf("session set up over %v, want the working uplink", u)
	}
	if took >= handshakeTimeout {
		t.Errorf("session took %v: the dead uplink's handshake timeout (%v) was waited out", took, handshakeTimeout)
	}
	if !dead.closed.Load() {
		t.Error("the losing socket was not closed")
	}
	if st := p.c.Stats(); st.ConnectsTotal != 1 || st.FailuresTotal != 0 {
		t.Errorf("stats: %+v, want one attempt that succeeded", st)
	}
	t.Logf("session over the second uplink after %v", took.Round(time.Millisecond))
}

// slowConn delays every datagram it sends.
type slowConn struct {
	net.PacketConn
	delay time.Duration
}

func (c *slowConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	b = bytes.Clone(b)
	time.AfterFunc(c.delay, func() { c.PacketConn.WriteTo(b, addr) })
	return len(b), nil
}

// While the home agent answers on the first uplink, a slow handshake there
// starts no second one (a busy HA gets no extra load); when nothing came
// back, the next uplink starts raceDelay later and wins.
func TestDialRaceWaitsForAnsweringUplink(t *testing.T) {
	leakCheck(t)
	f := newFixture(t)
	c, err := NewClient(f.clientOptions(t, newRecorder()))
	if err != nil {
		t.Fatal(err)
	}
	for _, answered := range []bool{true, false} {
		t.Run(fmt.Sprint("answered=", answered), func(t *testing.T) {
			a, err := loopbackListen()
			if err != nil {
				t.Fatal(err)
			}
			b, err := loopbackListen()
			if err != nil {
				a.Close()
				t.Fatal(err)
			}
			socks := []Socket{{Name: "slow", Conn: &slowConn{a, 3 * raceDelay}}, {Name: "fast", Conn: b}}
			heard := make([]atomic.Bool, 2)
			heard[0].Store(answered)
			conn, tr, name, err := c.dialRace(context.Background(), socks, heard)
			if err != nil {
				t.Fatal(err)
			}
			conn.CloseWithError(0, "")
			tr.Close()
			tr.Conn.Close()
			want := map[bool]string{true: "slow", false: "fast"}[answered]
			if name != want {
				t.Errorf("the race went to %q, want %q", name, want)
			}
		})
	}
}

// While the data plane hears from the HA, the MR sends no heartbeats: the
// HA is up and holds the session. Without that, one goes every second.
func TestHeartbeatSkippedWhileDataPlaneHears(t *testing.T) {
	t.Parallel() // seconds of timers
	for _, hears := range []bool{true, false} {
		t.Run(fmt.Sprint("hears=", hears), func(t *testing.T) {
			p := newSessionPair(t, nil, func(o *ClientOptions) {
				if hears {
					o.HeardFrom = time.Now
				}
			})
			time.Sleep(2500 * time.Millisecond)
			n := p.c.Stats().HeartbeatsTotal
			switch {
			case hears && n != 0:
				t.Errorf("%d heartbeats while the data plane heard from the HA", n)
			case !hears && n < 2:
				t.Errorf("%d heartbeats in 2.5 s, want one a second", n)
			}
		})
	}
}
