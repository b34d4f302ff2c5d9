// SPDX-License-Identifier: MIT

// Command bench runs the monami benchmark scenarios in network namespaces
// and writes a report:
//
//	go run ./bench/cmd/bench [-scenario single-path[,…]] [-reps 3] [-bin bin] [-out bench/results]
//
// Without -scenario it runs them all (-list shows them). It needs root. It
// builds its helper binaries (linkem, loadgen, wgtun) into a work
// directory; the monami daemons come from -bin (make build) or, without
// -bin, are built from ./cmd; when they cannot be found or built the monami
// rows say "not built" and the anchors still run. Namespaces are named
// mbn<pid>-…; leftovers of a crashed run are removed at start, and
// everything is removed on exit, on error and on SIGINT/SIGTERM.
//
// See bench/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"monami/bench/anchor"
	"monami/bench/scenario"
	"monami/bench/topo"
)

func main() {
	code := run()
	topo.CleanOwn()
	os.Exit(code)
}

func run() int {
	var (
		names   = flag.String("scenario", "", "comma-separated scenarios (default: all)")
		reps    = flag.Int("reps", 3, "repetitions per system")
		dur     = flag.Duration("dur", 0, "traffic duration per sample (default: each scenario's)")
		systems = flag.String("systems", "", "comma-separated systems to run (none, wireguard-go, mptcp, monami; default: each scenario's)")
		bin     = flag.String("bin", "", "directory with monami-mr and monami-ha (default: build them from ./cmd)")
		tools   = flag.String("tools", "", "directory with prebuilt linkem, loadgen, wgtun (default: build them)")
		out     = flag.String("out", "", "results directory (default: <module>/bench/results)")
		topos   = flag.String("topologies", "", "topology directory (default: <module>/bench/topologies)")
		cipher  = flag.String("cipher", "aes-256-gcm", "monami data cipher")
		cc      = flag.String("cc", "cubic", "TCP congestion control of the test traffic (set per socket; the machine's default may differ)")
		keep    = flag.Bool("keep", false, "keep the work directory (configs, logs)")
		list    = flag.Bool("list", false, "list the scenarios and exit")
		rerend  = flag.String("report", "", "re-render report.md and the plots of a results directory from its results.json, and exit")
	)
	flag.Parse()
	if *rerend != "" {
		res, err := scenario.Load(filepath.Join(*rerend, "results.json"))
		if err == nil {
			_, err = scenario.Write(*rerend, res)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		fmt.Println("re-rendered", *rerend)
		return 0
	}
	if *list {
		for _, s := range scenario.All() {
			fmt.Printf("%-20s %s\n", s.Name, s.Description)
		}
		return 0
	}
	var scs []*scenario.Scenario
	if *names == "" {
		scs = scenario.All()
	} else {
		for n := range strings.SplitSeq(*names, ",") {
			s, err := scenario.Find(strings.TrimSpace(n))
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err, "(-list shows the scenarios)")
				return 2
			}
			scs = append(scs, s)
		}
	}
	var kinds []anchor.Kind
	if *systems != "" {
		for s := range strings.SplitSeq(*systems, ",") {
			kinds = append(kinds, anchor.Kind(strings.TrimSpace(s)))
		}
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: needs root (network namespaces)")
		return 1
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if *out == "" {
		*out = filepath.Join(root, "bench", "results")
	}
	if *topos == "" {
		*topos = filepath.Join(root, "bench", "topologies")
	}
	if err := deps(root); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if removed := topo.CleanStale(); len(removed) > 0 {
		fmt.Printf("removed %d stale namespaces of a crashed run: %s\n", len(removed), strings.Join(removed, " "))
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	go func() {
		// A second signal: clean up and leave now.
		<-ctx.Done()
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		topo.CleanOwn()
		os.Exit(130)
	}()

	work, err := os.MkdirTemp("", "monami-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	failed := false
	defer func() {
		if *keep || failed {
			fmt.Println("work directory (configs, logs):", work)
			return
		}
		os.RemoveAll(work)
	}()

	t, err := buildTools(root, work, *tools)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		failed = true
		return 1
	}
	bins := monamiBins(root, work, *bin)

	res, err := scenario.Run(ctx, scenario.Options{
		Scenarios: scs, Reps: *reps, Dur: *dur, Systems: kinds, TopoDir: *topos, Tools: t, Bins: bins,
		Cipher: *cipher, CC: *cc, WorkDir: work, Progress: os.Stdout,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		failed = true
	}
	for _, r := range res.Scenarios {
		for _, s := range r.Samples {
			if s.Error != "" && s.Error != anchor.ErrNotBuilt.Error() {
				failed = true
			}
		}
	}
	if len(res.Scenarios) == 0 {
		return 1
	}
	dir := filepath.Join(*out, time.Now().UTC().Format("20060102T150405Z"))
	md, werr := scenario.Write(dir, res)
	if werr != nil {
		fmt.Fprintln(os.Stderr, "bench:", werr)
		return 1
	}
	fmt.Print("\n" + md)
	fmt.Println("written to", dir)
	if err != nil {
		return 1
	}
	return 0
}

// moduleRoot finds the monami module's directory.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w (run from the repository)", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the monami module (run from the repository)")
	}
	return filepath.Dir(mod), nil
}

