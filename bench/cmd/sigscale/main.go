// SPDX-License-Identifier: MIT

package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"monami/paths"
)

// config is the benchmark's parameters, shared by the three roles.
type config struct {
	MRs         int           `json:"mrs"`
	BIDs        int           `json:"bids"`
	Lifetime    time.Duration `json:"lifetime_ns"`
	Hold        time.Duration `json:"hold_ns"`
	Idle        time.Duration `json:"idle_ns"`
	Rekey       time.Duration `json:"rekey_interval_ns"` // 0: the signaling default (120 s)
	Concurrency int           `json:"concurrency"`
	Seed        string        `json:"seed"`
	Timeout     time.Duration `json:"register_timeout_ns"`
	Verbose     bool          `json:"-"`
	Heard       bool          `json:"data_plane_heard"` // MRs skip heartbeats as if their data planes heard the HA

	JSON      string `json:"-"` // report file
	HAProfile string `json:"-"` // prefix of the HA's CPU profiles of the hold and the idle window
	HAHeap    string `json:"-"` // heap profile of the HA once all MRs are registered

	role   string
	server string // mrs: the HA's address
}

// idleLifetime is the binding lifetime of swarm B: long enough that no
// refresh falls in the idle window.
const idleLifetime = time.Hour

// Limits of the simulated addressing: care-of addresses come from
// 198.18.0.0/17 (one per BID of each MR), prefixes from fd00:1000::/48 (one
// /64 per MR).
const (
	maxMRs  = 8192
	maxBIDs = 4
)

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := realMain(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	cancel()
	os.Exit(code)
}

// realMain parses args and runs the role they name; it returns the exit
// code. The children's stdin carries the parent's commands, their stdout
// their JSON lines.
func realMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "sigscale:", err)
		return 2
	}
	switch cfg.role {
	case "":
		err = runParent(ctx, cfg, stdout, stderr)
	case "ha":
		err = runHA(ctx, cfg, stdin, stdout, stderr)
	case "mrs":
		err = runSwarm(ctx, cfg, stdin, stdout, stderr)
	default:
		err = fmt.Errorf("unknown role %q", cfg.role)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sigscale%s: %v\n", roleSuffix(cfg.role), err)
		return 1
	}
	return 0
}

func roleSuffix(role string) string {
	if role == "" {
		return ""
	}
	return " (" + role + ")"
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("sigscale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.MRs, "mrs", 1000, "number of simulated mobile routers")
	fs.IntVar(&cfg.BIDs, "bids", 3, "paths (BIDs) per MR")
	fs.DurationVar(&cfg.Lifetime, "lifetime", 12*time.Second, "binding lifetime the MRs ask for (refresh at 2/3 of it; multiple of 4 s)")
	fs.DurationVar(&cfg.Hold, "hold", 40*time.Second, "how long the registered MRs are held while refreshing")
	fs.DurationVar(&cfg.Idle, "idle", 15*time.Second, "how long the HA's idle cost is measured (no refreshes)")
	fs.DurationVar(&cfg.Rekey, "rekey", time.Hour, "the MRs' rekey interval; 0 means the signaling default (120 s)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 64, "MRs dialing at once")
	fs.StringVar(&cfg.Seed, "seed", "monami-sigscale", "seed of the HA's and MRs' keys")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "how long the registration of all MRs may take")
	fs.BoolVar(&cfg.Verbose, "v", false, "log the HA's and MRs' warnings to stderr")
	fs.BoolVar(&cfg.Heard, "heard", false, "the MRs act as if their data planes heard from the HA (answered probes), so they skip heartbeats, as real routers then do")
	fs.StringVar(&cfg.JSON, "json", "", "write the full report to this file")
	fs.StringVar(&cfg.HAProfile, "haprofile", "", "write CPU profiles of the HA over the hold and the idle window to `PREFIX`.hold.pprof and PREFIX.idle.pprof")
	fs.StringVar(&cfg.HAHeap, "haheap", "", "write a heap profile of the HA, taken once all MRs are registered, to this file (and its goroutines to FILE.goroutines.txt)")
	fs.StringVar(&cfg.role, "role", "", "internal: run as the HA (ha) or the MR swarm (mrs)")
	fs.StringVar(&cfg.server, "server", "", "internal (mrs): the HA's address")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case cfg.MRs < 1 || cfg.MRs > maxMRs:
		return cfg, fmt.Errorf("-mrs %d: want 1 to %d", cfg.MRs, maxMRs)
	case cfg.BIDs < 1 || cfg.BIDs > maxBIDs:
		return cfg, fmt.Errorf("-bids %d: want 1 to %d", cfg.BIDs, maxBIDs)
	case cfg.Lifetime < 4*time.Second || cfg.Lifetime > idleLifetime:
		return cfg, fmt.Errorf("-lifetime %s: want 4s to %s", cfg.Lifetime, idleLifetime)
	case cfg.Hold <= 0 || cfg.Idle <= 0:
		return cfg, errors.New("-hold and -idle must be positive")
	case cfg.Idle >= idleLifetime*2/3:
		return cfg, fmt.Errorf("-idle %s: want less than %s", cfg.Idle, idleLifetime*2/3)
	case cfg.Rekey < 0:
		return cfg, errors.New("-rekey must not be negative")
	case cfg.Concurrency < 1:
		return cfg, errors.New("-concurrency must be positive")
	}
	return cfg, nil
}

// childArgs are the flags that pass cfg to a child of the given role.
func (cfg config) childArgs(role string, extra ...string) []string {
	args := []string{"-role", role,
		"-mrs", fmt.Sprint(cfg.MRs), "-bids", fmt.Sprint(cfg.BIDs),
		"-lifetime", cfg.Lifetime.String(), "-rekey", cfg.Rekey.String(),
		"-concurrency", fmt.Sprint(cfg.Concurrency), "-seed", cfg.Seed,
		"-timeout", cfg.Timeout.String(),
	}
	if cfg.Verbose {
		args = append(args, "-v")
	}
	if cfg.Heard {
		args = append(args, "-heard")
	}
	return append(args, extra...)
}

// key derives the Ed25519 key named name from the seed: both children
// derive the same keys, so no key crosses a pipe.
func key(seed, name string) ed25519.PrivateKey {
	h := sha256.Sum256([]byte(seed + "\x00" + name))
	return ed25519.NewKeyFromSeed(h[:])
}

func haKey(seed string) ed25519.PrivateKey { return key(seed, "ha") }

func mrKey(seed string, i int) ed25519.PrivateKey { return key(seed, fmt.Sprintf("mr%d", i)) }

func mrName(i int) string { return fmt.Sprintf("mr%d", i) }

// mrPrefix is MR i's mobile network prefix: fd00:1000:0:i::/64.
func mrPrefix(i int) netip.Prefix {
	var a [16]byte
	a[0], a[1], a[2], a[3] = 0xfd, 0x00, 0x10, 0x00
	binary.BigEndian.PutUint16(a[6:], uint16(i))
	return netip.PrefixFrom(netip.AddrFrom16(a), 64)
}

// careOf is the care-of address of MR i's path b (1-based): one address
// of 198.18.0.0/17 each.
func careOf(i int, b paths.BID) netip.Addr {
	n := uint32(i)*maxBIDs + uint32(b) - 1
	return netip.AddrFrom4([4]byte{198, 18, byte(n >> 8), byte(n)})
}
