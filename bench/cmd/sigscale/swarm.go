// SPDX-License-Identifier: MIT

package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"monami/paths"
	"monami/signaling"
	"monami/signaling/msg"
)

// dialWait is how long one dialing slot waits for its MR's session before
// it goes to the next MR (the MR keeps trying on its own).
const dialWait = 30 * time.Second

// swarmReport is the swarm's "ready" event and its answer to "stats".
type swarmReport struct {
	Type string `json:"type"` // "ready" or "stats"
	procStats
	// RegisterNs (ready only) is the time from the first dial to the last
	// MR's first session; NotUp the MRs that had none by then.
	RegisterNs int64 `json:"register_ns,omitempty"`
	NotUp      int   `json:"not_up"`
	// Up counts the MRs with a session now; Sessions and Downs are the
	// OnSession and OnDown calls, Errors the OnError ones, Rekeys the
	// OnRekey ones.
	Up       int64                 `json:"up"`
	Sessions uint64                `json:"sessions"`
	Downs    uint64                `json:"downs"`
	Errors   uint64                `json:"errors"`
	Rekeys   uint64                `json:"rekeys"`
	Client   signaling.ClientStats `json:"client"` // summed over all MRs
}

// swarmCounters are what the clients' callbacks count.
type swarmCounters struct {
	sessions, downs, errors, rekeys atomic.Uint64
}

// runSwarm is the MR swarm role: cfg.MRs clients, each on its own
// 127.0.0.1 socket, started cfg.Concurrency at a time. It prints a "ready"
// line once every MR has had a session (or has been waited for in vain),
// then answers "stats" lines, and stops when stdin ends or ctx does.
func runSwarm(ctx context.Context, cfg config, stdin io.Reader, stdout, stderr io.Writer) error {
	out := newLineWriter(stdout)
	server, err := netip.ParseAddrPort(cfg.server)
	if err != nil {
		return fmt.Errorf("-server: %w", err)
	}
	if !server.Addr().IsLoopback() {
		return fmt.Errorf("-server %s: not a loopback address", server)
	}
	// One socket per MR, plus the connection a migration would add, plus
	// slack.
	if err := raiseNoFile(uint64(2*cfg.MRs + 256)); err != nil {
		return err
	}
	var sc swarmCounters
	log := childLogger(cfg, stderr, "mrs")
	serverKey := haKey(cfg.Seed).Public().(ed25519.PublicKey)
	clients := make([]*signaling.Client, cfg.MRs)
	up := make([]chan struct{}, cfg.MRs)
	for i := range cfg.MRs {
		up[i] = make(chan struct{}, 1)
		bids := make([]paths.BID, cfg.BIDs)
		opts := make([]msg.BIDOption, cfg.BIDs)
		for b := range cfg.BIDs {
			bids[b] = paths.BID(b + 1)
			opts[b] = msg.BIDOption{BID: bids[b], CareOf: careOf(i, bids[b])}
		}
		c, err := signaling.NewClient(signaling.ClientOptions{
			Logger:     log,
			PrivateKey: mrKey(cfg.Seed, i),
			ServerKey:  serverKey,
			Server:     server,
			BIDs:       bids,
			Prefixes:   []netip.Prefix{mrPrefix(i)},
			Listen: func() (net.PacketConn, error) {
				return net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			},
			OnSession: func(signaling.Session) {
				sc.sessions.Add(1)
				select {
				case up[i] <- struct{}{}:
				default:
				}
			},
			OnDown:         func(error) { sc.downs.Add(1) },
			Lifetime:       cfg.Lifetime,
			RekeyInterval:  cfg.Rekey,
			OnRekey:        func(signaling.Session) { sc.rekeys.Add(1) },
			ReportInterval: idleLifetime, // and PathReport nil: no path reports
			OnError:        func(msg.ErrorReport) { sc.errors.Add(1) },
			HeardFrom:      heardFrom(cfg.Heard),
		})
		if err != nil {
			return fmt.Errorf("mr %d: %w", i, err)
		}
		c.SetPaths(opts)
		clients[i] = c
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var runners, dialer sync.WaitGroup
	defer func() {
		// Stop every MR and wait for them; say how long that took if it
		// was long (or with -v).
		stopping := time.Now()
		cancel()
		dialer.Wait() // before the runners: it starts them
		runners.Wait()
		if d := time.Since(stopping); cfg.Verbose || d > 5*time.Second {
			fmt.Fprintf(stderr, "sigscale (mrs): %d MRs stopped in %.1f s\n", cfg.MRs, d.Seconds())
		}
	}()
	dialer.Go(func() {
		start := time.Now()
		sem := make(chan struct{}, cfg.Concurrency)
		var notUp atomic.Int64
		var slots sync.WaitGroup
		for i, c := range clients {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				slots.Wait()
				return
			}
			runners.Go(func() { c.Run(ctx) })
			slots.Go(func() {
				defer func() { <-sem }()
				t := time.NewTimer(dialWait)
				defer t.Stop()
				select {
				case <-up[i]:
				case <-t.C:
					notUp.Add(1)
				case <-ctx.Done():
				}
			})
		}
		slots.Wait()
		if ctx.Err() != nil {
			return
		}
		r := swarmStats(clients, &sc)
		r.Type, r.RegisterNs, r.NotUp = "ready", time.Since(start).Nanoseconds(), int(notUp.Load())
		if err := out.write(r); err != nil {
			cancel()
		}
	})

	cmds := make(chan string)
	done := make(chan struct{})
	defer close(done)
	go readCommands(stdin, cmds, done) // ends at EOF or with the process
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-cmds:
			if !ok {
				return nil // the deferred calls stop and wait for the MRs
			}
			if strings.TrimSpace(line) != "stats" {
				return fmt.Errorf("unknown command %q", line)
			}
			r := swarmStats(clients, &sc)
			r.Type = "stats"
			if err := out.write(r); err != nil {
				return err
			}
		}
	}
}

// swarmStats sums the clients' counters.
func swarmStats(clients []*signaling.Client, sc *swarmCounters) swarmReport {
	var r swarmReport
	r.procStats, _ = readProc()
	r.Sessions, r.Downs = sc.sessions.Load(), sc.downs.Load()
	r.Errors, r.Rekeys = sc.errors.Load(), sc.rekeys.Load()
	r.Up = int64(r.Sessions) - int64(r.Downs)
	for _, c := range clients {
		s := c.Stats()
		r.Client.ConnectsTotal += s.ConnectsTotal
		r.Client.SessionsTotal += s.SessionsTotal
		r.Client.FailuresTotal += s.FailuresTotal
		r.Client.UpdatesTotal += s.UpdatesTotal
		r.Client.RetransmitsTotal += s.RetransmitsTotal
		r.Client.RekeysTotal += s.RekeysTotal
		r.Client.MigrationsTotal += s.MigrationsTotal
		r.Client.MigrationFailuresTotal += s.MigrationFailuresTotal
	}
	return r
}

// heardFrom is the swarm's ClientOptions.HeardFrom: with -heard, the
// simulated routers act as if their data planes had just heard from the HA
// (they have no data plane; real routers with answered probes are in that
// state), so they skip their heartbeats.
func heardFrom(heard bool) func() time.Time {
	if !heard {
		return nil
	}
	return time.Now
}
