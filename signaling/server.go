// SPDX-License-Identifier: MIT

package signaling

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"monami/paths"
	"monami/signaling/msg"
)

// Peer is a mobile router the HA accepts.
type Peer struct {
	// Name identifies the MR in sessions, logs and callbacks; unique.
	Name string
	// PublicKey is the MR's Ed25519 identity; unique.
	PublicKey ed25519.PublicKey
	// Prefixes are the mobile network prefixes the MR may claim.
	Prefixes []netip.Prefix
}

// ServerOptions configures a [Server]. PrivateKey and Conn are required.
type ServerOptions struct {
	// Logger receives lifecycle events; nil discards them.
	Logger *slog.Logger
	// PrivateKey is the HA's identity.
	PrivateKey ed25519.PrivateKey
	// Peers are the MRs allowed to connect.
	Peers []Peer
	// Conn is the UDP socket to serve on. It stays the caller's: Run does
	// not close it.
	Conn net.PacketConn
	// OnSession is called when a session is established, before the MR
	// learns of it (so the data plane can take the MR's first packets). It
	// must not block.
	OnSession func(Session)
	// OnSessionEnd is called once for every session passed to OnSession,
	// when it ends: its connection died, a newer session of the same peer
	// replaced it, or Run is stopping. It must not block.
	OnSessionEnd func(peer string, localIndex uint32)

	// MaxLifetime caps the binding lifetime granted; zero means 600 s.
	MaxLifetime time.Duration
	// ReportInterval is how often the HA sends each MR a path report;
	// zero means 2 s.
	ReportInterval time.Duration
	// OnBindings is called with an MR's registered paths each time they
	// change (registration, removal, expiry), and once with none when its
	// session ends (unless a newer session of the MR replaced it: the
	// bindings are then the newer one's). It is called with the server's
	// lock held: it must not block or call back into the Server.
	OnBindings func(peer string, bs []Binding)
	// OnFlows is called with an MR's accepted flow bindings, sorted by FID,
	// each time they change, and once with none when its session ends
	// (as OnBindings, and under the same lock).
	OnFlows func(peer string, flows []msg.FlowIdentification)
	// OnRekey is called when an MR moves its session to a new key
	// generation, before the acknowledgement leaves (so the data plane
	// opens the MR's first frames under it). It must not block.
	OnRekey func(s Session)
	// OnPathReport is called with each path report of an MR. It must not
	// block.
	OnPathReport func(peer string, ps []msg.PathMetrics)
	// PathReport returns the HA's view of an MR's paths (what it receives
	// on each), sent to the MR every ReportInterval. Nil sends none.
	PathReport func(peer string) []msg.PathMetrics
}

// ServerStats are the server's counters.
type ServerStats struct {
	// ConnectionsTotal counts authenticated connections accepted.
	ConnectionsTotal uint64 `json:"connections_total"`
	// HandshakesRejectedTotal counts TLS handshakes refused because the
	// peer's certificate or key is not acceptable.
	HandshakesRejectedTotal uint64 `json:"handshakes_rejected_total"`
	// SessionsTotal counts sessions established.
	SessionsTotal uint64 `json:"sessions_total"`
	// SessionsEndedTotal counts sessions ended.
	SessionsEndedTotal uint64 `json:"sessions_ended_total"`
	// BindingsRejectedTotal counts binding updates answered with a failure
	// status.
	BindingsRejectedTotal uint64 `json:"bindings_rejected_total"`
	// MalformedTotal counts connections closed because the binding update
	// was missing, late, unexpected or malformed.
	MalformedTotal uint64 `json:"malformed_total"`
}

