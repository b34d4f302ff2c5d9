// SPDX-License-Identifier: MIT

package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"

	"monami/signaling"
	"monami/signaling/msg"
)

// haCounters are what the HA's callbacks count. Atomic: the callbacks run
// on the server's per-connection goroutines.
type haCounters struct {
	sessionsUp, sessionsEnded atomic.Int64
	rekeys                    atomic.Uint64
	bindings                  atomic.Int64 // registered now, over all MRs
	// OnBindings calls by kind: the first of a session (registration), an
	// unchanged nonzero set (refresh), a smaller nonzero set (a binding
	// lapsed or was removed), a larger one, an empty one (session end or
	// all lapsed).
	calls, registrations, refreshes, shrinks, grows, empties atomic.Uint64
	perMR                                                    []atomic.Int32 // bindings of each MR
}

// onBindings classifies one OnBindings call of MR i.
func (h *haCounters) onBindings(i int, n int) {
	h.calls.Add(1)
	prev := int(h.perMR[i].Swap(int32(n)))
	h.bindings.Add(int64(n - prev))
	switch {
	case n == 0:
		h.empties.Add(1)
	case prev == 0:
		h.registrations.Add(1)
	case n == prev:
		h.refreshes.Add(1)
	case n < prev:
		h.shrinks.Add(1)
	default:
		h.grows.Add(1)
	}
}

// haReport is the HA's answer to a command: its process figures, the
// server's counters and what the callbacks counted.
type haReport struct {
	Type string `json:"type"` // "stats"
	procStats
	Server        signaling.ServerStats `json:"server"`
	SessionsLive  int64                 `json:"sessions_live"`
	Bindings      int64                 `json:"bindings"`
	Calls         uint64                `json:"bindings_calls"`
	Registrations uint64                `json:"registrations"`
	Refreshes     uint64                `json:"refreshes"`
	Shrinks       uint64                `json:"shrinks"`
	Grows         uint64                `json:"grows"`
	Empties       uint64                `json:"empties"`
	Rekeys        uint64                `json:"rekeys"`
}

// runHA is the HA role: a signaling.Server for cfg.MRs peers on
// 127.0.0.1:0. It prints {"type":"listening","addr":...}, then answers
// each line on stdin with one JSON line:
//
//	stats             the figures now
//	gc                a garbage collection, then the figures
//	prof-start FILE   start a CPU profile into FILE, then the figures
//	prof-stop         stop it, then the figures
//	heap FILE         a garbage collection, a heap profile into FILE and the
//	                  goroutines (text) into FILE.goroutines.txt, then the figures
//
// It stops when stdin ends or ctx does.
func runHA(ctx context.Context, cfg config, stdin io.Reader, stdout, stderr io.Writer) error {
	out := newLineWriter(stdout)
	h := &haCounters{perMR: make([]atomic.Int32, cfg.MRs)}
	index := make(map[string]int, cfg.MRs) // read-only once built
	peers := make([]signaling.Peer, cfg.MRs)
	for i := range cfg.MRs {
		name := mrName(i)
		index[name] = i
		peers[i] = signaling.Peer{
			Name:      name,
			PublicKey: mrKey(cfg.Seed, i).Public().(ed25519.PublicKey),
			Prefixes:  []netip.Prefix{mrPrefix(i)},
		}
	}
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer pc.Close()
	srv, err := signaling.NewServer(signaling.ServerOptions{
		Logger:     childLogger(cfg, stderr, "ha"),
		PrivateKey: haKey(cfg.Seed),
		Peers:      peers,
		Conn:       pc,
		OnSession:  func(signaling.Session) { h.sessionsUp.Add(1) },
		OnSessionEnd: func(string, uint32) {
			h.sessionsEnded.Add(1)
		},
		// The MRs ask for the lifetime; the HA grants all it can.
		MaxLifetime: msg.LifetimeDuration(0xffff),
		// No path reports (PathReport is nil): a long interval keeps the
		// per-MR report timer out of the figures.
		ReportInterval: idleLifetime,
		OnBindings: func(peer string, bs []signaling.Binding) {
			if i, ok := index[peer]; ok {
				h.onBindings(i, len(bs))
			}
		},
		OnRekey: func(signaling.Session) { h.rekeys.Add(1) },
	})
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() {
		runErr = srv.Run(ctx)
		cancel()
	})
	defer wg.Wait()
	if err := out.write(map[string]string{"type": "listening", "addr": pc.LocalAddr().String()}); err != nil {
		return err
	}

	// The command reader blocks in a read of stdin that nothing can
	// interrupt; it ends at EOF, or with the process.
	cmds := make(chan string)
	done := make(chan struct{})
	defer close(done)
	go readCommands(stdin, cmds, done)

	var prof *os.File
	defer func() {
		if prof != nil {
			pprof.StopCPUProfile()
			prof.Close()
		}
	}()
	for {
		var line string
		select {
		case <-ctx.Done():
			wg.Wait()
			return runErr
		case l, ok := <-cmds:
			if !ok {
				cancel()
				wg.Wait()
				return runErr
			}
			line = l
		}
		cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch cmd {
		case "stats":
		case "gc":
			runtime.GC()
		case "prof-start":
			if prof != nil {
				return fmt.Errorf("prof-start: a profile is running")
			}
			f, err := os.Create(arg)
			if err != nil {
				return fmt.Errorf("prof-start: %w", err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return fmt.Errorf("prof-start: %w", err)
			}
			prof = f
		case "prof-stop":
			if prof != nil {
				pprof.StopCPUProfile()
				if err := prof.Close(); err != nil {
					return fmt.Errorf("prof-stop: %w", err)
				}
				prof = nil
			}
		case "heap":
			runtime.GC()
			if err := writeHeapProfile(arg); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown command %q", line)
		}
		p, err := readProc()
		if err != nil {
			return err
		}
		r := haReport{Type: "stats", procStats: p, Server: srv.Stats(),
			SessionsLive:  h.sessionsUp.Load() - h.sessionsEnded.Load(),
			Bindings:      h.bindings.Load(),
			Calls:         h.calls.Load(),
			Registrations: h.registrations.Load(),
			Refreshes:     h.refreshes.Load(),
			Shrinks:       h.shrinks.Load(),
			Grows:         h.grows.Load(),
			Empties:       h.empties.Load(),
			Rekeys:        h.rekeys.Load(),
		}
		if err := out.write(r); err != nil {
			return err
		}
	}
}

func writeHeapProfile(name string) error {
	if err := writeProfile("heap", name, 0); err != nil {
		return err
	}
	return writeProfile("goroutine", name+".goroutines.txt", 1)
}

func writeProfile(profile, name string, debug int) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("%s profile: %w", profile, err)
	}
	if err := pprof.Lookup(profile).WriteTo(f, debug); err != nil {
		f.Close()
		return fmt.Errorf("%s profile: %w", profile, err)
	}
	return f.Close()
}

// childLogger is the signaling logger of a child: warnings to stderr with
// -v, nothing otherwise (a thousand MRs would drown the report).
func childLogger(cfg config, stderr io.Writer, role string) *slog.Logger {
	if !cfg.Verbose {
		return nil
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("role", role)
}
