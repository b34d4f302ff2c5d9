// SPDX-License-Identifier: MIT

// Package anchor sets up, on a built topology (bench/topo), each system the
// benchmarks compare:
//
//   - none: no tunnel; the LAN host reaches the server by plain routing
//     through the router and the home agent over uplink 1;
//   - wireguard-go: one WireGuard tunnel (bench/cmd/wgtun, wireguard-go's
//     device package, MTU 1420) between router and home agent over uplink
//     1, routing LAN ↔ server;
//   - mptcp: kernel MPTCP between the router and the home agent over every
//     uplink (one subflow endpoint per extra uplink, source routing per
//     uplink); traffic runs router → home agent, not LAN → server;
//   - monami: the real bin/monami-mr and bin/monami-ha with generated keys
//     and configs, every uplink a path.
//
// Start returns an Instance saying where the traffic client and server
// run, which processes are the tunnel (for CPU accounting), and how to stop
// it. Part of the benchmark harness; nothing outside bench imports it.
// Functions are safe for concurrent use on distinct topologies.
package anchor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"monami/bench/topo"
)

// Kind names a system.
type Kind string

// Systems.
const (
	None      Kind = "none"
	Wireguard Kind = "wireguard-go"
	MPTCP     Kind = "mptcp"
	Monami    Kind = "monami"
)

// Label is the name shown in reports.
func (k Kind) Label() string {
	if k == None {
		return "no tunnel"
	}
	return string(k)
}

// ErrNotBuilt means the monami binaries are missing.
var ErrNotBuilt = errors.New("not built")

// Bins are the binaries anchors run.
type Bins struct {
	Wgtun              string
	MonamiMR, MonamiHA string // empty or missing: monami is not built
}

// Env is what Start needs besides the topology.
type Env struct {
	Bins   Bins
	Dir    string // configs and logs go here
	Cipher string // monami's data cipher (default aes-256-gcm)
	// MRConfig, if set, rewrites monami's generated router configuration
	// (tests add policies, costs and tags with it).
	MRConfig func(string) string
}

// Instance is a running system on a topology.
type Instance struct {
	Kind Kind
	// ClientRole and ServerRole are the namespaces the traffic client and
	// server run in; ServerAddr (IPv4) is what the client targets.
	ClientRole, ServerRole string
	ServerAddr             string
	// MPTCP: the traffic must use MPTCP sockets.
	MPTCP bool
	// Pids are the tunnel daemons, for CPU accounting (none for kernel
	// systems).
	Pids []int
	// Logs are the daemons' log files.
	Logs  []string
	procs []*exec.Cmd
	stops []func()
}

// Start sets up kind on t and waits until the client can reach the server.
func Start(ctx context.Context, kind Kind, t *topo.Topology, env Env) (*Instance, error) {
	in := &Instance{Kind: kind, ClientRole: topo.LAN, ServerRole: topo.Server, ServerAddr: topo.Server4}
	var err error
	switch kind {
	case None:
		err = in.startNone(t)
	case Wireguard:
		err = in.startWireguard(t, env)
	case MPTCP:
		err = in.startMPTCP(t)
	case Monami:
		err = in.startMonami(ctx, t, env)
	default:
		err = fmt.Errorf("anchor: unknown system %q", kind)
	}
	if err == nil {
		err = in.waitReachable(ctx, t)
	}
	if err != nil {
		in.Stop()
		return nil, err
	}
	return in, nil
}

// Stop stops the daemons (SIGTERM, then SIGKILL after 3 s).
func (in *Instance) Stop() {
	for _, c := range in.procs {
		if c.Process == nil {
			continue
		}
		c.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			c.Process.Kill()
			<-done
		}
	}
	in.procs = nil
	for _, s := range in.stops {
		s()
	}
	in.stops = nil
}

// Alive reports whether every daemon still runs, with the log tail of one
// that died.
func (in *Instance) Alive() error {
	for i, c := range in.procs {
		if !running(c.Process.Pid) {
			b, _ := os.ReadFile(in.Logs[i])
			return fmt.Errorf("%s exited: %s", filepath.Base(c.Path), tail(string(b), 1500))
		}
	}
	return nil
}

