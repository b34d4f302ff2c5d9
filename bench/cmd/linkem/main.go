// SPDX-License-Identifier: MIT

// Command linkem runs the userspace link emulator of bench/linkem between
// two interfaces of the current network namespace:
//
//	linkem -a m1 -b h1 -both "rate=50mbit delay=20ms" -b2a "loss=1%" \
//	       -event "5s both blackhole=on for=3s" -event "10s a2b delay=80ms" \
//	       -control /run/linkem-1.sock
//
// Parameters are "key=value" lists (see linkem.Params.Set): -both applies to
// both directions, then -a2b and -b2a to one each. -event schedules a change
// relative to start ("<at> <a2b|b2a|both> key=value... [for=<dur>]"; "for"
// reverts the keys afterwards). -control serves the control socket (set,
// params, stats); `linkem ctl SOCKET set a2b loss=30%` sends one command
// from a shell. On SIGINT/SIGTERM it stops and, with -stats, prints the
// final counters as JSON on stdout.
//
// The interfaces that send into the emulator must have hardware
// segmentation off (ethtool -K dev tso off tx-udp-segmentation off), or
// the emulated link sees 64 KiB super-frames; see the linkem package doc.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"monami/bench/linkem"
)

type events []linkem.Event

func (e *events) String() string { return fmt.Sprint(*e) }
func (e *events) Set(s string) error {
	ev, err := linkem.ParseEvent(s)
	if err != nil {
		return err
	}
	*e = append(*e, ev)
	return nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "ctl" {
		// linkem ctl SOCKET COMMAND...: one control command from a shell.
		if len(os.Args) < 4 {
			fmt.Fprintln(os.Stderr, "usage: linkem ctl SOCKET set <a2b|b2a|both> key=value... | params | stats")
			os.Exit(2)
		}
		reply, err := linkem.Command(os.Args[2], strings.Join(os.Args[3:], " "))
		if err != nil {
			fmt.Fprintln(os.Stderr, "linkem:", err)
			os.Exit(1)
		}
		fmt.Println(reply)
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "linkem:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		a       = flag.String("a", "", "interface A (required)")
		b       = flag.String("b", "", "interface B (required)")
		both    = flag.String("both", "", "parameters for both directions, key=value...")
		a2b     = flag.String("a2b", "", "parameters for A→B, applied after -both")
		b2a     = flag.String("b2a", "", "parameters for B→A, applied after -both")
		control = flag.String("control", "", "control socket path (optional)")
		seed    = flag.Uint64("seed", 1, "random seed")
		maxHeld = flag.Int("max-held", 0, "frames held per direction (default 32768)")
		slack   = flag.Duration("slack", linkem.DefaultSlack, "release frames due within this of a due frame together (batches wake-ups)")
		stats   = flag.Bool("stats", false, "print the final counters as JSON on exit")
		verbose = flag.Bool("v", false, "log lifecycle messages to stderr")
		evs     events
	)
	flag.Var(&evs, "event", "scripted change \"<at> <dir> key=value... [for=<dur>]\" (repeatable)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: linkem -a IF -b IF [flags]\nparameter keys: %s\n", strings.Join(linkem.Keys(), ", "))
		flag.PrintDefaults()
	}
	flag.Parse()
	if *a == "" || *b == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	var pa, pb linkem.Params
	for _, x := range []struct {
		p    *linkem.Params
		spec []string
	}{{&pa, []string{*both, *a2b}}, {&pb, []string{*both, *b2a}}} {
		for _, s := range x.spec {
			if err := x.p.Apply(s); err != nil {
				return err
			}
		}
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if *slack == 0 {
		*slack = -1 // Options: 0 is the default, negative is none
	}
	e, err := linkem.Open(linkem.Options{A: *a, B: *b, AtoB: pa, BtoA: pb, Seed: *seed, MaxHeld: *maxHeld, Slack: *slack, Logger: log})
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	var wg sync.WaitGroup
	runErr := make(chan error, 1)
	wg.Go(func() { runErr <- e.Run(ctx); cancel() })
	if *control != "" {
		wg.Go(func() {
			if err := linkem.ServeControl(ctx, *control, e); err != nil {
				log.Error("control", "err", err)
				cancel()
			}
		})
	}
	if len(evs) > 0 {
		wg.Go(func() {
			if err := linkem.RunScript(ctx, e, e.Start(), evs); err != nil {
				log.Error("script", "err", err)
			}
		})
	}
	wg.Wait()
	err = <-runErr
	if *stats {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]linkem.StatsSnapshot{"a2b": e.Stats(linkem.AtoB).Snapshot(), "b2a": e.Stats(linkem.BtoA).Snapshot()})
	}
	return err
}
