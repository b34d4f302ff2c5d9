// SPDX-License-Identifier: MIT

// Package daemon is the scaffolding the monami mains share: the common
// flags, slog set-up, signal handling, and the loopback-only debug HTTP
// server that serves /status (JSON), /metrics (Prometheus) and pprof.
//
// It is private to cmd/. Nothing in it runs per packet. Functions are safe
// for concurrent use; Serve's goroutine is owned by the caller's context.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"monami/configs"
)

// Flags are the flags every daemon takes.
type Flags struct {
	Config    string
	Check     bool
	LogLevel  string
	LogFormat string
	DebugAddr string
	Version   bool
}

// Register defines the common flags on fs.
func (f *Flags) Register(fs *flag.FlagSet, defaultDebug string) {
	fs.StringVar(&f.Config, "config", "", "path of the TOML configuration file (required)")
	fs.BoolVar(&f.Check, "check", false, "load and validate the configuration, print the result and exit")
	fs.StringVar(&f.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&f.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.DebugAddr, "debug-addr", defaultDebug, "loopback address of the status, metrics and pprof HTTP server; empty disables it")
	fs.BoolVar(&f.Version, "version", false, "print the version and exit")
}

// Logger returns the logger the flags ask for, writing to w.
func (f *Flags) Logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(f.LogLevel)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", f.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch f.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", f.LogFormat)
}

// Version returns the module version and VCS revision the binary was built
// from, as far as the build recorded them.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	return v + " " + bi.GoVersion
}

// SignalContext returns a context cancelled on SIGINT or SIGTERM.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// Serve runs the debug HTTP server on addr until ctx is done: /status
// returns status() as JSON, /metrics the registry in Prometheus text format,
// /debug/pprof/ the profiler. addr must be a loopback address.
func Serve(ctx context.Context, log *slog.Logger, addr string, status func() any, reg *prometheus.Registry) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-debug-addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-debug-addr %q: must be a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("debug server: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(status())
	})
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Info("debug server listening", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Collector is a Prometheus collector that reads a snapshot function at
// scrape time; it keeps no state of its own.
type Collector struct {
	collect func(emit func(desc *prometheus.Desc, vt prometheus.ValueType, v float64, labels ...string))
}

// NewCollector returns a Collector calling collect on every scrape.
func NewCollector(collect func(emit func(desc *prometheus.Desc, vt prometheus.ValueType, v float64, labels ...string))) *Collector {
	return &Collector{collect: collect}
}

// Describe implements prometheus.Collector (an unchecked collector).
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.collect(func(d *prometheus.Desc, vt prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, vt, v, labels...)
	})
}

// Fatal prints err (every line of a joined error) to stderr with the
// program's name and exits with status 1.
func Fatal(prog string, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(os.Stderr, "%s: %s\n", prog, line)
	}
	os.Exit(1)
}

// GenKey writes a new Ed25519 key pair to w as two TOML lines, the private
// key first.
func GenKey(w io.Writer) error {
	priv, pub, err := configs.GenerateKey()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "private_key = %q\npublic_key = %q\n", configs.FormatPrivateKey(priv), configs.FormatPublicKey(pub))
	return err
}
