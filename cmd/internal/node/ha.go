// SPDX-License-Identifier: MIT

package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"monami/classifier"
	"monami/configs"
	"monami/paths"
	"monami/signaling"
	"monami/signaling/control"
	"monami/signaling/msg"
	"monami/tunnel"
)

// HomeAgent is a composed home agent daemon.
type HomeAgent struct {
	cfg    *configs.HomeAgent
	log    *slog.Logger
	engine *tunnel.Agent
	server *signaling.Server
	sigPC  net.PacketConn
	data   []netip.AddrPort // bound data addresses

	ctls map[string]*net.UnixListener // per-router control sockets

	mu       sync.Mutex // guards the maps below
	bindings map[string][]signaling.Binding
	reports  map[string][]msg.PathMetrics      // each MR's latest path report
	rx       map[string]map[paths.BID]rxSample // for the delivery rates the HA reports
}

// rxSample is a path's received bytes at one moment.
type rxSample struct {
	bytes uint64
	at    time.Time
}

// pathReport is the HA's view of one MR's paths: the rate it received on
// each since the last report, which the MR takes as its capacity feedback.
func (h *HomeAgent) pathReport(peer string) []msg.PathMetrics {
	ps := h.engine.PeerPaths(peer)
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	last := h.rx[peer]
	if last == nil {
		last = map[paths.BID]rxSample{}
		h.rx[peer] = last
	}
	out := make([]msg.PathMetrics, 0, len(ps))
	for _, p := range ps {
		bid := paths.BID(p.BID)
		pm := msg.PathMetrics{BID: bid, State: paths.StateDown}
		if p.Up {
			pm.State = paths.StateUp
		}
		if l, ok := last[bid]; ok && p.RxBytes >= l.bytes {
			if dt := now.Sub(l.at).Seconds(); dt > 0 {
				pm.DeliveryRate = uint64(float64(p.RxBytes-l.bytes) / dt)
			}
		}
		last[bid] = rxSample{p.RxBytes, now}
		out = append(out, pm)
	}
	return out
}

// localAddrer is implemented by sockets that know their bound address.
type localAddrer interface{ LocalAddr() netip.AddrPort }

// NewHomeAgent opens the TUN (with a route for every mobile router's
// prefixes), the data sockets and the signaling socket.
func NewHomeAgent(cfg *configs.HomeAgent, env Env) (h *HomeAgent, err error) {
	env.setDefaults()
	h = &HomeAgent{cfg: cfg, log: env.Logger, bindings: map[string][]signaling.Binding{},
		reports: map[string][]msg.PathMetrics{}, rx: map[string]map[paths.BID]rxSample{}}
	var closers []func() error
	defer func() {
		if err != nil {
			for _, c := range closers {
				c()
			}
		}
	}()
	var routes []netip.Prefix
	var peers []signaling.Peer
	for _, mr := range cfg.MobileRouters {
		routes = append(routes, mr.Prefixes...)
		peers = append(peers, signaling.Peer{Name: mr.Name, PublicKey: mr.PublicKey, Prefixes: mr.Prefixes})
	}
	dev, err := env.OpenTUN(cfg.TUN, routes)
	if err != nil {
		return nil, fmt.Errorf("open tun: %w", err)
	}
	closers = append(closers, dev.Close)
	var conns []paths.Conn
	for _, addr := range cfg.HomeAgent.Data {
		c, err := env.OpenPath("", addr)
		if err != nil {
			return nil, fmt.Errorf("data socket %s: %w", addr, err)
		}
		closers = append(closers, c.Close)
		conns = append(conns, c)
		if la, ok := c.(localAddrer); ok {
			h.data = append(h.data, la.LocalAddr())
		} else {
			h.data = append(h.data, addr)
		}
	}
	h.engine, err = tunnel.NewAgent(tunnel.AgentOptions{Logger: env.Logger, TUN: dev, Conns: conns})
	if err != nil {
		return nil, err
	}
	for _, mr := range cfg.MobileRouters {
		h.engine.SetPeer(mr.Name, mr.Prefixes)
	}
	h.sigPC, err = env.ListenPacket("", cfg.HomeAgent.Signaling)
	if err != nil {
		return nil, fmt.Errorf("signaling socket %s: %w", cfg.HomeAgent.Signaling, err)
	}
	closers = append(closers, h.sigPC.Close)
	h.server, err = signaling.NewServer(signaling.ServerOptions{
		Logger:     env.Logger,
		PrivateKey: cfg.HomeAgent.PrivateKey,
		Peers:      peers,
		Conn:       h.sigPC,
		OnSession: func(s signaling.Session) {
			err := h.engine.SetSession(s.Peer, dataSession(s))
			if err != nil {
				h.log.Error("install session", "mr", s.Peer, "err", err)
			}
		},
		OnSessionEnd: h.engine.EndSession,
		OnRekey: func(s signaling.Session) {
			err := h.engine.Rekey(s.Peer, dataSession(s))
			if err != nil {
				h.log.Error("install rekeyed session", "mr", s.Peer, "err", err)
			}
		},
		OnBindings: func(peer string, bs []signaling.Binding) {
			bids := make([]paths.BID, len(bs))
			for i, b := range bs {
				bids[i] = b.BID
			}
			h.engine.SetBindings(peer, bids)
			h.mu.Lock()
			h.bindings[peer] = bs
			h.mu.Unlock()
		},
		OnPathReport: func(peer string, ps []msg.PathMetrics) {
			h.mu.Lock()
			h.reports[peer] = ps
			h.mu.Unlock()
		},
		PathReport: h.pathReport,
		OnFlows: func(peer string, flows []msg.FlowIdentification) {
			if len(flows) == 0 {
				h.engine.SetPeerTable(peer, nil)
				return
			}
			tbl, err := classifier.Compile(filterRules(flows))
			if err != nil {
				h.log.Error("compile flow bindings", "mr", peer, "err", err)
				return
			}
			h.engine.SetPeerTable(peer, tbl)
			h.log.Debug("flow bindings", "mr", peer, "flows", len(flows), "rules", tbl.Len())
		},
	})
	if err != nil {
		return nil, err
	}
	h.ctls = map[string]*net.UnixListener{}
	for _, mr := range cfg.MobileRouters {
		if mr.ControlSocket == "" {
			continue
		}
		ln, err := control.Listen(mr.ControlSocket)
		if err != nil {
			return nil, fmt.Errorf("control socket of %s: %w", mr.Name, err)
		}
		closers = append(closers, ln.Close)
		h.ctls[mr.Name] = ln
	}
	return h, nil
}

// Run runs the home agent until ctx is done.
func (h *HomeAgent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { h.serveControls(ctx) })
	wg.Go(func() {
		if err := h.server.Run(ctx); err != nil {
			h.log.Error("signaling stopped", "err", err)
		}
		h.sigPC.Close()
	})
	err := h.engine.Run(ctx)
	cancel()
	wg.Wait()
	return err
}

// SignalingAddr is the bound signaling address (useful with port 0).
func (h *HomeAgent) SignalingAddr() netip.AddrPort {
	if a, ok := h.sigPC.LocalAddr().(*net.UDPAddr); ok {
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return h.cfg.HomeAgent.Signaling
}

// DataAddrs are the bound data-plane addresses (useful with port 0).
func (h *HomeAgent) DataAddrs() []netip.AddrPort { return h.data }

// Status returns a snapshot of the home agent's state.
func (h *HomeAgent) Status() tunnel.AgentStats { return h.engine.Stats() }

// Engine returns the data plane, for tests and metrics.
func (h *HomeAgent) Engine() *tunnel.Agent { return h.engine }
