// SPDX-License-Identifier: MIT

package signaling

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"monami/paths"
	"monami/signaling/msg"
)

// Reconnect backoff of the client: doubling from minBackoff to maxBackoff,
// back to minBackoff after a session was established.
//
// For recentWindow after a session was lost, attempts start at most
// recentBackoff apart instead: the HA is probably restarting, or the
// uplinks are out of reach for a moment, and traffic should resume within
// a second or two of either coming back. That costs three QUIC Initials
// (~1.2 kB each) per uplink and attempt, every 1.5 s, while they are away.
const (
	minBackoff    = time.Second
	maxBackoff    = 32 * time.Second
	recentBackoff = silentGiveUp
	recentWindow  = 10 * time.Minute
)

// errStreamClosed: the peer ended the signaling stream.
var errStreamClosed = errors.New("signaling stream closed by peer")

// ClientOptions configures a [Client]. PrivateKey, ServerKey, Server and at
// least one BID are required; the rest have defaults.
type ClientOptions struct {
	// Logger receives lifecycle events; nil discards them.
	Logger *slog.Logger
	// PrivateKey is the MR's identity.
	PrivateKey ed25519.PrivateKey
	// ServerKey is the HA's pinned public key.
	ServerKey ed25519.PublicKey
	// Server is the HA's signaling address.
	Server netip.AddrPort
	// Suite is the data-plane AEAD asked for; 0 means msg.SuiteAES256GCM.
	Suite uint8
	// BIDs are the MR's paths to register: nonzero and unique.
	BIDs []paths.BID
	// Prefixes are the mobile network prefixes the MR claims.
	Prefixes []netip.Prefix
	// Listen returns the UDP socket for one connection attempt (the MR binds
	// it to an uplink). The client owns and closes it. Nil means an
	// ephemeral socket on all addresses.
	Listen func() (net.PacketConn, error)
	// ListenAll returns the UDP sockets for one connection attempt, one
	// per uplink, in order of preference; the client owns and closes
	// them. The client dials the HA on the first, and on each next one
	// after a further raceDelay without a handshake, or at once when the
	// one before fails (as Happy Eyeballs does across address families,
	// RFC 8305): a router whose preferred uplink is dead connects over
	// another without waiting out a handshake timeout. It keeps the
	// connection that completes first and closes the others. Nil means
	// one socket from Listen. Listen still serves migration.
	ListenAll func() ([]Socket, error)
	// OnSession is called each time a session is established. It must not
	// block.
	OnSession func(Session)
	// OnDown is called when an established session's connection is lost,
	// also when Run is stopping, with the cause. It must not block.
	OnDown func(error)

	// Lifetime is the binding lifetime asked for; the HA may grant less.
	// Bindings are refreshed at 2/3 of the granted lifetime. Zero means
	// 600 s.
	Lifetime time.Duration
	// RekeyInterval is how often the session moves to a new generation of
	// data-plane keys; zero means 120 s. The data plane refuses keys older
	// than 180 s.
	RekeyInterval time.Duration
	// OnRekey is called with each new key generation once the HA has
	// acknowledged it; the data plane sends under it from then on. It
	// must not block.
	OnRekey func(Session)
	// ReportInterval is how often a path report is sent; zero means 2 s.
	ReportInterval time.Duration
	// PathReport returns the MR's current measurements of its paths, sent
	// to the HA every ReportInterval and after Poke. Nil sends none.
	PathReport func() []msg.PathMetrics
	// OnPeerReport is called with each path report of the HA (its view of
	// the paths: what it receives on each). It must not block.
	OnPeerReport func([]msg.PathMetrics)
	// OnError is called after each binding acknowledgement with
	// the per-BID and per-flow results that are failures, and with each
	// error report of the HA. It must not block.
	OnError func(msg.ErrorReport)
	// HeardFrom returns when the data plane last received an authenticated
	// frame from the HA under this session's keys. While that is less
	// than a heartbeat interval ago the heartbeat is skipped: the HA is up
	// and holds the session, which is all a heartbeat would find out
	// (data-plane probes are answered anyway, and far more cheaply than a
	// QUIC packet on the HA's side). Nil sends every heartbeat.
	HeardFrom func() time.Time
	// OnPolicyRequest answers a remote requester's policy operation that
	// the HA forwards (Server.Policy); nil answers 501. It is called from
	// the session's loop and should return within milliseconds.
	OnPolicyRequest func(msg.PolicyRequest) msg.PolicyResponse
}

