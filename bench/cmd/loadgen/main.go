// SPDX-License-Identifier: MIT

// Command loadgen is the benchmark harness's traffic generator (package
// bench/load):
//
//	loadgen serve -listen :5300 [-mptcp] [-cc cubic] [-reports FILE]   TCP sink + UDP echo, until SIGTERM
//	loadgen tcp -to HOST:5300 [-streams 1] [-duration 5s] [-mptcp] [-cc cubic] [-bucket 10ms] [-omit 1s] [-nohash] [-report-wait 60s]
//	loadgen voice -to HOST:5300 [-pps 50] [-size 200] [-duration 10s]
//
// tcp and voice print their result as one JSON object on stdout; tcp exits
// 1 if a stream failed or did not arrive byte-exact.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"monami/bench/load"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen serve|tcp|voice [flags]")
		os.Exit(2)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, os.Args[2:])
	case "tcp":
		err = tcp(ctx, os.Args[2:])
	case "voice":
		err = voice(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q: want serve, tcp or voice", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", ":5300", "TCP and UDP listen address")
	mptcp := fs.Bool("mptcp", false, "accept MPTCP")
	cc := fs.String("cc", "", "TCP congestion control (default: the system's)")
	verbose := fs.Bool("v", false, "log each stream to stderr")
	reports := fs.String("reports", "", "append each stream's report (JSON line) to this file, also for streams cut short by SIGTERM")
	fs.Parse(args)
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	o := load.ServeOptions{Addr: *listen, MPTCP: *mptcp, CC: *cc, Logger: log}
	if *reports != "" {
		f, err := os.OpenFile(*reports, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		o.Reports = f
	}
	return load.Serve(ctx, o)
}

func tcp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tcp", flag.ExitOnError)
	var o load.TCPOptions
	fs.StringVar(&o.Addr, "to", "", "server address (required)")
	fs.IntVar(&o.Streams, "streams", 1, "parallel streams")
	fs.DurationVar(&o.Duration, "duration", 5*time.Second, "sending time")
	fs.BoolVar(&o.MPTCP, "mptcp", false, "dial with MPTCP")
	fs.StringVar(&o.CC, "cc", "", "TCP congestion control (default: the system's)")
	fs.DurationVar(&o.Bucket, "bucket", 10*time.Millisecond, "timeline bucket")
	fs.DurationVar(&o.Omit, "omit", time.Second, "start excluded from steady_mbps")
	fs.Uint64Var(&o.Seed, "seed", 1, "pattern seed")
	fs.BoolVar(&o.NoHash, "nohash", false, "skip SHA-256")
	fs.DurationVar(&o.Wait, "wait", 10*time.Second, "retry the dial this long")
	fs.DurationVar(&o.ReportWait, "report-wait", 60*time.Second, "wait this long for the server's report after sending")
	fs.Parse(args)
	if o.Addr == "" {
		return fmt.Errorf("tcp: -to is required")
	}
	r, err := load.RunTCP(ctx, o)
	json.NewEncoder(os.Stdout).Encode(r)
	if err == nil && !r.HashOK {
		err = fmt.Errorf("tcp: received data differs from what was sent")
	}
	return err
}

func voice(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("voice", flag.ExitOnError)
	var o load.VoiceOptions
	fs.StringVar(&o.Addr, "to", "", "server address (required)")
	fs.IntVar(&o.PPS, "pps", 50, "packets per second")
	fs.IntVar(&o.Size, "size", 200, "UDP payload bytes")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length")
	fs.DurationVar(&o.Wait, "wait", 10*time.Second, "wait this long for a first echo")
	fs.Parse(args)
	if o.Addr == "" {
		return fmt.Errorf("voice: -to is required")
	}
	r, err := load.RunVoice(ctx, o)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}
