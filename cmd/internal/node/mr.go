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
	"monami/paths/probe"
	"monami/paths/usage"
	"monami/signaling"
	"monami/signaling/control"
	"monami/signaling/msg"
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
	pol    *policies
	ctl    *net.UnixListener // the control socket; nil if disabled

	umu     sync.Mutex
	uplinks []*uplink               // guarded by umu; replaced, never changed in place
	meters  map[string]*usage.Meter // by [[uplink]] name; immutable after New
	usage   *usage.Store
	anyOpen chan struct{} // closed when the first uplink opens
	once    sync.Once

	sessions  atomic.Uint64 // signaling sessions established
	connected atomic.Bool   // the signaling connection is up
	sigIface  atomic.Pointer[string]

	pmu      sync.Mutex                // guards the fields below
	dead     map[paths.BID]bool        // paths the liveness declared Down
	peerRate map[paths.BID]*rateFilter // capacity from the HA's path reports
	haErrors []string                  // the latest refusals from the HA, newest last
}

// maxHAErrors bounds MobileRouter.haErrors.
const maxHAErrors = 32

// NewMobileRouter opens the TUN and builds the router; uplinks are opened
// (and retried) by Run.
func NewMobileRouter(cfg *configs.MobileRouter, env Env) (*MobileRouter, error) {
	env.setDefaults()
	suite, err := session.ParseSuite(cfg.Data.Cipher)
	if err != nil {
		return nil, err
	}
	m := &MobileRouter{cfg: cfg, env: env, log: env.Logger, suite: suite, anyOpen: make(chan struct{}),
		dead: map[paths.BID]bool{}, peerRate: map[paths.BID]*rateFilter{}}
	m.openUsage()
	if m.pol, err = newPolicies(m); err != nil {
		return nil, err
	}
	if err := m.pol.loadFiles(); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	for _, u := range cfg.Uplinks {
		if !u.Selecting() {
			m.uplinks = append(m.uplinks, &uplink{cfg: u, tmpl: u.Name, retry: make(chan struct{}, 1), meter: m.meters[u.Name]})
		}
	}
	dev, err := env.OpenTUN(cfg.TUN, cfg.TUN.Routes)
	if err != nil {
		return nil, fmt.Errorf("open tun: %w", err)
	}
	m.engine, err = tunnel.NewRouter(tunnel.RouterOptions{Logger: env.Logger, TUN: dev,
		Probe:       probe.Config{IdleProbeInterval: cfg.Data.Keepalive.Duration},
		OnPathState: m.onPathState})
	if err != nil {
		dev.Close()
		return nil, err
	}
	var bids []paths.BID // registered at set-up if no path is open yet (selecting uplinks: their first BID)
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
		ListenAll:  m.listenAllSignaling,
		OnSession:  m.onSession,
		OnDown: func(err error) {
			m.connected.Store(false)
		},
		OnRekey:         m.onRekey,
		PathReport:      m.pathReport,
		OnPeerReport:    m.onPeerReport,
		OnError:         m.onHAError,
		OnPolicyRequest: m.answerPolicy,
		HeardFrom:       func() time.Time { return m.engine.LastHeard() },
	})
	if err != nil {
		dev.Close()
		return nil, err
	}
	if cfg.Router.ControlSocket != "" {
		if m.ctl, err = control.Listen(cfg.Router.ControlSocket); err != nil {
			dev.Close()
			return nil, fmt.Errorf("control socket: %w", err)
		}
	}
	return m, nil
}

// dataSession is the data plane's part of a signaling session.
func dataSession(s signaling.Session) tunnel.Session {
	return tunnel.Session{Generation: s.Generation, LocalIndex: s.LocalIndex, PeerIndex: s.PeerIndex,
		Suite: session.Suite(s.Suite), SendKey: s.SendKey, RecvKey: s.RecvKey}
}

func (m *MobileRouter) onSession(s signaling.Session) {
	err := m.engine.SetSession(dataSession(s))
	if err != nil {
		m.log.Error("install session", "err", err)
		return
	}
	if s.Uplink != "" {
		m.sigIface.Store(&s.Uplink)
	}
	m.connected.Store(true)
	m.sessions.Add(1)
}

