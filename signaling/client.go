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
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"monami/paths"
	"monami/signaling/msg"
)

// Reconnect backoff of the client: doubling from minBackoff to maxBackoff,
// back to minBackoff after a session was established.
//
// For recentWindow after a session was lost, attempts are at most
// recentBackoff apart instead: the HA is probably restarting, and traffic
// should resume within a few seconds of it listening again. That costs one
// QUIC Initial (~1.2 kB) per attempt while the HA is away.
const (
	minBackoff    = time.Second
	maxBackoff    = 32 * time.Second
	recentBackoff = 2 * time.Second
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
	// OnSession is called each time a session is established. It must not
	// block.
	OnSession func(Session)
	// OnDown is called when an established session's connection is lost,
	// also when Run is stopping, with the cause. It must not block.
	OnDown func(error)
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

	connects, sessions, failures atomic.Uint64
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
	c := &Client{opts: opts, server: net.UDPAddrFromAddrPort(opts.Server)}
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
	}
}

// Run keeps a session with the HA until ctx ends. A lost session is retried
// at once, then every 2 s for ten minutes, then with backoff (1 s doubling
// to 32 s); a session resets the schedule. It returns nil when ctx
// ends, after every goroutine and socket it started is gone. Run must not
// be called more than once at a time.
func (c *Client) Run(ctx context.Context) error {
	delay := minBackoff
	var lost time.Time // when the last session was lost
	for {
		established, err := c.attempt(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if established {
			// Retry at once: the HA may just have restarted (a stateless
			// reset ended the session), and traffic waits for us.
			delay = minBackoff
			lost = time.Now()
			c.log.Warn("session down", "err", err)
			continue
		}
		c.failures.Add(1)
		if !lost.IsZero() && time.Since(lost) < recentWindow {
			delay = min(delay, recentBackoff)
		}
		c.log.Warn("connect failed", "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = nextBackoff(delay)
	}
}

// nextBackoff doubles d up to maxBackoff.
func nextBackoff(d time.Duration) time.Duration { return min(2*d, maxBackoff) }

// bindingUpdate builds the session set-up update for receiver index idx.
func (c *Client) bindingUpdate(idx uint32) *msg.BindingUpdate {
	bu := &msg.BindingUpdate{
		Sequence: c.seq,
		Flags:    msg.BUAck | msg.BUHome | msg.BUMobileRouter,
		Lifetime: msg.LifetimeUnits(requestedLifetime),
		BIDs:     make([]msg.BIDOption, len(c.opts.BIDs)),
		Session:  &msg.SessionOption{Index: idx, Generation: 1, Suite: c.opts.Suite},
		Prefixes: c.opts.Prefixes,
	}
	for i, b := range c.opts.BIDs {
		bu.BIDs[i] = msg.BIDOption{BID: b}
	}
	return bu
}

// attempt makes one connection: dial, register, and, once the session is
// up, hold it until the connection dies or ctx ends. established reports
// whether a session was set up; err is why the attempt ended.
func (c *Client) attempt(ctx context.Context) (established bool, err error) {
	c.connects.Add(1)
	listen := c.opts.Listen
	if listen == nil {
		listen = func() (net.PacketConn, error) { return net.ListenUDP("udp", nil) }
	}
	pc, err := listen()
	if err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	defer pc.Close()
	tr := &quic.Transport{Conn: pc}
	defer tr.Close()

	setupCtx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	conn, err := tr.Dial(setupCtx, c.server, c.tlsConf, quicConfig(true))
	if err != nil {
		return false, fmt.Errorf("dial: %w", err)
	}
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

	sess, str, err := c.register(setupCtx, conn)
	if err != nil {
		return false, err
	}
	c.sessions.Add(1)
	c.log.Info("session up", "local_index", sess.LocalIndex, "peer_index", sess.PeerIndex, "bids", len(sess.BIDs))
	if c.opts.OnSession != nil {
		c.opts.OnSession(sess)
	}
	hbDone := make(chan struct{})
	go func() { // owned: waited for below
		defer close(hbDone)
		t := time.NewTicker(heartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-conn.Context().Done():
				return
			case <-t.C:
				if msg.WriteMessage(str, heartbeat) != nil {
					return
				}
			}
		}
	}()
	err = holdLoop(str)
	conn.CloseWithError(codeClose, "")
	<-hbDone
	if ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if c.opts.OnDown != nil {
		c.opts.OnDown(err)
	}
	return true, err
}

// register sends the binding update on a new stream and checks the
// acknowledgement.
func (c *Client) register(ctx context.Context, conn *quic.Conn) (Session, *quic.Stream, error) {
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return Session{}, nil, fmt.Errorf("open stream: %w", err)
	}
	deadline, _ := ctx.Deadline()
	str.SetDeadline(deadline)
	c.seq++
	idx := randomIndex()
	bu := c.bindingUpdate(idx)
	if err := msg.WriteMessage(str, bu); err != nil {
		return Session{}, nil, err
	}
	typ, body, err := msg.ReadMessage(str, make([]byte, 1024))
	if err != nil {
		return Session{}, nil, fmt.Errorf("read binding ack: %w", err)
	}
	if typ != msg.TypeBindingAck {
		conn.CloseWithError(codeProtocol, "expected binding ack")
		return Session{}, nil, fmt.Errorf("got %s, want binding ack", typ)
	}
	ba, err := msg.ParseBindingAck(body)
	if err != nil {
		conn.CloseWithError(codeProtocol, "malformed binding ack")
		return Session{}, nil, err
	}
	if ba.Sequence != bu.Sequence {
		conn.CloseWithError(codeProtocol, "sequence mismatch")
		return Session{}, nil, fmt.Errorf("binding ack for sequence %d, want %d", ba.Sequence, bu.Sequence)
	}
	if !ba.Status.Accepted() {
		conn.CloseWithError(codeRejected, "")
		return Session{}, nil, &StatusError{Status: ba.Status, BIDs: ba.BIDs}
	}
	s := ba.Session
	if s == nil || s.Index == 0 || s.Generation != bu.Session.Generation || s.Suite != bu.Session.Suite {
		conn.CloseWithError(codeProtocol, "bad session option")
		return Session{}, nil, fmt.Errorf("binding ack session option %+v does not match %+v", s, *bu.Session)
	}
	cs := conn.ConnectionState().TLS
	up, down, err := deriveKeys(&cs, s.Generation, idx, s.Index)
	if err != nil {
		conn.CloseWithError(codeInternal, "")
		return Session{}, nil, err
	}
	str.SetDeadline(time.Time{})
	return Session{
		Peer:       c.opts.Server.String(),
		Generation: s.Generation,
		LocalIndex: idx,
		PeerIndex:  s.Index,
		Suite:      s.Suite,
		SendKey:    up,
		RecvKey:    down,
		BIDs:       acceptedBIDs(c.opts.BIDs, ba.BIDs),
	}, str, nil
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
