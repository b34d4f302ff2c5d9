// SPDX-License-Identifier: MIT

package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"monami/configs"
	"monami/paths"
	"monami/signaling"
	"monami/tunnel"
	"monami/tunnel/session"
)

// HomeAgent is a composed home agent daemon.
type HomeAgent struct {
	cfg    *configs.HomeAgent
	log    *slog.Logger
	engine *tunnel.Agent
	server *signaling.Server
	sigPC  net.PacketConn
	data   []netip.AddrPort // bound data addresses
}

// localAddrer is implemented by sockets that know their bound address.
type localAddrer interface{ LocalAddr() netip.AddrPort }

// NewHomeAgent opens the TUN (with a route for every mobile router's
// prefixes), the data sockets and the signaling socket.
func NewHomeAgent(cfg *configs.HomeAgent, env Env) (h *HomeAgent, err error) {
	env.setDefaults()
	h = &HomeAgent{cfg: cfg, log: env.Logger}
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
			err := h.engine.SetSession(s.Peer, tunnel.Session{
				Generation: s.Generation,
				LocalIndex: s.LocalIndex,
				PeerIndex:  s.PeerIndex,
				Suite:      session.Suite(s.Suite),
				SendKey:    s.SendKey,
				RecvKey:    s.RecvKey,
			})
			if err != nil {
				h.log.Error("install session", "mr", s.Peer, "err", err)
			}
		},
		OnSessionEnd: h.engine.EndSession,
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Run runs the home agent until ctx is done.
func (h *HomeAgent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
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