func (m *MobileRouter) onRekey(s signaling.Session) {
	err := m.engine.Rekey(dataSession(s))
	if err != nil {
		m.log.Error("install rekeyed session", "err", err)
	}
}

// onPathState follows the path maintainer: a path that went Down is
// removed from the HA's bindings at once (and the signaling connection
// leaves it if it ran there); one that came Up is registered again.
func (m *MobileRouter) onPathState(bid paths.BID, up bool, _ probe.Stats) {
	m.pmu.Lock()
	if up {
		delete(m.dead, bid)
	} else {
		m.dead[bid] = true
	}
	m.pmu.Unlock()
	m.syncPaths()
	m.client.Poke()
	m.pathsChanged()
	kind := control.KindPathDown
	if up {
		kind = control.KindPathUp
	}
	for _, pi := range m.pathInfos() {
		if pi.BID == bid {
			v := m.pathView(pi)
			v.State = map[bool]string{true: "up", false: "down"}[up]
			m.pol.hub.Publish(control.Event{Kind: kind, Path: &v})
		}
	}
	if !up {
		if sig := m.sigIface.Load(); sig != nil {
			for _, u := range m.uplinkList() {
				if u.cfg.BID == bid && u.cfg.Name == *sig {
					m.log.Info("signaling uplink down; moving", "uplink", u.cfg.Name)
					m.client.Migrate()
				}
			}
		}
	}
}

// syncPaths tells signaling which paths to keep registered: the open
// uplinks whose path is not Down, each with its source address as its
// care-of address.
func (m *MobileRouter) syncPaths() {
	var want []msg.BIDOption
	m.pmu.Lock()
	for _, u := range m.uplinkList() {
		u.mu.Lock()
		if u.open && !m.dead[u.cfg.BID] {
			want = append(want, msg.BIDOption{BID: u.cfg.BID, CareOf: u.source})
		}
		u.mu.Unlock()
	}
	m.pmu.Unlock()
	m.client.SetPaths(want)
}

// pathsChanged is called after every change of the paths or their
// characteristics that policies may depend on.
func (m *MobileRouter) pathsChanged() { m.pol.poke() }

// Reload re-reads the policy files; on any error the running policies
// stay and every error is returned.
func (m *MobileRouter) Reload() error { return m.pol.loadFiles() }

// usable reports whether the path bid is not declared Down.
func (m *MobileRouter) usable(bid paths.BID) bool {
	m.pmu.Lock()
	defer m.pmu.Unlock()
	return !m.dead[bid]
}

// pathReport is the router's measurements of its paths, for the HA.
func (m *MobileRouter) pathReport() []msg.PathMetrics {
	st := m.engine.Stats()
	out := make([]msg.PathMetrics, 0, len(st.Paths))
	for _, p := range st.Paths {
		pm := msg.PathMetrics{BID: paths.BID(p.BID), RTT: clampU32(p.SRTTMicros), RTTVar: clampU32(p.RTTVarMicros),
			Loss: uint16(min(p.Loss, 1) * 65535), State: paths.StateDown}
		if p.Up {
			pm.State = paths.StateUp
		}
		out = append(out, pm)
	}
	return out
}

func clampU32(v int64) uint32 { return uint32(min(max(v, 0), 1<<32-1)) }

// onPeerReport takes the HA's view of the paths: the rate it receives on
// each is the capacity estimate of the path (a windowed maximum).
func (m *MobileRouter) onPeerReport(ps []msg.PathMetrics) {
	now := time.Now()
	m.pmu.Lock()
	defer m.pmu.Unlock()
	for _, p := range ps {
		f := m.peerRate[p.BID]
		if f == nil {
			f = &rateFilter{}
			m.peerRate[p.BID] = f
		}
		f.add(now, float64(p.DeliveryRate)*8)
	}
}

// capacity returns the capacity estimate of bid in bit/s; 0 if unknown.
func (m *MobileRouter) capacity(bid paths.BID) float64 {
	m.pmu.Lock()
	defer m.pmu.Unlock()
	if f := m.peerRate[bid]; f != nil {
		return f.max(time.Now())
	}
	return 0
}

