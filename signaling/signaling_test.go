// SPDX-License-Identifier: MIT

package signaling

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"monami/paths"
	"monami/signaling/msg"
)

func TestSessionKeysAgree(t *testing.T) {
	leakCheck(t)
	f := newFixture(t)
	rec := newRecorder()
	c, err := NewClient(f.clientOptions(t, rec))
	if err != nil {
		t.Fatal(err)
	}
	run(t, c.Run)
	mr := waitSession(t, rec.sessions, 10*time.Second)
	ha := waitSession(t, f.srec.sessions, time.Second)
	if mr.SendKey != ha.RecvKey || mr.RecvKey != ha.SendKey {
		t.Fatal("the two sides derived different data keys")
	}
	if mr.SendKey == mr.RecvKey {
		t.Fatal("both directions use the same key")
	}
	if mr.LocalIndex != ha.PeerIndex || mr.PeerIndex != ha.LocalIndex || mr.LocalIndex == 0 || ha.LocalIndex == 0 {
		t.Fatalf("receiver indices do not cross: mr %d/%d ha %d/%d", mr.LocalIndex, mr.PeerIndex, ha.LocalIndex, ha.PeerIndex)
	}
	if ha.Peer != "mr1" || len(ha.BIDs) != 2 || ha.BIDs[0] != 10 || ha.BIDs[1] != 11 {
		t.Fatalf("server session %+v: want peer mr1 with BIDs 10, 11", ha)
	}
	if len(mr.BIDs) != 2 {
		t.Fatalf("client session registered BIDs %v, want both", mr.BIDs)
	}
	if st := f.server.Stats(); st.SessionsTotal != 1 || st.HandshakesRejectedTotal != 0 {
		t.Fatalf("server stats %+v", st)
	}
}

func TestUnknownClientKeyGetsNothing(t *testing.T) {
	leakCheck(t)
	f := newFixture(t)
	_, stranger := newKey(t)
	conn, err := rawConn(t, stranger, f.haPub, f.addr)
	if err == nil {
		// TLS 1.3: the client may finish before the server's alert arrives;
		// any use of the connection must then fail.
		_, err = exchange(t, conn, goodBU())
	}
	if err == nil {
		t.Fatal("a client with an unknown key got an answer")
	}
	if !isCryptoError(err) {
		t.Logf("error is not a TLS alert: %v", err)
	}
	eventually(t, 5*time.Second, "rejected handshake counted", func() bool {
		return f.server.Stats().HandshakesRejectedTotal == 1
	})
	select {
	case s := <-f.srec.sessions:
		t.Fatalf("session for an unknown key: %+v", s)
	default:
	}
}

func TestWrongServerKeyRefused(t *testing.T) {
	leakCheck(t)
	f := newFixture(t)
	rec := newRecorder()
	opts := f.clientOptions(t, rec)
	opts.ServerKey, _ = newKey(t) // pins someone else
	c, err := NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	run(t, c.Run)
	eventually(t, 5*time.Second, "failed attempt", func() bool { return c.Stats().FailuresTotal >= 1 })
	if c.Stats().SessionsTotal != 0 || len(f.srec.sessions) != 0 {
		t.Fatal("a session was set up with an impostor server")
	}
}

func TestForeignPrefixRefused(t *testing.T) {
	leakCheck(t)
	f := newFixture(t)
	conn, err := rawConn(t, f.mrPriv, f.haPub, f.addr)
	if err != nil {
		t.Fatal(err)
	}
	bu := goodBU()
	bu.Prefixes = []netip.Prefix{netip.MustParsePrefix("198.18.11.0/24")} // another MR's
	ba, err := exchange(t, conn, bu)
	if err != nil {
		t.Fatal(err)
	}
	if ba.Status != msg.StatusNotAuthorizedForPrefix {
		t.Fatalf("status %v, want %v", ba.Status, msg.StatusNotAuthorizedForPrefix)
	}
	if ba.Session != nil {
		t.Fatal("a rejected update got a session option")
	}
	if len(f.srec.sessions) != 0 {
		t.Fatal("session set up for a foreign prefix")
	}
}