// ClientStats are the client's counters.
type ClientStats struct {
	// ConnectsTotal counts connection attempts.
	ConnectsTotal uint64 `json:"connects_total"`
	// SessionsTotal counts sessions established.
	SessionsTotal uint64 `json:"sessions_total"`
	// FailuresTotal counts attempts that ended without a session: dial,
	// handshake, key pinning, rejected or malformed acknowledgement.
	FailuresTotal uint64 `json:"failures_total"`
	// UpdatesTotal counts binding updates sent after session set-up
	// (refreshes, path changes, flow bindings, removals).
	UpdatesTotal uint64 `json:"updates_total"`
	// RetransmitsTotal counts binding updates sent again for want of an
	// acknowledgement.
	RetransmitsTotal uint64 `json:"retransmits_total"`
	// RekeysTotal counts key generations installed after set-up.
	RekeysTotal uint64 `json:"rekeys_total"`
	// MigrationsTotal counts moves of the connection to another uplink;
	// MigrationFailuresTotal the moves that failed (the connection is then
	// made anew).
	MigrationsTotal        uint64 `json:"migrations_total"`
	MigrationFailuresTotal uint64 `json:"migration_failures_total"`
	// HeartbeatsTotal counts heartbeats sent (ClientOptions.HeardFrom
	// skips those the data plane made needless).
	HeartbeatsTotal uint64 `json:"heartbeats_total"`
}

// Socket is one candidate socket of a connection attempt: Name (an
// uplink's name) reaches the session as Session.Uplink.
type Socket struct {
	Name string
	Conn net.PacketConn
}

// StatusError is the error of a binding update the HA rejected.
type StatusError struct {
	Status msg.Status
	// BIDs holds the per-BID statuses the HA returned, if any.
	BIDs []msg.BIDOption
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("binding update rejected: %s (%d)", e.Status, uint8(e.Status))
}

// Client is the MR side of the signaling channel: it keeps one session with
// the HA up, reconnecting with backoff.
type Client struct {
	// Immutable after NewClient.
	opts    ClientOptions
	log     *slog.Logger
	tlsConf *tls.Config
	server  *net.UDPAddr

	// Owned by Run's goroutine.
	seq uint16

	mu      sync.Mutex // guards want*
	wantBID []msg.BIDOption
	wantFlo map[uint16]msg.FlowIdentification
	kick    chan struct{} // the wanted state changed
	report  chan struct{} // send a path report now
	migrate chan struct{} // move the connection to another uplink now

	connects, sessions, failures  atomic.Uint64
	updates, retransmits, rekeys  atomic.Uint64
	migrations, migrationFailures atomic.Uint64
	heartbeats                    atomic.Uint64
}

// NewClient checks opts and returns a client ready to Run.
func NewClient(opts ClientOptions) (*Client, error) {
	if len(opts.PrivateKey) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("private key of %d bytes, want %d", len(opts.PrivateKey), ed25519.PrivateKeySize)
	}
	if len(opts.ServerKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("server key of %d bytes, want %d", len(opts.ServerKey), ed25519.PublicKeySize)
	}
	if !opts.Server.IsValid() {
		return nil, errors.New("no server address")
	}
	if opts.Suite == 0 {
		opts.Suite = msg.SuiteAES256GCM
	}
	if !supportedSuite(opts.Suite) {
		return nil, fmt.Errorf("unsupported suite %d", opts.Suite)
	}
	if len(opts.BIDs) == 0 {
		return nil, errors.New("no BIDs to register")
	}
	seen := make(map[paths.BID]bool, len(opts.BIDs))
	for _, b := range opts.BIDs {
		if b == 0 || seen[b] {
			return nil, fmt.Errorf("BID %d is zero or repeated", b)
		}
		seen[b] = true
	}
	opts.BIDs = append([]paths.BID(nil), opts.BIDs...)
	opts.Prefixes = append([]netip.Prefix(nil), opts.Prefixes...)
	opts.ServerKey = append(ed25519.PublicKey(nil), opts.ServerKey...)
	if opts.Lifetime <= 0 {
		opts.Lifetime = requestedLifetime
	}
	opts.Lifetime = min(opts.Lifetime, msg.LifetimeDuration(0xffff))
	if opts.RekeyInterval <= 0 {
		opts.RekeyInterval = rekeyInterval
	}
	if opts.ReportInterval <= 0 {
		opts.ReportInterval = reportInterval
	}
	c := &Client{opts: opts, server: net.UDPAddrFromAddrPort(opts.Server),
		kick: make(chan struct{}, 1), report: make(chan struct{}, 1), migrate: make(chan struct{}, 1),
		wantFlo: map[uint16]msg.FlowIdentification{}}
	for _, b := range opts.BIDs {
		c.wantBID = append(c.wantBID, msg.BIDOption{BID: b})
	}
	if err := c.bindingUpdate(0).Validate(); err != nil {
		return nil, fmt.Errorf("binding update: %w", err)
	}
	c.log = opts.Logger
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "signaling", "peer", opts.Server.String())
	cert, err := NewTLSCertificate(opts.PrivateKey)
	if err != nil {
		return nil, err
	}
	c.tlsConf = baseTLSConfig(cert)
	serverKey := opts.ServerKey
	c.tlsConf.VerifyConnection = func(cs tls.ConnectionState) error {
		k, err := peerKey(cs)
		if err != nil {
			return err
		}
		if !k.Equal(serverKey) {
			return errUnknownPeer
		}
		return nil
	}
	return c, nil
}

