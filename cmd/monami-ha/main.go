// SPDX-License-Identifier: MIT

// Command monami-ha is the monami home agent: it serves many mobile routers,
// forwards their traffic and sends return traffic back over their paths.
//
// Usage:
//
//	monami-ha -config ha.toml [-check] [-log-level info] [-debug-addr 127.0.0.1:9401]
//	monami-ha genkey
//
// See configs/examples/ha.toml for the configuration, and the README.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"monami/cmd/internal/daemon"
	"monami/cmd/internal/node"
	"monami/configs"
)

const prog = "monami-ha"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "genkey" {
		if err := daemon.GenKey(os.Stdout); err != nil {
			daemon.Fatal(prog, err)
		}
		return
	}
	var f daemon.Flags
	fs := flag.NewFlagSet(prog, flag.ExitOnError)
	f.Register(fs, "127.0.0.1:9401")
	fs.Parse(os.Args[1:])
	if f.Version {
		fmt.Println(prog, daemon.Version())
		return
	}
	if f.Config == "" {
		fmt.Fprintf(os.Stderr, "%s: -config is required\n", prog)
		fs.Usage()
		os.Exit(2)
	}
	cfg, err := configs.LoadHomeAgent(f.Config)
	if err != nil {
		daemon.Fatal(prog, err)
	}
	if f.Check {
		fmt.Printf("%s: configuration ok\n", f.Config)
		return
	}
	log, err := f.Logger(os.Stderr)
	if err != nil {
		daemon.Fatal(prog, err)
	}
	ctx, stop := daemon.SignalContext()
	defer stop()
	m, err := node.NewHomeAgent(cfg, node.Env{Logger: log})
	if err != nil {
		daemon.Fatal(prog, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if f.DebugAddr != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(m.Collector())
		wg.Go(func() {
			if err := daemon.Serve(ctx, log, f.DebugAddr, func() any { return m.Status() }, reg); err != nil {
				log.Error("debug server", "err", err)
			}
		})
	}
	log.Info("home agent running", "version", daemon.Version())
	err = m.Run(ctx)
	cancel()
	wg.Wait()
	if err != nil {
		daemon.Fatal(prog, err)
	}
}