func (m *MobileRouter) onHAError(e msg.ErrorReport) {
	s := fmt.Sprintf("%s %d: %s (%d) %s", e.Kind, e.Index, e.StatusString(), e.Status, e.Reason)
	m.pmu.Lock()
	m.haErrors = append(m.haErrors, s)
	if len(m.haErrors) > maxHAErrors {
		m.haErrors = m.haErrors[len(m.haErrors)-maxHAErrors:]
	}
	m.pmu.Unlock()
}

// rateFilter is a windowed maximum of rate samples: the capacity estimate
// of a path from what the peer saw arrive (like BBR's max filter).
type rateFilter struct {
	samples [16]struct {
		at   time.Time
		rate float64
	}
	n int
}

// rateWindow is how long a delivery-rate sample counts.
const rateWindow = 30 * time.Second

// minRateSample is the lowest delivery rate, in bit/s, that counts as a
// capacity sample. A path that carries only keepalives and probes (a few
// kbit/s) has an unknown capacity, not a tiny one: stripe weights then
// split evenly rather than starve it.
const minRateSample = 256e3

func (f *rateFilter) add(now time.Time, rate float64) {
	if rate < minRateSample {
		return
	}
	f.samples[f.n%len(f.samples)].at, f.samples[f.n%len(f.samples)].rate = now, rate
	f.n++
}

func (f *rateFilter) max(now time.Time) float64 {
	var m float64
	for _, s := range f.samples {
		if !s.at.IsZero() && now.Sub(s.at) < rateWindow && s.rate > m {
			m = s.rate
		}
	}
	return m
}

// listenSignaling opens the signaling socket on an open uplink, with an
// address of the signaling address's family (the uplink's own source, or
// another address of its interface), starting after the uplink used last,
// so that a migration moves across the uplinks. Uplinks whose path is Down
// come last: a path is also Down when the home agent lost the session's
// keys (it restarted), and then only a new session brings it back.
func (m *MobileRouter) listenSignaling() (net.PacketConn, error) {
	last := m.sigIface.Load()
	start := 0
	ups := m.uplinkList()
	for i, u := range ups {
		if last != nil && u.cfg.Name == *last {
			start = i + 1
		}
	}
	var errs []error
	for _, wantUsable := range []bool{true, false} {
		for k := range ups {
			u := ups[(start+k)%len(ups)]
			if m.usable(u.cfg.BID) != wantUsable {
				continue
			}
			pc, err := m.openSignaling(u)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if pc == nil {
				continue
			}
			name := u.cfg.Name
			m.sigIface.Store(&name)
			return pc, nil
		}
	}
	if len(errs) == 0 {
		return nil, errors.New("no open uplink with an address of the signaling address's family")
	}
	return nil, errors.Join(errs...)
}