// Stats returns a snapshot of the client's counters. Safe for concurrent use.
func (c *Client) Stats() ClientStats {
	return ClientStats{
		ConnectsTotal: c.connects.Load(),
		SessionsTotal: c.sessions.Load(),
		FailuresTotal: c.failures.Load(),

		UpdatesTotal:           c.updates.Load(),
		RetransmitsTotal:       c.retransmits.Load(),
		RekeysTotal:            c.rekeys.Load(),
		MigrationsTotal:        c.migrations.Load(),
		MigrationFailuresTotal: c.migrationFailures.Load(),
		HeartbeatsTotal:        c.heartbeats.Load(),
	}
}

// SetPaths sets the paths to keep registered: their BIDs and care-of
// addresses (Status and Flags are ignored). A path left out is removed
// from the HA's binding cache (a binding update with lifetime 0 for its
// BID); a new one, or one whose care-of address changed, is registered;
// the update goes out at once. An empty set is allowed: the HA then sends
// no downlink traffic until paths come back. Safe for concurrent use.
func (c *Client) SetPaths(bids []msg.BIDOption) {
	want := make([]msg.BIDOption, 0, len(bids))
	for _, o := range bids {
		if o.BID != 0 && !slices.ContainsFunc(want, func(w msg.BIDOption) bool { return w.BID == o.BID }) {
			want = append(want, msg.BIDOption{BID: o.BID, CareOf: o.CareOf})
		}
	}
	slices.SortFunc(want, func(a, b msg.BIDOption) int { return int(a.BID) - int(b.BID) })
	c.mu.Lock()
	c.wantBID = want
	c.mu.Unlock()
	poke(c.kick)
}

// SetFlowBindings sets the flow bindings the HA is to apply to the MR's
// downlink (RFC 6089): each with a nonzero, unique FID, a priority, the
// BIDs in order of preference and a traffic selector. Only the
// differences from what the HA holds travel, as add, modify and delete
// actions; the HA's per-flow statuses come back through OnError. Safe for
// concurrent use.
func (c *Client) SetFlowBindings(flows []msg.FlowIdentification) {
	want := make(map[uint16]msg.FlowIdentification, len(flows))
	for _, f := range flows {
		if f.FID == 0 {
			continue
		}
		f.Status, f.Action = 0, msg.FlowActionNone
		want[f.FID] = f
	}
	c.mu.Lock()
	c.wantFlo = want
	c.mu.Unlock()
	poke(c.kick)
}

// Poke sends a path report now (after a path event). Safe for concurrent
// use.
func (c *Client) Poke() { poke(c.report) }