// running reports whether pid exists and is not a zombie (the daemons are
// reaped only by Stop).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// spawn starts argv in role, logging to dir/name.log.
func (in *Instance) spawn(t *topo.Topology, dir, name, role string, argv ...string) error {
	logPath := filepath.Join(dir, t.Prefix+name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := t.Command(role, argv...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	lf.Close() // the child has its own descriptor
	in.procs = append(in.procs, cmd)
	in.Logs = append(in.Logs, logPath)
	// ip netns exec execs the program: the pid is the daemon's.
	in.Pids = append(in.Pids, cmd.Process.Pid)
	return nil
}

func (in *Instance) startNone(t *topo.Topology) error {
	mr4, ha4, mr6, ha6 := topo.UplinkAddrs(1)
	dev := t.Spec.Uplinks[0].Name
	for _, c := range [][]string{
		{"ip", "-n", t.NS(topo.MR), "route", "add", topo.ServerNet4, "via", ha4, "dev", dev},
		{"ip", "-n", t.NS(topo.MR), "route", "add", topo.ServerNet6, "via", ha6, "dev", dev},
		{"ip", "-n", t.NS(topo.HA), "route", "add", topo.LANNet4, "via", mr4, "dev", dev},
		{"ip", "-n", t.NS(topo.HA), "route", "add", topo.LANNet6, "via", mr6, "dev", dev},
	} {
		if err := topo.Run(c...); err != nil {
			return err
		}
	}
	return nil
}

func (in *Instance) startWireguard(t *topo.Topology, env Env) error {
	if env.Bins.Wgtun == "" {
		return errors.New("anchor: wgtun binary not given")
	}
	keys := func() (priv, pub string, err error) {
		out, err := exec.Command(env.Bins.Wgtun, "genkey").Output()
		if err != nil {
			return "", "", fmt.Errorf("wgtun genkey: %w", err)
		}
		for l := range strings.Lines(string(out)) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "private="); ok {
				priv = v
			}
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "public="); ok {
				pub = v
			}
		}
		return priv, pub, nil
	}
	mrPriv, mrPub, err := keys()
	if err != nil {
		return err
	}
	haPriv, haPub, err := keys()
	if err != nil {
		return err
	}
	// TUN names are unique per topology; no UAPI socket is used, so they
	// need not be unique across namespaces, but it keeps logs clear.
	if err := in.spawn(t, env.Dir, "wgtun-ha", topo.HA, env.Bins.Wgtun, "-tun", "wgha", "-mtu", "1420",
		"-key", haPriv, "-peer", mrPub, "-listen", "51820",
		"-allowed", topo.LANNet4+","+topo.LANNet6); err != nil {
		return err
	}
	return in.spawn(t, env.Dir, "wgtun-mr", topo.MR, env.Bins.Wgtun, "-tun", "wgmr", "-mtu", "1420",
		"-key", mrPriv, "-peer", haPub, "-listen", "51821", "-endpoint", topo.HALo4+":51820",
		"-allowed", topo.ServerNet4+","+topo.ServerNet6)
}

func (in *Instance) startMPTCP(t *topo.Topology) error {
	in.ClientRole, in.ServerRole, in.ServerAddr, in.MPTCP = topo.MR, topo.HA, topo.HALo4, true
	n := len(t.Spec.Uplinks)
	lim := fmt.Sprint(max(n, 2))
	cmds := [][]string{
		{"ip", "-n", t.NS(topo.MR), "mptcp", "limits", "set", "subflow", lim, "add_addr_accepted", lim},
		{"ip", "-n", t.NS(topo.HA), "mptcp", "limits", "set", "subflow", lim, "add_addr_accepted", lim},
		{"ip", "netns", "exec", t.NS(topo.MR), "sysctl", "-qw", "net.mptcp.enabled=1"},
		{"ip", "netns", "exec", t.NS(topo.HA), "sysctl", "-qw", "net.mptcp.enabled=1"},
	}
	for i, u := range t.Spec.Uplinks {
		k := i + 1
		mr4, ha4, _, _ := topo.UplinkAddrs(k)
		table := fmt.Sprint(100 + k)
		// Source routing: a subflow from uplink k's address leaves on it.
		cmds = append(cmds,
			[]string{"ip", "-n", t.NS(topo.MR), "rule", "add", "from", mr4, "table", table},
			[]string{"ip", "-n", t.NS(topo.MR), "route", "add", topo.HALo4 + "/32", "via", ha4, "dev", u.Name, "table", table},
		)
		if k > 1 {
			cmds = append(cmds, []string{"ip", "-n", t.NS(topo.MR), "mptcp", "endpoint", "add", mr4, "dev", u.Name, "subflow"})
		}
	}
	for _, c := range cmds {
		if err := topo.Run(c...); err != nil {
			return err
		}
	}
	return nil
}

