// SPDX-License-Identifier: MIT

package signaling

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"monami/paths"
	"monami/signaling/msg"
)

// leakCheck fails the test if, after its cleanups, more goroutines run than
// before it started. Register it first, so that it runs last.
func leakCheck(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
				return
			}
			<-tick.C
		}
	})
}

// eventually waits up to d for cond.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		<-tick.C
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// listenLoopback opens a UDP socket on 127.0.0.1 (port 0 for any).
func listenLoopback(t *testing.T, port uint16) *net.UDPConn {
	t.Helper()
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)))
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

func loopbackListen() (net.PacketConn, error) {
	return net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
}

// run starts fn in a goroutine and returns a stop function that cancels it
// and waits for it; stop is also registered as a cleanup.
func run(t *testing.T, fn func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return within 10 s of cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

type endEvent struct {
	peer  string
	index uint32
}

// recorder collects callbacks without blocking the caller.
type recorder struct {
	sessions chan Session
	ends     chan endEvent
	downs    chan error
}

func newRecorder() *recorder {
	return &recorder{sessions: make(chan Session, 64), ends: make(chan endEvent, 64), downs: make(chan error, 64)}
}

func (r *recorder) onSession(s Session) {
	select {
	case r.sessions <- s:
	default:
	}
}

func (r *recorder) onEnd(peer string, idx uint32) {
	select {
	case r.ends <- endEvent{peer, idx}:
	default:
	}
}

func (r *recorder) onDown(err error) {
	select {
	case r.downs <- err:
	default:
	}
}

func waitSession(t *testing.T, ch <-chan Session, d time.Duration) Session {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(d):
		t.Fatalf("no session within %v", d)
	}
	panic("unreachable")
}

func waitEnd(t *testing.T, ch <-chan endEvent, d time.Duration) endEvent {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(d):
		t.Fatalf("no session end within %v", d)
	}
	panic("unreachable")
}

// fixture is an HA with one configured MR.
type fixture struct {
	haPub           ed25519.PublicKey
	haPriv          ed25519.PrivateKey
	mrPub           ed25519.PublicKey
	mrPriv          ed25519.PrivateKey
	addr            netip.AddrPort
	server          *Server
	srec            *recorder
	stopServer      func()
	serverConnClose func()
	crashed         atomic.Bool
	tweak           func(*ServerOptions) // extra server options, if any
}

var mrPrefixes = []netip.Prefix{netip.MustParsePrefix("198.18.10.0/24"), netip.MustParsePrefix("fd00:10::/64")}

func newFixture(t *testing.T) *fixture { t.Helper(); return newFixtureWith(t, nil) }

// newFixtureWith is newFixture with tweak applied to the server's options.
func newFixtureWith(t *testing.T, tweak func(*ServerOptions)) *fixture {
	t.Helper()
	f := &fixture{srec: newRecorder(), tweak: tweak}
	f.haPub, f.haPriv = newKey(t)
	f.mrPub, f.mrPriv = newKey(t)
	pc := listenLoopback(t, 0)
	f.addr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	f.startServer(t, pc)
	return f
}

func (f *fixture) startServer(t *testing.T, pc net.PacketConn) {
	t.Helper()
	opts := ServerOptions{
		Logger:       testLogger(t).With("side", "ha"),
		PrivateKey:   f.haPriv,
		Peers:        []Peer{{Name: "mr1", PublicKey: f.mrPub, Prefixes: mrPrefixes}},
		Conn:         pc,
		OnSession:    f.srec.onSession,
		OnSessionEnd: f.srec.onEnd,
	}
	if f.tweak != nil {
		f.tweak(&opts)
	}
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.server = s
	stop := run(t, func(ctx context.Context) error {
		err := s.Run(ctx)
		if f.crashed.Load() {
			return nil // its socket was pulled from under it on purpose
		}
		return err
	})
	f.stopServer = func() {
		stop()
		pc.Close()
	}
	f.serverConnClose = func() {
		f.crashed.Store(true)
		pc.Close()
	}
	t.Cleanup(f.stopServer)
}

func (f *fixture) clientOptions(t *testing.T, rec *recorder) ClientOptions {
	return ClientOptions{
		Logger:     testLogger(t).With("side", "mr"),
		PrivateKey: f.mrPriv,
		ServerKey:  f.haPub,
		Server:     f.addr,
		BIDs:       []paths.BID{10, 11},
		Prefixes:   mrPrefixes,
		Listen:     loopbackListen,
		OnSession:  rec.onSession,
		OnDown:     rec.onDown,
	}
}

// rawConn dials the fixture's server with priv and pins serverKey, without
// the Client's protocol, for tests of the server's checks.
func rawConn(t *testing.T, priv ed25519.PrivateKey, serverKey ed25519.PublicKey, addr netip.AddrPort) (*quic.Conn, error) {
	t.Helper()
	c, err := NewClient(ClientOptions{PrivateKey: priv, ServerKey: serverKey, Server: addr, BIDs: []paths.BID{1}})
	if err != nil {
		t.Fatal(err)
	}
	pc := listenLoopback(t, 0)
	tr := &quic.Transport{Conn: pc}
	t.Cleanup(func() {
		tr.Close()
		pc.Close()
	})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	return tr.Dial(ctx, net.UDPAddrFromAddrPort(addr), c.tlsConf, quicConfig(true))
}

// exchange sends m on a new stream of conn and reads the answer.
func exchange(t *testing.T, conn *quic.Conn, m msg.Message) (msg.BindingAck, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return msg.BindingAck{}, err
	}
	str.SetDeadline(time.Now().Add(5 * time.Second))
	if err := msg.WriteMessage(str, m); err != nil {
		return msg.BindingAck{}, err
	}
	typ, body, err := msg.ReadMessage(str, nil)
	if err != nil {
		return msg.BindingAck{}, err
	}
	if typ != msg.TypeBindingAck {
		t.Fatalf("answer of type %v", typ)
	}
	return msg.ParseBindingAck(body)
}

// goodBU is a valid set-up update for the fixture's MR.
func goodBU() *msg.BindingUpdate {
	return &msg.BindingUpdate{
		Sequence: 7,
		Flags:    msg.BUAck | msg.BUHome,
		Lifetime: 150,
		BIDs:     []msg.BIDOption{{BID: 1}, {BID: 2}},
		Session:  &msg.SessionOption{Index: 42, Generation: 1, Suite: msg.SuiteAES256GCM},
		Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.10.0/25")},
	}
}

// isCryptoError reports whether err is a QUIC CONNECTION_CLOSE carrying a
// TLS alert.
func isCryptoError(err error) bool {
	var te *quic.TransportError
	if errors.As(err, &te) {
		return te.ErrorCode.IsCryptoError()
	}
	return strings.Contains(err.Error(), "CRYPTO_ERROR")
}