// Migrate moves the signaling connection to another uplink now: Listen is
// asked for a new socket, the path to the HA over it is validated (QUIC
// connection migration) and the connection switches to it. If that fails
// within a second, the connection stays and the move is tried again a
// second later, up to five times. Call it when the uplink the connection
// runs on fails. Safe for concurrent use.
func (c *Client) Migrate() { poke(c.migrate) }

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run keeps a session with the HA until ctx ends. A lost session is retried
// at once (within a random 250 ms), then every 1.5 s for ten minutes, then
// with backoff (1 s doubling to 32 s, plus up to a fifth at random),
// counted from the start of each attempt; a session resets the schedule. It returns nil when ctx
// ends, after every goroutine and socket it started is gone. Run must not
// be called more than once at a time.
func (c *Client) Run(ctx context.Context) error {
	delay := minBackoff
	var lost time.Time // when the last session was lost
	for {
		began := time.Now()
		established, err := c.attempt(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if established {
			// Retry at once: the HA may just have restarted (a stateless
			// reset ended the session), and traffic waits for us. "At once"
			// is within a random quarter second, so that the routers of a
			// restarted HA do not all dial in the same instant (its accept
			// queue refuses completed handshakes when full).
			delay = minBackoff
			lost = time.Now()
			c.log.Warn("session down", "err", err)
			if !sleepCtx(ctx, jitter(reconnectJitter)) {
				return nil
			}
			continue
		}
		c.failures.Add(1)
		if !lost.IsZero() && time.Since(lost) < recentWindow {
			delay = min(delay, recentBackoff)
		}
		// The delay counts from the start of the attempt: one that spent
		// its handshake timeout on dead uplinks is followed at once, so
		// that an uplink coming back (out of a road tunnel) is tried
		// within a few seconds, not a handshake timeout plus a backoff.
		wait := max(0, delay-time.Since(began)) + jitter(delay/5)
		c.log.Warn("connect failed", "err", err, "retry_in", wait.Round(time.Millisecond))
		if !sleepCtx(ctx, wait) {
			return nil
		}
		delay = nextBackoff(delay)
	}
}

// reconnectJitter bounds the random wait before reconnecting after a lost
// session.
const reconnectJitter = 250 * time.Millisecond

// jitter returns a random duration in [0, d).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d)))
}

// sleepCtx waits d; false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// nextBackoff doubles d up to maxBackoff.
func nextBackoff(d time.Duration) time.Duration { return min(2*d, maxBackoff) }

// bindingUpdate builds the session set-up update for receiver index idx:
// every wanted path (or, if none is wanted now, every configured one, as
// the HA needs at least one), without flow bindings (they follow once the
// session is up).
func (c *Client) bindingUpdate(idx uint32) *msg.BindingUpdate {
	c.mu.Lock()
	bids := slices.Clone(c.wantBID)
	c.mu.Unlock()
	if len(bids) == 0 {
		for _, b := range c.opts.BIDs {
			bids = append(bids, msg.BIDOption{BID: b})
		}
	}
	return &msg.BindingUpdate{
		Sequence: c.seq,
		Flags:    msg.BUAck | msg.BUHome | msg.BUMobileRouter,
		Lifetime: msg.LifetimeUnits(c.opts.Lifetime),
		BIDs:     bids,
		Session:  &msg.SessionOption{Index: idx, Generation: 1, Suite: c.opts.Suite},
		Prefixes: c.opts.Prefixes,
	}
}

// attempt makes one connection: dial, register, and, once the session is
// up, hold it until the connection dies or ctx ends. established reports
// whether a session was set up; err is why the attempt ended.
func (c *Client) attempt(ctx context.Context) (established bool, err error) {
	c.connects.Add(1)
	socks, heard, err := c.listenAll()
	if err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	setupCtx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	conn, tr, uplink, err := c.dialRace(setupCtx, socks, heard)
	if err != nil {
		return false, fmt.Errorf("dial: %w", err)
	}
	defer tr.Conn.Close()
	defer tr.Close()
	// Close the connection when ctx ends, and always before returning; the
	// closer goroutine is waited for.
	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(closed)
		conn.CloseWithError(codeClose, "shutdown")
	})
	defer func() {
		if !stop() {
			<-closed
		}
		conn.CloseWithError(codeClose, "")
	}()

	sess, str, bu, ba, err := c.register(setupCtx, conn)
	if err != nil {
		return false, err
	}
	c.sessions.Add(1)
	sess.Uplink = uplink
	c.log.Info("session up", "local_index", sess.LocalIndex, "peer_index", sess.PeerIndex, "bids", len(sess.BIDs), "uplink", uplink)
	if c.opts.OnSession != nil {
		c.opts.OnSession(sess)
	}
	cc := newClientConn(c, conn, str, sess, bu, ba)
	defer cc.closeTransports()
	err = cc.run(ctx)
	conn.CloseWithError(codeClose, "")
	if ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if c.opts.OnDown != nil {
		c.opts.OnDown(err)
	}
	return true, err
}

