// SPDX-License-Identifier: MIT

// Package testbed builds the demo and integration-test topology in Linux
// network namespaces: a LAN host behind a mobile router with two uplinks to a
// home agent, and a server behind the home agent (the address plan is in
// docs/internals.md). It shells out to iproute2, needs root, and uses only
// 198.18.0.0/15 and fd00::/8. Every namespace it creates carries the
// caller's prefix and is deleted by Close, and stale ones from a crashed run
// with the same prefix are removed by Build.
//
// It is used by cmd/monami-demo and by the netns-tagged tests; production
// code never imports it. A Topology is safe for concurrent use.
package testbed

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"text/template"

	"github.com/vishvananda/netns"

	"monami/configs"
)

// Roles of the namespaces.
const (
	LAN    = "lan" // the host behind the mobile router
	MR     = "mr"  // the mobile router
	HA     = "ha"  // the home agent
	Server = "srv" // the server behind the home agent
)

// Addresses of the topology.
const (
	LANHost4    = "198.18.10.2"
	LANHost6    = "fd00:10::2"
	ServerAddr4 = "198.18.20.2"
	ServerAddr6 = "fd00:20::2"
	HAAddr4     = "198.18.0.1"
	HAAddr6     = "fd00::1"
)

// Uplink shapes one uplink: a tbf rate limit in both directions (0: none).
type Uplink struct {
	RateMbit int
}

// Options shape the topology. The zero value gives two unlimited uplinks.
type Options struct {
	Uplinks [2]Uplink
}

// Topology is a built set of namespaces.
type Topology struct {
	Prefix string
}

// Namespace returns the full name of the namespace of role.
func (t *Topology) Namespace(role string) string { return t.Prefix + role }