// Server is the HA side of the signaling channel: it authenticates MRs,
// registers their paths and sets up one data-plane session per MR.
//
// Lock order: mu only; callbacks run with mu held.
type Server struct {
	// Immutable after NewServer.
	opts           ServerOptions
	maxLifetime    time.Duration
	reportInterval time.Duration
	log            *slog.Logger
	tlsConf        *tls.Config
	peers          map[string]*Peer // by string(PublicKey)

	mu      sync.Mutex
	byIndex map[uint32]*serverSession // live sessions by the HA's receiver index
	byPeer  map[string]*serverSession // the live session of each peer name
	conns   map[*quic.Conn]struct{}   // live connections

	connections, handshakesRejected, sessions, sessionsEnded atomic.Uint64
	bindingsRejected, malformed                              atomic.Uint64
}

// serverSession is one live session. Immutable but for indexes and gen,
// guarded by Server.mu.
type serverSession struct {
	conn *quic.Conn
	sess Session

	indexes []uint32 // receiver indexes of its key generations, in byIndex
	gen     uint32   // current key generation
	ended   bool
	sc      *serverConn // its message loop, once running (for Policy)
}

// NewServer checks opts and returns a server ready to Run.
func NewServer(opts ServerOptions) (*Server, error) {
	if len(opts.PrivateKey) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("private key of %d bytes, want %d", len(opts.PrivateKey), ed25519.PrivateKeySize)
	}
	if opts.Conn == nil {
		return nil, errors.New("no socket to serve on")
	}
	if opts.MaxLifetime <= 0 {
		opts.MaxLifetime = requestedLifetime
	}
	if opts.ReportInterval <= 0 {
		opts.ReportInterval = reportInterval
	}
	s := &Server{
		opts:           opts,
		maxLifetime:    opts.MaxLifetime,
		reportInterval: opts.ReportInterval,
		peers:          make(map[string]*Peer, len(opts.Peers)),
		byIndex:        map[uint32]*serverSession{},
		byPeer:         map[string]*serverSession{},
		conns:          map[*quic.Conn]struct{}{},
	}
	names := map[string]bool{}
	for i, p := range opts.Peers {
		if p.Name == "" || names[p.Name] {
			return nil, fmt.Errorf("peer %d: name %q is empty or repeated", i, p.Name)
		}
		names[p.Name] = true
		if len(p.PublicKey) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("peer %s: public key of %d bytes, want %d", p.Name, len(p.PublicKey), ed25519.PublicKeySize)
		}
		if s.peers[string(p.PublicKey)] != nil {
			return nil, fmt.Errorf("peer %s: public key repeated", p.Name)
		}
		cp := &Peer{Name: p.Name, PublicKey: append(ed25519.PublicKey(nil), p.PublicKey...)}
		for _, pfx := range p.Prefixes {
			if !pfx.IsValid() {
				return nil, fmt.Errorf("peer %s: invalid prefix %s", p.Name, pfx)
			}
			cp.Prefixes = append(cp.Prefixes, pfx.Masked())
		}
		s.peers[string(cp.PublicKey)] = cp
	}
	s.log = opts.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "signaling")
	cert, err := NewTLSCertificate(opts.PrivateKey)
	if err != nil {
		return nil, err
	}
	s.tlsConf = baseTLSConfig(cert)
	s.tlsConf.ClientAuth = tls.RequireAnyClientCert
	s.tlsConf.VerifyConnection = func(cs tls.ConnectionState) error {
		if _, err := s.peerFor(cs); err != nil {
			s.handshakesRejected.Add(1)
			s.log.Debug("handshake rejected", "err", err)
			return err
		}
		return nil
	}
	return s, nil
}

// peerFor returns the configured peer whose key the connection presented.
func (s *Server) peerFor(cs tls.ConnectionState) (*Peer, error) {
	k, err := peerKey(cs)
	if err != nil {
		return nil, err
	}
	p := s.peers[string(k)]
	if p == nil {
		return nil, errUnknownPeer
	}
	return p, nil
}