func TestMalformedBindingsRejected(t *testing.T) {
	leakCheck(t)
	for _, tc := range []struct {
		name   string
		mutate func(*msg.BindingUpdate)
		want   msg.Status
	}{
		{"no BIDs", func(b *msg.BindingUpdate) { b.BIDs = nil }, msg.StatusMCoAMalformed},
		{"duplicate BID", func(b *msg.BindingUpdate) { b.BIDs = []msg.BIDOption{{BID: 3}, {BID: 3}} }, msg.StatusMCoAMalformed},
		{"zero BID", func(b *msg.BindingUpdate) { b.BIDs = []msg.BIDOption{{BID: 0}} }, msg.StatusMCoAMalformed},
		{"no session option", func(b *msg.BindingUpdate) { b.Session = nil }, msg.StatusReasonUnspecified},
		{"unknown suite", func(b *msg.BindingUpdate) { b.Session.Suite = 99 }, msg.StatusReasonUnspecified},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			conn, err := rawConn(t, f.mrPriv, f.haPub, f.addr)
			if err != nil {
				t.Fatal(err)
			}
			bu := goodBU()
			tc.mutate(bu)
			ba, err := exchange(t, conn, bu)
			if err != nil {
				t.Fatal(err)
			}
			if ba.Status != tc.want {
				t.Fatalf("status %v, want %v", ba.Status, tc.want)
			}
			if f.server.Stats().BindingsRejectedTotal != 1 || len(f.srec.sessions) != 0 {
				t.Fatalf("stats %+v, sessions %d", f.server.Stats(), len(f.srec.sessions))
			}
		})
	}
}

func TestReconnectAfterServerRestart(t *testing.T) {
	leakCheck(t)
	f := newFixture(t)
	rec := newRecorder()
	c, err := NewClient(f.clientOptions(t, rec))
	if err != nil {
		t.Fatal(err)
	}
	run(t, c.Run)
	first := waitSession(t, rec.sessions, 10*time.Second)
	f.stopServer()
	select {
	case <-rec.downs:
	case <-time.After(20 * time.Second):
		t.Fatal("client did not notice the server going away")
	}
	// A new server on the same address (a restarted HA).
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(f.addr))
	if err != nil {
		t.Fatal(err)
	}
	f.startServer(t, pc)
	second := waitSession(t, rec.sessions, 20*time.Second)
	if second.SendKey == first.SendKey {
		t.Fatal("the new session reuses the old keys")
	}
}

func TestNewSessionReplacesOld(t *testing.T) {
	leakCheck(t)
	f := newFixture(t)
	rec1, rec2 := newRecorder(), newRecorder()
	c1, _ := NewClient(f.clientOptions(t, rec1))
	run(t, c1.Run)
	s1 := waitSession(t, f.srec.sessions, 10*time.Second)
	c2, _ := NewClient(f.clientOptions(t, rec2))
	stop2 := run(t, c2.Run)
	waitSession(t, rec2.sessions, 10*time.Second)
	if e := waitEnd(t, f.srec.ends, 5*time.Second); e.index != s1.LocalIndex {
		t.Fatalf("ended session %d, want the replaced %d", e.index, s1.LocalIndex)
	}
	stop2()
}

func TestClientOptionsChecked(t *testing.T) {
	_, priv := newKey(t)
	pub, _ := newKey(t)
	addr := netip.MustParseAddrPort("127.0.0.1:1")
	for _, tc := range []struct {
		name string
		opts ClientOptions
	}{
		{"no key", ClientOptions{ServerKey: pub, Server: addr, BIDs: []paths.BID{1}}},
		{"no server key", ClientOptions{PrivateKey: priv, Server: addr, BIDs: []paths.BID{1}}},
		{"no address", ClientOptions{PrivateKey: priv, ServerKey: pub, BIDs: []paths.BID{1}}},
		{"no BIDs", ClientOptions{PrivateKey: priv, ServerKey: pub, Server: addr}},
		{"zero BID", ClientOptions{PrivateKey: priv, ServerKey: pub, Server: addr, BIDs: []paths.BID{0}}},
		{"bad suite", ClientOptions{PrivateKey: priv, ServerKey: pub, Server: addr, BIDs: []paths.BID{1}, Suite: 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewClient(tc.opts); err == nil {
				t.Fatal("NewClient accepted bad options")
			}
		})
	}
}

// TestReconnectAfterServerCrash: the HA dies without closing anything (its
// socket just vanishes), stays away for a while, and comes back on the same
// address with the same key. The MR must have a new session within 3 s of
// the HA listening again.
func TestReconnectAfterServerCrash(t *testing.T) {
	leakCheck(t)
	f := newFixture(t)
	rec := newRecorder()
	c, err := NewClient(f.clientOptions(t, rec))
	if err != nil {
		t.Fatal(err)
	}
	run(t, c.Run)
	first := waitSession(t, rec.sessions, 10*time.Second)
	f.serverConnClose() // no CONNECTION_CLOSE can leave any more
	f.stopServer()
	time.Sleep(4 * time.Second) // down long enough for the client to retry in vain
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(f.addr))
	if err != nil {
		t.Fatal(err)
	}
	listening := time.Now()
	f.crashed.Store(false)
	f.startServer(t, pc)
	second := waitSession(t, rec.sessions, 10*time.Second)
	d := time.Since(listening)
	t.Logf("new session %v after the HA listened again", d)
	if d > 3*time.Second {
		t.Errorf("new session %v after the HA listened again; want <= 3s", d)
	}
	if second.LocalIndex == first.LocalIndex && second.SendKey == first.SendKey {
		t.Fatal("no new session")
	}
}
