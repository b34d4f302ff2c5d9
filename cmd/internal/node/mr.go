// SPDX-License-Identifier: MIT

package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"monami/configs"
	"monami/paths"
	"monami/paths/linkmon"
	"monami/paths/probe"
	"monami/signaling"
	"monami/tunnel"
	"monami/tunnel/session"
)

// uplinkRetry is how often an uplink that could not be opened is retried.
const uplinkRetry = 2 * time.Second

// MobileRouter is a composed mobile router daemon.
type MobileRouter struct {
	cfg    *configs.MobileRouter
	env    Env
	log    *slog.Logger
	suite  session.Suite
	engine *tunnel.Router
	client *signaling.Client

	uplinks []*uplink
	anyOpen chan struct{} // closed when the first uplink opens
	once    sync.Once

	sessions  atomic.Uint64 // signaling sessions established
	connected atomic.Bool   // the signaling connection is up
	sigIface  atomic.Pointer[string]
}

// uplink is one configured uplink and what became of it.
type uplink struct {
	cfg   configs.Uplink
	retry chan struct{} // pokes uplinkLoop to retry at once (link events)

	mu     sync.Mutex // guards the fields below
	source netip.Addr // chosen local address, once opened
	err    error      // last error opening it
	open   bool
}

// NewMobileRouter opens the TUN and builds the router; uplinks are opened
// (and retried) by Run.
func NewMobileRouter(cfg *configs.MobileRouter, env Env) (*MobileRouter, error) {
	env.setDefaults()
	suite, err := session.ParseSuite(cfg.Data.Cipher)
	if err != nil {
		return nil, err
	}
	m := &MobileRouter{cfg: cfg, env: env, log: env.Logger, suite: suite, anyOpen: make(chan struct{})}
	for _, u := range cfg.Uplinks {
		m.uplinks = append(m.uplinks, &uplink{cfg: u, retry: make(chan struct{}, 1)})
	}
	dev, err := env.OpenTUN(cfg.TUN, cfg.TUN.Routes)
	if err != nil {
		return nil, fmt.Errorf("open tun: %w", err)
	}
	m.engine, err = tunnel.NewRouter(tunnel.RouterOptions{Logger: env.Logger, TUN: dev,
		Probe: probe.Config{IdleProbeInterval: cfg.Data.Keepalive.Duration}})
	if err != nil {
		dev.Close()
		return nil, err
	}
	var bids []paths.BID
	for _, u := range cfg.Uplinks {
		bids = append(bids, u.BID)
	}
	m.client, err = signaling.NewClient(signaling.ClientOptions{
		Logger:     env.Logger,
		PrivateKey: cfg.Router.PrivateKey,
		ServerKey:  cfg.HomeAgent.PublicKey,
		Server:     cfg.HomeAgent.Signaling,
		Suite:      uint8(suite),
		BIDs:       bids,
		Prefixes:   cfg.Router.Prefixes,
		Listen:     m.listenSignaling,
		OnSession:  m.onSession,
		OnDown: func(err error) {
			m.connected.Store(false)
		},
	})
	if err != nil {
		dev.Close()
		return nil, err
	}
	return m, nil
}

func (m *MobileRouter) onSession(s signaling.Session) {
	err := m.engine.SetSession(tunnel.Session{
		Generation: s.Generation,
		LocalIndex: s.LocalIndex,
		PeerIndex:  s.PeerIndex,
		Suite:      session.Suite(s.Suite),
		SendKey:    s.SendKey,
		RecvKey:    s.RecvKey,
	})
	if err != nil {
		m.log.Error("install session", "err", err)
		return
	}
	m.connected.Store(true)
	m.sessions.Add(1)
}

// listenSignaling opens the signaling socket on an open uplink of the
// signaling address's family, starting after the one used last, so a
// connection that keeps failing moves across the uplinks.
func (m *MobileRouter) listenSignaling() (net.PacketConn, error) {
	want4 := m.cfg.HomeAgent.Signaling.Addr().Is4()
	last := m.sigIface.Load()
	start := 0
	for i, u := range m.uplinks {
		if last != nil && u.cfg.Name == *last {
			start = i + 1
		}
	}
	var errs []error
	for k := range m.uplinks {
		u := m.uplinks[(start+k)%len(m.uplinks)]
		u.mu.Lock()
		src, open := u.source, u.open
		u.mu.Unlock()
		if !open || src.Is4() != want4 {
			continue
		}
		pc, err := m.env.ListenPacket(u.cfg.Interface, netip.AddrPortFrom(src, 0))
		if err != nil {
			errs = append(errs, fmt.Errorf("uplink %s: %w", u.cfg.Name, err))
			continue
		}
		name := u.cfg.Name
		m.sigIface.Store(&name)
		return pc, nil
	}
	if len(errs) == 0 {
		return nil, errors.New("no open uplink of the signaling address's family")
	}
	return nil, errors.Join(errs...)
}

// Run runs the router until ctx is done.
func (m *MobileRouter) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, u := range m.uplinks {
		wg.Go(func() { m.uplinkLoop(ctx, u) })
	}
	wg.Go(func() {
		// Signaling needs an uplink to run on.
		select {
		case <-m.anyOpen:
		case <-ctx.Done():
			return
		}
		if err := m.client.Run(ctx); err != nil {
			m.log.Error("signaling stopped", "err", err)
		}
	})
	if m.env.WatchLinks {
		wg.Go(func() { m.watchLinks(ctx) })
	}
	err := m.engine.Run(ctx)
	cancel()
	wg.Wait()
	return err
}