// Stats returns a snapshot of the server's counters. Safe for concurrent use.
func (s *Server) Stats() ServerStats {
	return ServerStats{
		ConnectionsTotal:        s.connections.Load(),
		HandshakesRejectedTotal: s.handshakesRejected.Load(),
		SessionsTotal:           s.sessions.Load(),
		SessionsEndedTotal:      s.sessionsEnded.Load(),
		BindingsRejectedTotal:   s.bindingsRejected.Load(),
		MalformedTotal:          s.malformed.Load(),
	}
}

// Run serves on opts.Conn until ctx ends, then closes every connection
// (ending their sessions), waits for its goroutines and returns nil. It
// returns an error if it cannot listen or the socket fails. Run must be
// called at most once.
func (s *Server) Run(ctx context.Context) error {
	rk, err := resetKey(s.opts.PrivateKey)
	if err != nil {
		return err
	}
	tr := &quic.Transport{Conn: s.opts.Conn, StatelessResetKey: rk}
	defer tr.Close()
	ln, err := tr.Listen(s.tlsConf, quicConfig(false))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.log.Info("listening", "addr", s.opts.Conn.LocalAddr().String())
	var (
		wg     sync.WaitGroup
		runErr error
	)
	for {
		conn, err := ln.Accept(ctx)
		if err != nil {
			if ctx.Err() == nil {
				runErr = fmt.Errorf("accept: %w", err)
			}
			break
		}
		s.connections.Add(1)
		s.mu.Lock()
		s.conns[conn] = struct{}{}
		s.mu.Unlock()
		wg.Go(func() { s.handleConn(ctx, conn) })
	}
	ln.Close()
	s.mu.Lock()
	live := make([]*quic.Conn, 0, len(s.conns))
	for c := range s.conns {
		live = append(live, c)
	}
	s.mu.Unlock()
	for _, c := range live {
		c.CloseWithError(codeClose, "shutdown")
	}
	wg.Wait()
	s.log.Info("stopped")
	return runErr
}