// listenAll returns the candidate sockets of one attempt, each wrapped so
// that send errors from a vanished route count as loss, and heard[i] tells
// whether anything arrived on socks[i].
func (c *Client) listenAll() (socks []Socket, heard []atomic.Bool, err error) {
	switch {
	case c.opts.ListenAll != nil:
		if socks, err = c.opts.ListenAll(); err != nil {
			return nil, nil, err
		}
		if len(socks) == 0 {
			return nil, nil, errors.New("no socket to dial from")
		}
	case c.opts.Listen != nil:
		pc, err := c.opts.Listen()
		if err != nil {
			return nil, nil, err
		}
		socks = []Socket{{Conn: pc}}
	default:
		pc, err := net.ListenUDP("udp", nil)
		if err != nil {
			return nil, nil, err
		}
		socks = []Socket{{Conn: pc}}
	}
	heard = make([]atomic.Bool, len(socks))
	for i := range socks {
		socks[i].Conn = tolerant(socks[i].Conn, &heard[i])
	}
	return socks, heard, nil
}

// raceDelay is how long a handshake has before the next uplink's starts
// alongside it: more than a handshake takes on a working path (one round
// trip, and a retransmitted Initial on a lossy one), well under the
// handshake timeout a dead path costs.
const raceDelay = 400 * time.Millisecond

// silentGiveUp ends an attempt on which nothing at all came back. QUIC
// backs off its Initial retransmissions (about 0.3, 0.9, 2.1, 4.5 s after
// the first); a fresh attempt every 1.5 s while the uplinks are silent
// keeps the gap between Initials near 0.6 s, so a router whose uplinks
// come back (out of a road tunnel) connects within about a second. An
// attempt that heard the HA goes on to the handshake timeout: a slow link
// or a busy HA needs the time, and a new attempt would lose its progress.
const silentGiveUp = 1500 * time.Millisecond