// watchLinks follows the uplinks' interfaces through netlink: a link that
// goes down, or loses the uplink's source address, takes its path out at
// once; coming back lets the path's probes bring it up again.
func (m *MobileRouter) watchLinks(ctx context.Context) {
	var sel []linkmon.Selector
	byIface := map[string][]*uplink{}
	for _, u := range m.uplinks {
		if byIface[u.cfg.Interface] == nil {
			sel = append(sel, linkmon.Selector{Name: u.cfg.Interface})
		}
		byIface[u.cfg.Interface] = append(byIface[u.cfg.Interface], u)
	}
	mon, err := linkmon.New(linkmon.Options{Logger: m.log, Selectors: sel})
	if err != nil {
		m.log.Error("link monitor", "err", err)
		return
	}
	events := make(chan linkmon.Event, 64)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := mon.Run(ctx, events); err != nil {
			m.log.Error("link monitor stopped", "err", err)
		}
		close(events)
	})
	for ev := range events {
		for _, u := range byIface[ev.Link.Name] {
			u.mu.Lock()
			src, open := u.source, u.open
			u.mu.Unlock()
			if !open {
				// Hot-plug: an uplink that could not be opened may work now.
				if ev.Kind == linkmon.AddrAdded || ev.Kind == linkmon.LinkUp {
					select {
					case u.retry <- struct{}{}:
					default:
					}
				}
				continue
			}
			usable := ev.Link.Up && slices.ContainsFunc(ev.Link.Addrs, func(p netip.Prefix) bool { return p.Addr() == src })
			m.engine.SetLinkState(u.cfg.BID, usable)
		}
	}
	wg.Wait()
}

// uplinkLoop opens one uplink, retrying until it works or ctx ends.
func (m *MobileRouter) uplinkLoop(ctx context.Context, u *uplink) {
	t := time.NewTimer(0)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-u.retry:
		}
		err := m.openUplink(u)
		if err == nil {
			return
		}
		u.mu.Lock()
		u.err = err
		u.mu.Unlock()
		if err.Error() != lastErr {
			m.log.Warn("uplink unavailable, retrying", "iface", u.cfg.Interface, "bid", u.cfg.BID, "err", err)
			lastErr = err.Error()
		}
		t.Reset(uplinkRetry)
	}
}

func (m *MobileRouter) openUplink(u *uplink) error {
	src, remote, err := pickSource(u.cfg.Source, u.cfg.Interface, m.cfg.HomeAgent.Data, m.env.InterfaceAddrs)
	if err != nil {
		return err
	}
	conn, err := m.env.OpenPath(u.cfg.Interface, netip.AddrPortFrom(src, uint16(u.cfg.Port)))
	if err != nil {
		return err
	}
	if err := m.engine.AddPath(u.cfg.BID, u.cfg.Name, conn, remote); err != nil {
		conn.Close()
		return err
	}
	u.mu.Lock()
	u.source, u.open, u.err = src, true, nil
	u.mu.Unlock()
	m.once.Do(func() { close(m.anyOpen) })
	return nil
}

// MobileRouterStatus is what /status shows.
type MobileRouterStatus struct {
	Signaling struct {
		Connected bool   `json:"connected"`
		Sessions  uint64 `json:"sessions"`
		Attempts  uint64 `json:"attempts"`
		Failures  uint64 `json:"failures"` // attempts that got no session (unreachable, refused, rejected)
		Uplink    string `json:"uplink,omitempty"`
	} `json:"signaling"`
	Uplinks []UplinkStatus     `json:"uplinks"`
	Tunnel  tunnel.RouterStats `json:"tunnel"`
}

// UplinkStatus is one configured uplink's state.
type UplinkStatus struct {
	Name      string `json:"name"`
	Interface string `json:"interface"`
	BID       uint16 `json:"bid"`
	Source    string `json:"source,omitempty"`
	Open      bool   `json:"open"`
	Error     string `json:"error,omitempty"`
}

// Status returns a snapshot of the router's state.
func (m *MobileRouter) Status() MobileRouterStatus {
	var st MobileRouterStatus
	st.Signaling.Connected = m.connected.Load()
	st.Signaling.Sessions = m.sessions.Load()
	cs := m.client.Stats()
	st.Signaling.Attempts, st.Signaling.Failures = cs.ConnectsTotal, cs.FailuresTotal
	if s := m.sigIface.Load(); s != nil {
		st.Signaling.Uplink = *s
	}
	for _, u := range m.uplinks {
		u.mu.Lock()
		us := UplinkStatus{Name: u.cfg.Name, Interface: u.cfg.Interface, BID: uint16(u.cfg.BID), Open: u.open}
		if u.source.IsValid() {
			us.Source = u.source.String()
		}
		if u.err != nil && !u.open {
			us.Error = u.err.Error()
		}
		u.mu.Unlock()
		st.Uplinks = append(st.Uplinks, us)
	}
	st.Tunnel = m.engine.Stats()
	return st
}

// Engine returns the data plane, for tests and metrics.
func (m *MobileRouter) Engine() *tunnel.Router { return m.engine }