// listenAllSignaling opens a signaling socket on every open uplink with an
// address of the signaling address's family, for the client to race its
// handshakes over: the uplink used last first, then those whose path is
// not Down, then the rest, each group in configuration order.
func (m *MobileRouter) listenAllSignaling() ([]signaling.Socket, error) {
	last := m.sigIface.Load()
	ups := slices.Clone(m.uplinkList())
	rank := func(u *uplink) int {
		switch {
		case last != nil && u.cfg.Name == *last:
			return 0
		case m.usable(u.cfg.BID):
			return 1
		}
		return 2
	}
	slices.SortStableFunc(ups, func(a, b *uplink) int { return rank(a) - rank(b) })
	var socks []signaling.Socket
	var errs []error
	for _, u := range ups {
		pc, err := m.openSignaling(u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if pc != nil {
			socks = append(socks, signaling.Socket{Name: u.cfg.Name, Conn: pc})
		}
	}
	if len(socks) == 0 {
		if len(errs) == 0 {
			return nil, errors.New("no open uplink with an address of the signaling address's family")
		}
		return nil, errors.Join(errs...)
	}
	return socks, nil
}

// openSignaling opens a signaling socket on uplink u with an address of
// the signaling address's family; nil, nil if u is not open or has none.
func (m *MobileRouter) openSignaling(u *uplink) (net.PacketConn, error) {
	want4 := m.cfg.HomeAgent.Signaling.Addr().Is4()
	u.mu.Lock()
	src, open := u.source, u.open
	u.mu.Unlock()
	if !open {
		return nil, nil
	}
	if src.Is4() != want4 {
		src = netip.Addr{}
		as, _ := m.env.InterfaceAddrs(u.cfg.Interface)
		for _, a := range as {
			if a.Is4() == want4 {
				src = a
				break
			}
		}
		if !src.IsValid() {
			return nil, nil
		}
	}
	pc, err := m.env.ListenPacket(u.cfg.Interface, netip.AddrPortFrom(src, 0))
	if err != nil {
		return nil, fmt.Errorf("uplink %s: %w", u.cfg.Name, err)
	}
	return pc, nil
}

// Run runs the router until ctx is done.
func (m *MobileRouter) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, u := range m.uplinkList() {
		wg.Go(func() { m.uplinkLoop(ctx, u) })
	}
	wg.Go(func() { m.usageLoop(ctx) })
	wg.Go(func() { m.pol.run(ctx) })
	if m.ctl != nil {
		wg.Go(func() {
			err := control.Serve(ctx, m.ctl, control.ServerOptions{Logger: m.log, Backend: backend{m.pol}, Hub: m.pol.hub})
			if err != nil {
				m.log.Error("control socket", "err", err)
			}
		})
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
		wg.Go(func() { m.watchLinks(ctx, &wg) })
	}
	err := m.engine.Run(ctx)
	cancel()
	wg.Wait()
	return err
}

// MobileRouterStatus is what /status shows.
type MobileRouterStatus struct {
	Signaling struct {
		Connected bool   `json:"connected"`
		Sessions  uint64 `json:"sessions"`
		Attempts  uint64 `json:"attempts"`
		Failures  uint64 `json:"failures"` // attempts that got no session (unreachable, refused, rejected)
		Uplink    string `json:"uplink,omitempty"`
		Updates   uint64 `json:"binding_updates"`
		Rekeys    uint64 `json:"rekeys"`
		Moves     uint64 `json:"migrations"`
		// Refusals are the latest errors the HA reported (bindings, flow
		// bindings), newest last.
		Refusals []string `json:"refusals,omitempty"`
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
	// Configured characteristics and data usage (of the whole [[uplink]]).
	CostPerGB  float64  `json:"cost_per_gb,omitempty"`
	Metered    bool     `json:"metered,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	BytesToday uint64   `json:"bytes_today"`
	BytesMonth uint64   `json:"bytes_month"`
	CapReached bool     `json:"cap_reached,omitempty"`
}

// Status returns a snapshot of the router's state.
func (m *MobileRouter) Status() MobileRouterStatus {
	var st MobileRouterStatus
	st.Signaling.Connected = m.connected.Load()
	st.Signaling.Sessions = m.sessions.Load()
	cs := m.client.Stats()
	st.Signaling.Attempts, st.Signaling.Failures = cs.ConnectsTotal, cs.FailuresTotal
	st.Signaling.Updates, st.Signaling.Rekeys, st.Signaling.Moves = cs.UpdatesTotal, cs.RekeysTotal, cs.MigrationsTotal
	m.pmu.Lock()
	st.Signaling.Refusals = slices.Clone(m.haErrors)
	m.pmu.Unlock()
	if s := m.sigIface.Load(); s != nil {
		st.Signaling.Uplink = *s
	}
	for _, u := range m.uplinkList() {
		u.mu.Lock()
		us := UplinkStatus{Name: u.cfg.Name, Interface: u.cfg.Interface, BID: uint16(u.cfg.BID), Open: u.open,
			CostPerGB: u.cfg.Cost, Metered: u.cfg.Metered, Tags: u.cfg.Tags}
		us.BytesToday, us.BytesMonth = u.meter.Usage()
		us.CapReached = u.meter.Exceeded()
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
