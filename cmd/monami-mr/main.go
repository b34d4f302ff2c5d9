// SPDX-License-Identifier: MIT

// Command monami-mr is the monami mobile router: it captures traffic on a
// TUN device and carries it to the home agent over every configured uplink.
//
// Usage:
//
//	monami-mr -config mr.toml [-check] [-log-level info] [-debug-addr 127.0.0.1:9400]
//	monami-mr genkey
//
// See configs/examples/mr.toml for the configuration, and the README.
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

const prog = "monami-mr"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "genkey" {
		if err := daemon.GenKey(os.Stdout); err != nil {
			daemon.Fatal(prog, err)
		}
		return
	}
	var f daemon.Flags
	fs := flag.NewFlagSet(prog, flag.ExitOnError)
	f.Register(fs, "127.0.0.1:9400")
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
	cfg, err := configs.LoadMobileRouter(f.Config)
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
	m, err := node.NewMobileRouter(cfg, node.Env{Logger: log, WatchLinks: true})
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
	log.Info("mobile router running", "version", daemon.Version())
	err = m.Run(ctx)
	cancel()
	wg.Wait()
	if err != nil {
		daemon.Fatal(prog, err)
	}
}
