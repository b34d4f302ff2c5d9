// SPDX-License-Identifier: MIT

package node

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"monami/cmd/internal/daemon"
	"monami/configs"
)

// Daemon is what a main runs: a composed mobile router or home agent.
type Daemon interface {
	Run(ctx context.Context) error
	Collector() prometheus.Collector
	Snapshot() any // what /status shows
}

// Program is one daemon's command line: both mains are this, configured.
type Program struct {
	Name      string
	DebugAddr string // default -debug-addr
	// Load validates the configuration at path and returns how to build
	// the daemon from it.
	Load func(path string) (func(Env) (Daemon, error), error)
}

// MobileRouterProgram is monami-mr.
var MobileRouterProgram = Program{Name: "monami-mr", DebugAddr: "127.0.0.1:9400",
	Load: func(path string) (func(Env) (Daemon, error), error) {
		cfg, err := configs.LoadMobileRouter(path)
		if err != nil {
			return nil, err
		}
		return func(env Env) (Daemon, error) {
			env.WatchLinks = true
			return NewMobileRouter(cfg, env)
		}, nil
	}}

// HomeAgentProgram is monami-ha.
var HomeAgentProgram = Program{Name: "monami-ha", DebugAddr: "127.0.0.1:9401",
	Load: func(path string) (func(Env) (Daemon, error), error) {
		cfg, err := configs.LoadHomeAgent(path)
		if err != nil {
			return nil, err
		}
		return func(env Env) (Daemon, error) { return NewHomeAgent(cfg, env) }, nil
	}}

// Main parses the command line (flags, or the genkey subcommand), loads
// the configuration, and runs the daemon until SIGINT or SIGTERM; SIGHUP
// reloads the policy files of a daemon that has them. It exits the process
// on errors.
func (p Program) Main(args []string) {
	if len(args) > 0 && args[0] == "genkey" {
		if err := daemon.GenKey(os.Stdout); err != nil {
			daemon.Fatal(p.Name, err)
		}
		return
	}
	var f daemon.Flags
	fs := flag.NewFlagSet(p.Name, flag.ExitOnError)
	f.Register(fs, p.DebugAddr)
	fs.Parse(args)
	if f.Version {
		fmt.Println(p.Name, daemon.Version())
		return
	}
	if f.Config == "" {
		fmt.Fprintf(os.Stderr, "%s: -config is required\n", p.Name)
		fs.Usage()
		os.Exit(2)
	}
	build, err := p.Load(f.Config)
	if err != nil {
		daemon.Fatal(p.Name, err)
	}
	if f.Check {
		fmt.Printf("%s: configuration ok\n", f.Config)
		return
	}
	log, err := f.Logger(os.Stderr)
	if err != nil {
		daemon.Fatal(p.Name, err)
	}
	ctx, stop := daemon.SignalContext()
	defer stop()
	d, err := build(Env{Logger: log})
	if err != nil {
		daemon.Fatal(p.Name, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if f.DebugAddr != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(d.Collector())
		wg.Go(func() {
			if err := daemon.Serve(ctx, log, f.DebugAddr, d.Snapshot, reg); err != nil {
				log.Error("debug server", "err", err)
			}
		})
	}
	if r, ok := d.(interface{ Reload() error }); ok {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					if err := r.Reload(); err != nil {
						log.Error("reload refused; the running policies stay", "err", err)
					} else {
						log.Info("reloaded")
					}
				}
			}
		})
	}
	log.Info("running", "program", p.Name, "version", daemon.Version())
	err = d.Run(ctx)
	cancel()
	wg.Wait()
	if err != nil {
		daemon.Fatal(p.Name, err)
	}
}

// Snapshot implements Daemon.
func (m *MobileRouter) Snapshot() any { return m.Status() }

// Snapshot implements Daemon.
func (h *HomeAgent) Snapshot() any { return h.Status() }