// dialRace dials the HA on socks in order, starting each after raceDelay
// or the failure of the one before, and returns the first connection to
// complete its handshake with its transport and socket name. The other
// dials are cancelled and their sockets closed; so are all if none
// succeeds, or if nothing came back on any within silentGiveUp. While the HA answers on a started socket (heard), no other
// starts: its handshake is slow because the HA is busy (a restart with
// many routers dialing in), and more handshakes would only add to that.
func (c *Client) dialRace(ctx context.Context, socks []Socket, heard []atomic.Bool) (*quic.Conn, *quic.Transport, string, error) {
	type result struct {
		i    int
		conn *quic.Conn
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	trs := make([]*quic.Transport, len(socks))
	for i, s := range socks {
		trs[i] = &quic.Transport{Conn: s.Conn}
	}
	results := make(chan result, len(socks))
	started, pending := 0, 0
	answered := func() bool {
		for i := range started {
			if heard[i].Load() {
				return true
			}
		}
		return false
	}
	start := func() {
		if ctx.Err() != nil {
			return
		}
		i := started
		started++
		pending++
		go func() {
			conn, err := trs[i].Dial(ctx, c.server, c.tlsConf, quicConfig(true))
			results <- result{i, conn, err}
		}()
	}
	start()
	timer := time.NewTimer(raceDelay)
	defer timer.Stop()
	giveUp := time.NewTimer(silentGiveUp)
	defer giveUp.Stop()
	winner := -1
	var conn *quic.Conn
	var errs []error
	for pending > 0 {
		select {
		case <-timer.C:
			if started < len(socks) && winner < 0 {
				if !answered() {
					start()
				}
				timer.Reset(raceDelay)
			}
		case <-giveUp.C:
			if winner < 0 && !answered() {
				errs = append(errs, fmt.Errorf("no answer on any of %d uplinks within %v", started, silentGiveUp))
				cancel() // the dials end; a new attempt starts afresh
			}
		case r := <-results:
			pending--
			switch {
			case r.err != nil:
				if name := socks[r.i].Name; name != "" {
					r.err = fmt.Errorf("%s: %w", name, r.err)
				}
				errs = append(errs, r.err)
				if winner < 0 && started < len(socks) {
					start()
					timer.Reset(raceDelay)
				}
			case winner < 0:
				winner, conn = r.i, r.conn
				cancel() // the other dials end
			default:
				r.conn.CloseWithError(codeClose, "another uplink won")
			}
		}
	}
	for i, tr := range trs {
		switch {
		case i >= started:
			tr.Conn.Close() // never dialed: the transport never ran
		case i != winner:
			tr.Close()
			tr.Conn.Close()
		}
	}
	if winner < 0 {
		return nil, nil, "", errors.Join(errs...)
	}
	if len(socks) > 1 {
		c.log.Debug("dial race won", "uplink", socks[winner].Name, "started", started)
	}
	return conn, trs[winner], socks[winner].Name, nil
}

// register sends the binding update on a new stream and checks the
// acknowledgement.
func (c *Client) register(ctx context.Context, conn *quic.Conn) (sess Session, str *quic.Stream, bu *msg.BindingUpdate, ba *msg.BindingAck, err error) {
	str, err = conn.OpenStreamSync(ctx)
	if err != nil {
		return Session{}, nil, nil, nil, fmt.Errorf("open stream: %w", err)
	}
	deadline, _ := ctx.Deadline()
	str.SetDeadline(deadline)
	c.seq++
	idx := randomIndex()
	bu = c.bindingUpdate(idx)
	if err = msg.WriteMessage(str, bu); err != nil {
		return Session{}, nil, nil, nil, err
	}
	typ, body, err := msg.ReadMessage(str, make([]byte, 1024))
	if err != nil {
		return Session{}, nil, nil, nil, fmt.Errorf("read binding ack: %w", err)
	}
	if typ != msg.TypeBindingAck {
		conn.CloseWithError(codeProtocol, "expected binding ack")
		return Session{}, nil, nil, nil, fmt.Errorf("got %s, want binding ack", typ)
	}
	ack, err := msg.ParseBindingAck(body)
	if err != nil {
		conn.CloseWithError(codeProtocol, "malformed binding ack")
		return Session{}, nil, nil, nil, err
	}
	ba = &ack
	if ba.Sequence != bu.Sequence {
		conn.CloseWithError(codeProtocol, "sequence mismatch")
		return Session{}, nil, nil, nil, fmt.Errorf("binding ack for sequence %d, want %d", ba.Sequence, bu.Sequence)
	}
	if !ba.Status.Accepted() {
		conn.CloseWithError(codeRejected, "")
		return Session{}, nil, nil, nil, &StatusError{Status: ba.Status, BIDs: ba.BIDs}
	}
	s := ba.Session
	if s == nil || s.Index == 0 || s.Generation != bu.Session.Generation || s.Suite != bu.Session.Suite {
		conn.CloseWithError(codeProtocol, "bad session option")
		return Session{}, nil, nil, nil, fmt.Errorf("binding ack session option %+v does not match %+v", s, *bu.Session)
	}
	cs := conn.ConnectionState().TLS
	up, down, err := deriveKeys(&cs, s.Generation, idx, s.Index)
	if err != nil {
		conn.CloseWithError(codeInternal, "")
		return Session{}, nil, nil, nil, err
	}
	str.SetDeadline(time.Time{})
	bids := make([]paths.BID, len(bu.BIDs))
	for i, o := range bu.BIDs {
		bids[i] = o.BID
	}
	return Session{
		Peer:       c.opts.Server.String(),
		Generation: s.Generation,
		LocalIndex: idx,
		PeerIndex:  s.Index,
		Suite:      s.Suite,
		SendKey:    up,
		RecvKey:    down,
		BIDs:       acceptedBIDs(bids, ba.BIDs),
	}, str, bu, ba, nil
}

// acceptedBIDs returns the BIDs the acknowledgement accepted: all of them if
// it lists none, else those it lists with a success status.
func acceptedBIDs(asked []paths.BID, got []msg.BIDOption) []paths.BID {
	if len(got) == 0 {
		return append([]paths.BID(nil), asked...)
	}
	want := make(map[paths.BID]bool, len(asked))
	for _, b := range asked {
		want[b] = true
	}
	var out []paths.BID
	for _, o := range got {
		if o.Status.Accepted() && want[o.BID] {
			out = append(out, o.BID)
			want[o.BID] = false
		}
	}
	return out
}
