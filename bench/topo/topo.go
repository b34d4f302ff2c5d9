// SPDX-License-Identifier: MIT

// Package topo builds and tears down the benchmark topologies in Linux
// network namespaces, from TOML files under bench/topologies:
//
//	<p>lan ── lan0 ── <p>mr ══ wan1..N ══ <p>ha ── srv0 ── <p>srv
//	                          (each wanI through <p>emu: mI ⇄ linkem ⇄ hI,
//	                           or a direct veth when emulate = false)
//
// Addresses follow docs/internals.md (198.18.0.0/15 and fd00::/8 only):
// LAN 198.18.10.0/24, server 198.18.20.0/24, uplink I 198.18.I.0/24 and
// fd00:I::/64 (router .2, home agent .1), home agent loopback 198.18.0.1
// and fd00::1, reachable from the router over every uplink (metric 100·I).
// Nothing routes LAN ↔ server: each anchor (plain routing, a tunnel)
// installs its own routes.
//
// Each emulated uplink runs one linkem process in <p>emu with a control
// socket; its "up" direction is router → home agent. The router- and
// home-agent-side veths of an emulated uplink have hardware segmentation
// off (ethtool), so the emulator sees MTU-sized frames.
//
// Every namespace carries the topology's prefix, which starts with
// "mbn<pid>-" for the harness process; Close kills the processes inside
// and deletes the namespaces; CleanStale removes those of harness
// processes that no longer run. A Topology's methods are safe for
// concurrent use after Build. Part of the benchmark harness; nothing
// outside bench imports it.
package topo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"monami/bench/linkem"
)

// Roles of the namespaces.
const (
	LAN    = "lan"
	MR     = "mr"
	HA     = "ha"
	Server = "srv"
	Emu    = "emu"
)

// Roles lists every namespace role.
func Roles() []string { return []string{LAN, MR, HA, Server, Emu} }

// Fixed addresses.
const (
	LANHost4   = "198.18.10.2"
	LANHost6   = "fd00:10::2"
	LANGW4     = "198.18.10.1"
	LANGW6     = "fd00:10::1"
	LANNet4    = "198.18.10.0/24"
	LANNet6    = "fd00:10::/64"
	Server4    = "198.18.20.2"
	Server6    = "fd00:20::2"
	ServerGW4  = "198.18.20.1"
	ServerGW6  = "fd00:20::1"
	ServerNet4 = "198.18.20.0/24"
	ServerNet6 = "fd00:20::/64"
	HALo4      = "198.18.0.1"
	HALo6      = "fd00::1"
)

// MaxUplinks is the most uplinks the address plan has room for.
const MaxUplinks = 9

// UplinkAddrs returns the router and home-agent IPv4 and IPv6 addresses of
// uplink i (1-based).
func UplinkAddrs(i int) (mr4, ha4, mr6, ha6 string) {
	return fmt.Sprintf("198.18.%d.2", i), fmt.Sprintf("198.18.%d.1", i),
		fmt.Sprintf("fd00:%d::2", i), fmt.Sprintf("fd00:%d::1", i)
}

// Spec is a topology file.
type Spec struct {
	Name        string       `toml:"name"`
	Description string       `toml:"description"`
	Uplinks     []UplinkSpec `toml:"uplink"`
}

// UplinkSpec is one [[uplink]] of a topology file.
type UplinkSpec struct {
	// Name is the interface name on the router and the home agent (default
	// wan<I>).
	Name string `toml:"name"`
	// Emulate puts the uplink through linkem (default true); false makes
	// it a direct veth with the kernel's default offloads.
	Emulate *bool `toml:"emulate"`
	// Both, Up (router → home agent) and Down (home agent → router) are
	// linkem parameter lists (see linkem.Params.Set); Up and Down apply
	// after Both.
	Both string `toml:"both"`
	Up   string `toml:"up"`
	Down string `toml:"down"`
	// MTU of the uplink veths (default 1500).
	MTU int `toml:"mtu"`
}

// Emulated reports whether the uplink runs through linkem.
func (u UplinkSpec) Emulated() bool { return u.Emulate == nil || *u.Emulate }

// Params returns the linkem parameters of both directions.
func (u UplinkSpec) Params() (up, down linkem.Params, err error) {
	for _, s := range []string{u.Both, u.Up} {
		if err := up.Apply(s); err != nil {
			return up, down, fmt.Errorf("uplink %s up: %w", u.Name, err)
		}
	}
	for _, s := range []string{u.Both, u.Down} {
		if err := down.Apply(s); err != nil {
			return up, down, fmt.Errorf("uplink %s down: %w", u.Name, err)
		}
	}
	return up, down, nil
}