// Build creates the topology with namespace names prefix+role.
func Build(prefix string, opts Options) (*Topology, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("testbed: must run as root (network namespaces)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, errors.New("testbed: iproute2 (ip) is not installed")
	}
	t := &Topology{Prefix: prefix}
	t.Close() // leftovers of a crashed run
	for _, r := range []string{LAN, MR, HA, Server} {
		if err := run("ip", "netns", "add", t.Namespace(r)); err != nil {
			t.Close()
			return nil, err
		}
	}
	if err := t.setup(opts); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func (t *Topology) setup(opts Options) error {
	lan, mr, ha, srv := t.Namespace(LAN), t.Namespace(MR), t.Namespace(HA), t.Namespace(Server)
	cmds := [][]string{
		{"ip", "link", "add", "lan0", "netns", lan, "type", "veth", "peer", "name", "lan0", "netns", mr},
		{"ip", "link", "add", "wan1", "netns", mr, "type", "veth", "peer", "name", "wan1", "netns", ha},
		{"ip", "link", "add", "wan2", "netns", mr, "type", "veth", "peer", "name", "wan2", "netns", ha},
		{"ip", "link", "add", "srv0", "netns", ha, "type", "veth", "peer", "name", "srv0", "netns", srv},
	}
	for _, ns := range []string{lan, mr, ha, srv} {
		cmds = append(cmds,
			[]string{"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"},
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"})
	}
	for _, ns := range []string{mr, ha} {
		cmds = append(cmds, []string{"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"})
	}
	addr := func(ns, dev string, as ...string) {
		for _, a := range as {
			cmds = append(cmds, []string{"ip", "-n", ns, "addr", "add", a, "dev", dev, "nodad"})
		}
		if dev != "lo" {
			cmds = append(cmds, []string{"ip", "-n", ns, "link", "set", dev, "up"})
		}
	}
	addr(lan, "lan0", "198.18.10.2/24", "fd00:10::2/64")
	addr(mr, "lan0", "198.18.10.1/24", "fd00:10::1/64")
	addr(mr, "wan1", "198.18.1.2/24", "fd00:1::2/64")
	addr(mr, "wan2", "198.18.2.2/24", "fd00:2::2/64")
	addr(ha, "lo", "198.18.0.1/32", "fd00::1/128")
	addr(ha, "wan1", "198.18.1.1/24", "fd00:1::1/64")
	addr(ha, "wan2", "198.18.2.1/24", "fd00:2::1/64")
	addr(ha, "srv0", "198.18.20.1/24", "fd00:20::1/64")
	addr(srv, "srv0", "198.18.20.2/24", "fd00:20::2/64")
	route := func(ns string, args ...string) {
		cmds = append(cmds, append([]string{"ip", "-n", ns, "route", "add"}, args...))
	}
	route(lan, "default", "via", "198.18.10.1")
	route(lan, "default", "via", "fd00:10::1")
	route(srv, "default", "via", "198.18.20.1")
	route(srv, "default", "via", "fd00:20::1")
	// The home agent is reachable over either uplink; a socket bound to an
	// uplink device gets that uplink's route.
	route(mr, "198.18.0.1/32", "via", "198.18.1.1", "dev", "wan1", "metric", "100")
	route(mr, "198.18.0.1/32", "via", "198.18.2.1", "dev", "wan2", "metric", "200")
	route(mr, "fd00::1/128", "via", "fd00:1::1", "dev", "wan1", "metric", "100")
	route(mr, "fd00::1/128", "via", "fd00:2::1", "dev", "wan2", "metric", "200")
	for i, u := range opts.Uplinks {
		if u.RateMbit <= 0 {
			continue
		}
		dev := fmt.Sprintf("wan%d", i+1)
		for _, ns := range []string{mr, ha} {
			// The burst must hold a whole GSO super-packet.
			cmds = append(cmds, []string{"ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
				"rate", fmt.Sprintf("%dmbit", u.RateMbit), "burst", "256kb", "latency", "50ms"})
		}
	}
	for _, c := range cmds {
		if err := run(c...); err != nil {
			return err
		}
	}
	return nil
}

// Close deletes every namespace of the topology (their veths go with them).
func (t *Topology) Close() error {
	var errs []error
	for _, r := range []string{LAN, MR, HA, Server} {
		ns := t.Namespace(r)
		if _, err := os.Stat("/run/netns/" + ns); err != nil {
			continue
		}
		if err := run("ip", "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Command returns a command that runs argv inside the namespace of role.
func (t *Topology) Command(role string, argv ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", t.Namespace(role)}, argv...)...)
}

// Do runs fn on an OS thread switched into the namespace of role. Sockets
// fn creates belong to that namespace and stay there.
func (t *Topology) Do(role string, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	h, err := netns.GetFromName(t.Namespace(role))
	if err != nil {
		return err
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		return err
	}
	defer netns.Set(orig)
	return fn()
}

func run(argv ...string) error {
	var out bytes.Buffer
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Configs are the two daemons' configuration files for the topology.
type Configs struct {
	MR, HA string // file contents
}

var mrTemplate = template.Must(template.New("mr").Parse(`# monami mobile router — generated by testbed for the demo topology
[router]
private_key = "{{.MRPriv}}"
prefixes = ["198.18.10.0/24", "fd00:10::/64"]
state_dir = "@DIR@"
control_socket = "@DIR@/mr.sock"

[home_agent]
public_key = "{{.HAPub}}"
signaling = "198.18.0.1:4433"
data = ["198.18.0.1:4434", "[fd00::1]:4434"]

[tun]
name = "mona0"
mtu = 1420
routes = ["198.18.20.0/24", "fd00:20::/64"]

[data]
cipher = "{{.Cipher}}"

[[uplink]]
name = "wan1"
bid = 1
source = "198.18.1.2"

[[uplink]]
name = "wan2"
bid = 2
source = "fd00:2::2"
`))

var haTemplate = template.Must(template.New("ha").Parse(`# monami home agent — generated by testbed for the demo topology
[home_agent]
private_key = "{{.HAPriv}}"
signaling = "198.18.0.1:4433"
data = ["198.18.0.1:4434", "[fd00::1]:4434"]

[tun]
name = "monaha0"
mtu = 1420

[[mobile_router]]
name = "mr1"
public_key = "{{.MRPub}}"
prefixes = ["198.18.10.0/24", "fd00:10::/64"]
control_socket = "@DIR@/ha-mr1.sock"
`))

// NewConfigs generates fresh key pairs and the two configuration files for
// the topology: uplink 1 (BID 1) runs over IPv4, uplink 2 (BID 2) over IPv6.
func NewConfigs(cipher string) (Configs, error) {
	mrPriv, mrPub, err := configs.GenerateKey()
	if err != nil {
		return Configs{}, err
	}
	haPriv, haPub, err := configs.GenerateKey()
	if err != nil {
		return Configs{}, err
	}
	if cipher == "" {
		cipher = "aes-256-gcm"
	}
	v := map[string]string{
		"MRPriv": configs.FormatPrivateKey(mrPriv), "MRPub": configs.FormatPublicKey(mrPub),
		"HAPriv": configs.FormatPrivateKey(haPriv), "HAPub": configs.FormatPublicKey(haPub),
		"Cipher": cipher,
	}
	var mr, ha strings.Builder
	if err := mrTemplate.Execute(&mr, v); err != nil {
		return Configs{}, err
	}
	if err := haTemplate.Execute(&ha, v); err != nil {
		return Configs{}, err
	}
	return Configs{MR: mr.String(), HA: ha.String()}, nil
}