// genkey runs "<bin> genkey" and returns the private_key and public_key
// values it prints.
func genkey(bin string) (priv, pub string, err error) {
	out, err := exec.Command(bin, "genkey").Output()
	if err != nil {
		return "", "", fmt.Errorf("%s genkey: %w", filepath.Base(bin), err)
	}
	for l := range strings.Lines(string(out)) {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		switch strings.TrimSpace(k) {
		case "private_key":
			priv = v
		case "public_key":
			pub = v
		}
	}
	if priv == "" || pub == "" {
		return "", "", fmt.Errorf("%s genkey: no private_key/public_key in %q", filepath.Base(bin), out)
	}
	return priv, pub, nil
}

// Built reports whether the monami binaries exist.
func (b Bins) Built() bool {
	for _, p := range []string{b.MonamiMR, b.MonamiHA} {
		if p == "" {
			return false
		}
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// MonamiConfigs returns the router and home-agent configuration files for
// topology spec s, with the given keys and cipher: every uplink is a path
// (BID = its index) over IPv4 to the home agent's loopback.
func MonamiConfigs(s topo.Spec, mrPriv, mrPub, haPriv, haPub, cipher string) (mr, ha string) {
	if cipher == "" {
		cipher = "aes-256-gcm"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# generated by bench/anchor for topology %q
[router]
private_key = %q
prefixes = [%q, %q]

[home_agent]
public_key = %q
signaling = "%s:4433"
data = ["%s:4434"]

[tun]
name = "mona0"
mtu = 1420
routes = [%q, %q]

[data]
cipher = %q
`, s.Name, mrPriv, topo.LANNet4, topo.LANNet6, haPub, topo.HALo4, topo.HALo4, topo.ServerNet4, topo.ServerNet6, cipher)
	for i, u := range s.Uplinks {
		mr4, _, _, _ := topo.UplinkAddrs(i + 1)
		fmt.Fprintf(&b, "\n[[uplink]]\nname = %q\ninterface = %q\nbid = %d\nsource = %q\n", u.Name, u.Name, i+1, mr4)
	}
	mr = b.String()
	ha = fmt.Sprintf(`# generated by bench/anchor for topology %q
[home_agent]
private_key = %q
signaling = "%s:4433"
data = ["%s:4434"]

[tun]
name = "monaha0"
mtu = 1420

[[mobile_router]]
name = "mr1"
public_key = %q
prefixes = [%q, %q]
`, s.Name, haPriv, topo.HALo4, topo.HALo4, mrPub, topo.LANNet4, topo.LANNet6)
	return mr, ha
}

func (in *Instance) startMonami(ctx context.Context, t *topo.Topology, env Env) error {
	if !env.Bins.Built() {
		return ErrNotBuilt
	}
	mrPriv, mrPub, err := genkey(env.Bins.MonamiMR)
	if err != nil {
		return err
	}
	haPriv, haPub, err := genkey(env.Bins.MonamiHA)
	if err != nil {
		return err
	}
	mrCfg, haCfg := MonamiConfigs(t.Spec, mrPriv, mrPub, haPriv, haPub, env.Cipher)
	// The router keeps its data usage in the run's directory, and has no
	// control socket unless a test's MRConfig gives it one.
	mrCfg = strings.Replace(mrCfg, "[router]\n", fmt.Sprintf("[router]\nstate_dir = %q\ncontrol_socket = \"\"\n", filepath.Join(env.Dir, t.Prefix+"state")), 1)
	if env.MRConfig != nil {
		mrCfg = env.MRConfig(mrCfg)
	}
	mrPath := filepath.Join(env.Dir, t.Prefix+"mr.toml")
	haPath := filepath.Join(env.Dir, t.Prefix+"ha.toml")
	if err := os.WriteFile(mrPath, []byte(mrCfg), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(haPath, []byte(haCfg), 0o600); err != nil {
		return err
	}
	if err := in.spawn(t, env.Dir, "monami-ha", topo.HA, env.Bins.MonamiHA, "-config", haPath); err != nil {
		return err
	}
	return in.spawn(t, env.Dir, "monami-mr", topo.MR, env.Bins.MonamiMR, "-config", mrPath)
}

// waitReachable pings the server from the client namespace until it
// answers (tunnels come up, ARP/NDP resolve through the emulators).
func (in *Instance) waitReachable(ctx context.Context, t *topo.Topology) error {
	deadline := time.Now().Add(20 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if err := in.Alive(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_, last = t.Exec(in.ClientRole, "ping", "-c", "1", "-W", "1", "-q", in.ServerAddr)
		if last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("anchor %s: %s unreachable from %s after 20 s: %w", in.Kind, in.ServerAddr, in.ClientRole, last)
}