// LoadSpec reads and validates a topology file.
func LoadSpec(path string) (Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, err
	}
	return ParseSpec(path, b)
}

// ParseSpec parses and validates a topology file's contents; name is used
// in errors.
func ParseSpec(name string, b []byte) (Spec, error) {
	var s Spec
	md, err := toml.Decode(string(b), &s)
	if err != nil {
		return Spec{}, fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	for _, k := range md.Undecoded() {
		errs = append(errs, fmt.Errorf("%s: unknown key %s", name, k))
	}
	if err := s.normalize(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	return s, errors.Join(errs...)
}

func (s *Spec) normalize() error {
	var errs []error
	if len(s.Uplinks) == 0 || len(s.Uplinks) > MaxUplinks {
		errs = append(errs, fmt.Errorf("want 1..%d uplinks, have %d", MaxUplinks, len(s.Uplinks)))
	}
	seen := map[string]bool{}
	for i := range s.Uplinks {
		u := &s.Uplinks[i]
		if u.Name == "" {
			u.Name = fmt.Sprintf("wan%d", i+1)
		}
		if len(u.Name) > 15 || strings.ContainsAny(u.Name, " /") || u.Name == "lan0" || u.Name == "srv0" || seen[u.Name] {
			errs = append(errs, fmt.Errorf("uplink %d: bad or duplicate name %q", i+1, u.Name))
		}
		seen[u.Name] = true
		if u.MTU == 0 {
			u.MTU = 1500
		}
		if u.MTU < 1280 || u.MTU > 9000 {
			errs = append(errs, fmt.Errorf("uplink %s: mtu %d out of 1280..9000", u.Name, u.MTU))
		}
		if _, _, err := u.Params(); err != nil {
			errs = append(errs, err)
		}
		if !u.Emulated() && (u.Both != "" || u.Up != "" || u.Down != "") {
			errs = append(errs, fmt.Errorf("uplink %s: link parameters need emulate = true", u.Name))
		}
	}
	return errors.Join(errs...)
}

// Options configure Build.
type Options struct {
	// Prefix starts every namespace name; it must start with RunPrefix()
	// for CleanStale to find leftovers.
	Prefix string
	// Dir holds control sockets and logs (must exist).
	Dir string
	// Linkem is the linkem binary (needed when an uplink is emulated).
	Linkem string
	// Logger receives progress (nil: discard).
	Logger *slog.Logger
}

// Topology is a built set of namespaces.
type Topology struct {
	Spec   Spec
	Prefix string
	dir    string
	log    *slog.Logger

	mu     sync.Mutex
	emus   []*exec.Cmd // per uplink (nil when not emulated)
	closed bool
}

// RunPrefix returns the namespace prefix of this harness process,
// "mbn<pid>-".
func RunPrefix() string { return fmt.Sprintf("mbn%d-", os.Getpid()) }

// NS returns the namespace name of role.
func (t *Topology) NS(role string) string { return t.Prefix + role }

// Control returns the linkem control socket of uplink i (1-based).
func (t *Topology) Control(i int) string {
	return filepath.Join(t.dir, fmt.Sprintf("%slinkem%d.sock", t.Prefix, i))
}

// Build creates the topology. On error everything created is removed.
func Build(ctx context.Context, spec Spec, o Options) (*Topology, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("topo: needs root (network namespaces)")
	}
	if err := spec.normalize(); err != nil {
		return nil, err
	}
	for _, tool := range []string{"ip", "ethtool"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("topo: %s not installed (run bench/deps.sh)", tool)
		}
	}
	t := &Topology{Spec: spec, Prefix: o.Prefix, dir: o.Dir, log: o.Logger, emus: make([]*exec.Cmd, len(spec.Uplinks))}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	deleteNamespaces(t.Prefix, Roles()) // leftovers with the same prefix
	if err := t.build(ctx, o.Linkem); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func (t *Topology) build(ctx context.Context, linkemBin string) error {
	ns := t.NS
	var cmds [][]string
	add := func(argv ...string) { cmds = append(cmds, argv) }
	for _, r := range Roles() {
		add("ip", "netns", "add", ns(r))
	}
	for _, r := range Roles() {
		add("ip", "netns", "exec", ns(r), "sysctl", "-qw",
			"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
			"net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
		add("ip", "-n", ns(r), "link", "set", "lo", "up")
	}
	// The emulator namespace has no IP stack business on its veths.
	add("ip", "netns", "exec", ns(Emu), "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	for _, r := range []string{MR, HA} {
		add("ip", "netns", "exec", ns(r), "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	}
	addr := func(role, dev string, as ...string) {
		for _, a := range as {
			add("ip", "-n", ns(role), "addr", "add", a, "dev", dev, "nodad")
		}
	}
	up := func(role, dev string) { add("ip", "-n", ns(role), "link", "set", dev, "up") }
	add("ip", "link", "add", "lan0", "netns", ns(LAN), "type", "veth", "peer", "name", "lan0", "netns", ns(MR))
	add("ip", "link", "add", "srv0", "netns", ns(HA), "type", "veth", "peer", "name", "srv0", "netns", ns(Server))
	addr(LAN, "lan0", LANHost4+"/24", LANHost6+"/64")
	addr(MR, "lan0", LANGW4+"/24", LANGW6+"/64")
	addr(HA, "srv0", ServerGW4+"/24", ServerGW6+"/64")
	addr(Server, "srv0", Server4+"/24", Server6+"/64")
	addr(HA, "lo", HALo4+"/32", HALo6+"/128")
	up(LAN, "lan0")
	up(MR, "lan0")
	up(HA, "srv0")
	up(Server, "srv0")
	for i, u := range t.Spec.Uplinks {
		n := i + 1
		mr4, ha4, mr6, ha6 := UplinkAddrs(n)
		mtu := strconv.Itoa(u.MTU)
		if u.Emulated() {
			m, h := fmt.Sprintf("m%d", n), fmt.Sprintf("h%d", n)
			add("ip", "link", "add", u.Name, "mtu", mtu, "netns", ns(MR), "type", "veth", "peer", "name", m, "mtu", mtu, "netns", ns(Emu))
			add("ip", "link", "add", u.Name, "mtu", mtu, "netns", ns(HA), "type", "veth", "peer", "name", h, "mtu", mtu, "netns", ns(Emu))
			up(Emu, m)
			up(Emu, h)
			for _, r := range []string{MR, HA} {
				add(append([]string{"ip", "netns", "exec", ns(r), "ethtool"}, linkem.EthtoolArgs(u.Name)...)...)
			}
		} else {
			add("ip", "link", "add", u.Name, "mtu", mtu, "netns", ns(MR), "type", "veth", "peer", "name", u.Name, "mtu", mtu, "netns", ns(HA))
		}
		addr(MR, u.Name, mr4+"/24", mr6+"/64")
		addr(HA, u.Name, ha4+"/24", ha6+"/64")
		up(MR, u.Name)
		up(HA, u.Name)
		metric := strconv.Itoa(100 * n)
		add("ip", "-n", ns(MR), "route", "add", HALo4+"/32", "via", ha4, "dev", u.Name, "metric", metric)
		add("ip", "-n", ns(MR), "route", "add", HALo6+"/128", "via", ha6, "dev", u.Name, "metric", metric)
	}
	add("ip", "-n", ns(LAN), "route", "add", "default", "via", LANGW4)
	add("ip", "-n", ns(LAN), "route", "add", "default", "via", LANGW6)
	add("ip", "-n", ns(Server), "route", "add", "default", "via", ServerGW4)
	add("ip", "-n", ns(Server), "route", "add", "default", "via", ServerGW6)
	for _, c := range cmds {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := Run(c...); err != nil {
			return err
		}
	}
	for i, u := range t.Spec.Uplinks {
		if !u.Emulated() {
			continue
		}
		if err := t.startEmu(ctx, i, linkemBin); err != nil {
			return err
		}
	}
	return nil
}

// startEmu starts linkem for uplink index i and waits for its control
// socket.
func (t *Topology) startEmu(ctx context.Context, i int, bin string) error {
	if bin == "" {
		return errors.New("topo: an emulated uplink needs the linkem binary")
	}
	u := t.Spec.Uplinks[i]
	n := i + 1
	upP, downP, err := u.Params()
	if err != nil {
		return err
	}
	ctl := t.Control(n)
	logf, err := os.Create(filepath.Join(t.dir, fmt.Sprintf("%slinkem%d.log", t.Prefix, n)))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := t.Command(Emu, bin, "-a", fmt.Sprintf("m%d", n), "-b", fmt.Sprintf("h%d", n),
		"-a2b", upP.String(), "-b2a", downP.String(), "-control", ctl, "-seed", strconv.Itoa(n), "-v")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("topo: start linkem: %w", err)
	}
	t.mu.Lock()
	t.emus[i] = cmd
	t.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := linkem.Command(ctl, "params"); err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			b, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("topo: linkem for %s did not come up: %s", u.Name, bytes.TrimSpace(b))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Emulator returns the linkem process of uplink i (1-based), or nil.
func (t *Topology) Emulator(i int) *os.Process {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i < 1 || i > len(t.emus) || t.emus[i-1] == nil {
		return nil
	}
	return t.emus[i-1].Process
}

// SetUplink changes the emulated parameters of uplink i (1-based) live:
// dir is "up" (router → home agent), "down" or "both"; spec is a linkem
// parameter list.
func (t *Topology) SetUplink(i int, dir, spec string) error {
	d := map[string]string{"up": "a2b", "down": "b2a", "both": "both"}[dir]
	if d == "" {
		return fmt.Errorf("topo: direction %q: want up, down or both", dir)
	}
	if i < 1 || i > len(t.Spec.Uplinks) || !t.Spec.Uplinks[i-1].Emulated() {
		return fmt.Errorf("topo: uplink %d is not emulated", i)
	}
	_, err := linkem.Command(t.Control(i), "set "+d+" "+spec)
	return err
}

// UplinkStats returns the emulator counters of uplink i (1-based); a2b is
// the up direction.
func (t *Topology) UplinkStats(i int) (linkem.StatsReply, error) {
	return linkem.QueryStats(t.Control(i))
}

// SetLinkUp sets the router-side interface of uplink i (1-based)
// administratively up or down: a "link down" as the router sees it (the
// carrier of the peer goes too), unlike a silent blackhole in the
// emulator.
func (t *Topology) SetLinkUp(i int, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return Run("ip", "-n", t.NS(MR), "link", "set", t.Spec.Uplinks[i-1].Name, state)
}

// Command returns a command running argv in the namespace of role.
func (t *Topology) Command(role string, argv ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", t.NS(role)}, argv...)...)
}

// Exec runs argv in the namespace of role and returns its combined output.
func (t *Topology) Exec(role string, argv ...string) (string, error) {
	return output(append([]string{"ip", "netns", "exec", t.NS(role)}, argv...)...)
}

// Close stops the emulators, kills every process left in the namespaces
// and deletes them. It is safe to call more than once.
func (t *Topology) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	emus := t.emus
	t.mu.Unlock()
	for _, c := range emus {
		if c != nil && c.Process != nil {
			c.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				c.Process.Kill()
				<-done
			}
		}
	}
	for i := range t.Spec.Uplinks {
		os.Remove(t.Control(i + 1))
	}
	return deleteNamespaces(t.Prefix, Roles())
}

// deleteNamespaces kills the processes in prefix+role for each role and
// deletes the namespaces that exist.
func deleteNamespaces(prefix string, roles []string) error {
	var errs []error
	for _, r := range roles {
		ns := prefix + r
		if _, err := os.Stat("/run/netns/" + ns); err != nil {
			continue
		}
		killIn(ns)
		if err := Run("ip", "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killIn kills every process inside namespace ns and waits briefly for
// them to go.
func killIn(ns string) {
	for range 20 {
		out, _ := output("ip", "netns", "pids", ns)
		pids := strings.Fields(out)
		if len(pids) == 0 {
			return
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil && pid != os.Getpid() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// CleanStale deletes the namespaces (and kills the processes in them) left
// by harness processes that no longer run: names "mbn<pid>-…" whose pid is
// gone. It returns the namespaces it removed.
func CleanStale() []string {
	ents, err := os.ReadDir("/run/netns")
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range ents {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, "mbn")
		if !ok {
			continue
		}
		pidStr, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil {
			continue
		}
		if pid != os.Getpid() && syscall.Kill(pid, 0) == nil {
			continue // its harness is alive
		}
		if pid == os.Getpid() {
			continue
		}
		killIn(name)
		if Run("ip", "netns", "del", name) == nil {
			removed = append(removed, name)
		}
	}
	return removed
}

// CleanOwn deletes every namespace of this harness process (prefix
// RunPrefix()), for exit paths that lost track of their topologies.
func CleanOwn() {
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), RunPrefix()) {
			killIn(e.Name())
			Run("ip", "netns", "del", e.Name())
		}
	}
}

// Run runs argv and returns an error carrying its output if it fails.
func Run(argv ...string) error {
	_, err := output(argv...)
	return err
}

func output(argv ...string) (string, error) {
	var out bytes.Buffer
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}