// handleConn runs one connection: binding update, acknowledgement, then
// holding the session until the connection dies.
func (s *Server) handleConn(ctx context.Context, conn *quic.Conn) {
	defer func() {
		conn.CloseWithError(codeClose, "")
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
	}()
	peer, err := s.peerFor(conn.ConnectionState().TLS)
	if err != nil { // VerifyConnection let it through: cannot happen
		conn.CloseWithError(codeProtocol, "")
		return
	}
	log := s.log.With("peer", peer.Name, "remote", conn.RemoteAddr().String())

	setupCtx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	str, bu, err := s.readBindingUpdate(setupCtx, conn)
	if err != nil {
		if ctx.Err() == nil {
			s.malformed.Add(1)
			log.Debug("no valid binding update", "err", err)
		}
		conn.CloseWithError(codeProtocol, "")
		return
	}
	ba := check(peer, &bu)
	if !ba.Status.Accepted() {
		s.bindingsRejected.Add(1)
		log.Warn("binding rejected", "status", ba.Status.String())
		if err := msg.WriteMessage(str, ba); err == nil {
			str.Close()
			// Let the MR read the acknowledgement and close first.
			t := time.NewTimer(rejectLinger)
			select {
			case <-conn.Context().Done():
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		conn.CloseWithError(codeRejected, ba.Status.String())
		return
	}
	ss, old, err := s.establish(peer, conn, &bu)
	if err != nil {
		log.Error("session set-up failed", "err", err)
		conn.CloseWithError(codeInternal, "")
		return
	}
	if old != nil {
		log.Info("session replaced", "local_index", old.sess.LocalIndex)
		old.conn.CloseWithError(codeReplaced, "replaced by a newer session")
	}
	ba.Session = &msg.SessionOption{Index: ss.sess.LocalIndex, Generation: ss.sess.Generation, Suite: ss.sess.Suite}
	life := min(msg.LifetimeDuration(bu.Lifetime), s.maxLifetime)
	ba.Lifetime = msg.LifetimeUnits(life)
	sc := &serverConn{s: s, ss: ss, peer: peer, conn: conn, str: str, lastSeq: bu.Sequence,
		bindings: map[paths.BID]Binding{}, flows: map[uint16]msg.FlowIdentification{},
		reqs: make(chan policyCall), pending: map[uint32]policyCall{}}
	s.mu.Lock()
	ss.sc = sc
	s.mu.Unlock()
	now := time.Now()
	for _, o := range bu.BIDs {
		sc.bindings[o.BID] = Binding{BID: o.BID, CareOf: o.CareOf, Expires: now.Add(life)}
	}
	err = msg.WriteMessage(str, ba)
	if err == nil {
		log.Info("session up", "local_index", ss.sess.LocalIndex, "peer_index", ss.sess.PeerIndex, "bids", len(ss.sess.BIDs))
		str.SetDeadline(time.Time{})
		err = sc.run(ctx)
	}
	// A session a newer one replaced leaves the bindings alone: they are
	// the newer one's now.
	s.mu.Lock()
	if !ss.ended {
		s.endLocked(ss)
		if s.opts.OnBindings != nil {
			s.opts.OnBindings(peer.Name, nil)
		}
		if s.opts.OnFlows != nil && len(sc.flows) > 0 {
			s.opts.OnFlows(peer.Name, nil)
		}
	}
	s.mu.Unlock()
	log.Info("session down", "local_index", ss.sess.LocalIndex, "err", err)
}

// readBindingUpdate accepts the MR's stream and reads its binding update.
func (s *Server) readBindingUpdate(ctx context.Context, conn *quic.Conn) (*quic.Stream, msg.BindingUpdate, error) {
	str, err := conn.AcceptStream(ctx)
	if err != nil {
		return nil, msg.BindingUpdate{}, fmt.Errorf("accept stream: %w", err)
	}
	deadline, _ := ctx.Deadline()
	str.SetDeadline(deadline)
	typ, body, err := msg.ReadMessage(str, make([]byte, 1024))
	if err != nil {
		return nil, msg.BindingUpdate{}, fmt.Errorf("read binding update: %w", err)
	}
	if typ != msg.TypeBindingUpdate {
		return nil, msg.BindingUpdate{}, fmt.Errorf("got %s, want binding update", typ)
	}
	bu, err := msg.ParseBindingUpdate(body)
	if err != nil {
		return nil, msg.BindingUpdate{}, err
	}
	return str, bu, nil
}

// check validates a session set-up binding update against peer and returns
// the acknowledgement (without Session option). On failure, offending BIDs
// get status 164 (MCOA MALFORMED) and the others the overall status, or 128
// if the overall status is about the BIDs.
func check(peer *Peer, bu *msg.BindingUpdate) *msg.BindingAck {
	ba := &msg.BindingAck{
		Flags:    msg.BAMobileRouter,
		Sequence: bu.Sequence,
		Lifetime: bu.Lifetime,
		BIDs:     make([]msg.BIDOption, len(bu.BIDs)),
	}
	seen := make(map[paths.BID]bool, len(bu.BIDs))
	for i, o := range bu.BIDs {
		ba.BIDs[i].BID = o.BID
		if o.BID == 0 || seen[o.BID] {
			ba.BIDs[i].Status = msg.StatusMCoAMalformed
			ba.Status = msg.StatusMCoAMalformed
		}
		seen[o.BID] = true
	}
	switch {
	case len(bu.BIDs) == 0:
		ba.Status = msg.StatusMCoAMalformed
	case ba.Status != msg.StatusAccepted:
	case bu.Session == nil || bu.Session.Index == 0 || !supportedSuite(bu.Session.Suite) || bu.Lifetime == 0:
		ba.Status = msg.StatusReasonUnspecified
	default:
		for _, p := range bu.Prefixes {
			if !prefixAllowed(peer.Prefixes, p) {
				ba.Status = msg.StatusNotAuthorizedForPrefix
				break
			}
		}
	}
	if !ba.Status.Accepted() {
		per := ba.Status
		if per == msg.StatusMCoAMalformed {
			per = msg.StatusReasonUnspecified
		}
		for i := range ba.BIDs {
			if ba.BIDs[i].Status == msg.StatusAccepted {
				ba.BIDs[i].Status = per
			}
		}
	}
	return ba
}

// prefixAllowed reports whether p lies inside one of allowed, in the same
// address family.
func prefixAllowed(allowed []netip.Prefix, p netip.Prefix) bool {
	for _, a := range allowed {
		if a.Addr().Is4() == p.Addr().Is4() && a.Bits() <= p.Bits() && a.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// establish registers a new session of peer on conn, replacing (and
// returning) the peer's previous one, and calls the callbacks.
func (s *Server) establish(peer *Peer, conn *quic.Conn, bu *msg.BindingUpdate) (ss, old *serverSession, err error) {
	cs := conn.ConnectionState().TLS
	bids := make([]paths.BID, len(bu.BIDs))
	for i, o := range bu.BIDs {
		bids[i] = o.BID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := randomIndex()
	for s.byIndex[idx] != nil {
		idx = randomIndex()
	}
	up, down, err := deriveKeys(&cs, bu.Session.Generation, bu.Session.Index, idx)
	if err != nil {
		return nil, nil, err
	}
	ss = &serverSession{conn: conn, sess: Session{
		Peer:       peer.Name,
		Generation: bu.Session.Generation,
		LocalIndex: idx,
		PeerIndex:  bu.Session.Index,
		Suite:      bu.Session.Suite,
		SendKey:    down,
		RecvKey:    up,
		BIDs:       bids,
	}}
	if old = s.byPeer[peer.Name]; old != nil {
		s.endLocked(old)
	}
	ss.indexes, ss.gen = []uint32{idx}, ss.sess.Generation
	s.byIndex[idx] = ss
	s.byPeer[peer.Name] = ss
	s.sessions.Add(1)
	if s.opts.OnSession != nil {
		s.opts.OnSession(ss.sess)
	}
	return ss, old, nil
}

func (s *Server) endLocked(ss *serverSession) {
	ss.ended = true
	for _, idx := range ss.indexes {
		delete(s.byIndex, idx)
	}
	if s.byPeer[ss.sess.Peer] == ss {
		delete(s.byPeer, ss.sess.Peer)
	}
	s.sessionsEnded.Add(1)
	if s.opts.OnSessionEnd != nil {
		s.opts.OnSessionEnd(ss.sess.Peer, ss.sess.LocalIndex)
	}
}

// rekey sets up the next key generation of ss as the MR asked in ku and
// returns the HA's receiver index for it. Generations must follow each
// other; the receiver indexes of the last three stay reserved.
func (s *Server) rekey(ss *serverSession, ku msg.KeyUpdate) (uint32, error) {
	cs := ss.conn.ConnectionState().TLS
	s.mu.Lock()
	defer s.mu.Unlock()
	if ku.Generation != ss.gen+1 || ku.Index == 0 {
		return 0, fmt.Errorf("key update to generation %d from %d", ku.Generation, ss.gen)
	}
	idx := randomIndex()
	for s.byIndex[idx] != nil {
		idx = randomIndex()
	}
	up, down, err := deriveKeys(&cs, ku.Generation, ku.Index, idx)
	if err != nil {
		return 0, err
	}
	ss.gen = ku.Generation
	ss.indexes = append(ss.indexes, idx)
	s.byIndex[idx] = ss
	if len(ss.indexes) > 3 {
		delete(s.byIndex, ss.indexes[0])
		ss.indexes = ss.indexes[1:]
	}
	if s.opts.OnRekey != nil {
		next := ss.sess
		next.Generation, next.LocalIndex, next.PeerIndex = ku.Generation, idx, ku.Index
		next.SendKey, next.RecvKey = down, up
		next.BIDs = nil
		s.opts.OnRekey(next)
	}
	return idx, nil
}