// deps installs missing Debian tools with bench/deps.sh.
func deps(root string) error {
	missing := false
	for _, t := range []string{"ip", "iperf3", "ethtool", "ping"} {
		if _, err := exec.LookPath(t); err != nil {
			missing = true
		}
	}
	if !missing {
		return nil
	}
	cmd := exec.Command("sh", filepath.Join(root, "bench", "deps.sh"))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bench/deps.sh: %w", err)
	}
	return nil
}

func goBuild(root, dir string, pkgs ...string) error {
	cmd := exec.Command("go", append([]string{"build", "-o", dir + "/"}, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, out)
	}
	return nil
}

func buildTools(root, work, prebuilt string) (scenario.Tools, error) {
	dir := prebuilt
	if dir == "" {
		dir = filepath.Join(work, "tools")
		fmt.Println("building linkem, loadgen, wgtun …")
		if err := goBuild(root, dir, "./bench/cmd/linkem", "./bench/cmd/loadgen", "./bench/cmd/wgtun"); err != nil {
			return scenario.Tools{}, err
		}
	}
	dir, _ = filepath.Abs(dir)
	t := scenario.Tools{Linkem: filepath.Join(dir, "linkem"), Loadgen: filepath.Join(dir, "loadgen"), Wgtun: filepath.Join(dir, "wgtun")}
	for _, p := range []string{t.Linkem, t.Loadgen, t.Wgtun} {
		if _, err := os.Stat(p); err != nil {
			return t, fmt.Errorf("tool missing: %w", err)
		}
	}
	return t, nil
}

// monamiBins locates or builds the daemons; failures leave them empty,
// which the monami anchor reports as "not built".
func monamiBins(root, work, bin string) anchor.Bins {
	dir := bin
	if dir == "" {
		dir = filepath.Join(work, "monami")
		fmt.Println("building monami-mr, monami-ha …")
		if err := goBuild(root, dir, "./cmd/monami-mr", "./cmd/monami-ha"); err != nil {
			fmt.Printf("monami not built: %s\n", strings.TrimSpace(err.Error()))
			return anchor.Bins{}
		}
	}
	dir, _ = filepath.Abs(dir)
	b := anchor.Bins{MonamiMR: filepath.Join(dir, "monami-mr"), MonamiHA: filepath.Join(dir, "monami-ha")}
	if !b.Built() {
		fmt.Printf("monami not built: no monami-mr/monami-ha in %s\n", dir)
	}
	return b
}
