// SPDX-License-Identifier: MIT

package configs

import (
	"crypto/ed25519"
	"fmt"
	"math"
	"net/netip"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"monami/paths"
)

// Defaults of the keys that have one.
const (
	DefaultTUNName   = "monami0"     // tun.name
	DefaultMTU       = 1420          // tun.mtu: 1500 − outer IPv6/UDP (48) − frame (32)
	DefaultCipher    = "aes-256-gcm" // data.cipher
	DefaultKeepalive = 550 * time.Millisecond
	DefaultTransport = "udp" // uplink.transport

	DefaultStateDir      = "/var/lib/monami"     // router.state_dir
	DefaultControlSocket = "/run/monami/mr.sock" // router.control_socket
	DefaultMaxLinks      = 4                     // uplink.max_links of a selecting uplink
	DefaultCapResetDay   = 1                     // uplink.cap_reset_day
)

// Limits of the keys with a range.
const (
	MinMTU       = 1280 // the IPv6 minimum link MTU
	MaxMTU       = 9000
	MinKeepalive = 100 * time.Millisecond
	MaxKeepalive = 10 * time.Minute
	MaxMaxLinks  = 64 // uplink.max_links
	MaxResetDay  = 28 // uplink.cap_reset_day: every month has the day
	maxIfName    = 15 // IFNAMSIZ − 1
	maxGlob      = 64
	maxTag       = 32
	maxSockPath  = 107 // sizeof(sockaddr_un.sun_path) − 1
)

// ciphers are the valid values of data.cipher; the data plane parses them.
var ciphers = []string{"aes-256-gcm", "chacha20-poly1305"}

// linkTypes are the valid values of uplink.type: the Selector types of
// paths/linkmon (which configs must not import), in its order. A test in
// linkmon checks that LinkTypes returns its list.
var linkTypes = [...]string{
	"any", "ethernet", "wifi", "wwan", "cellular", "ppp", "vlan", "veth",
	"dummy", "bridge", "bond", "macvlan", "ipvlan", "vxlan", "wireguard",
	"tun", "loopback",
}

// LinkTypes returns the values uplink.type accepts, which are the
// interface types of paths/linkmon's Selector.Type, in linkmon's order.
// The slice is the caller's.
func LinkTypes() []string { return slices.Clone(linkTypes[:]) }

// preferCriteria are the valid elements of policy.default_prefer.
var preferCriteria = []string{"cost", "delay", "jitter", "loss", "bandwidth"}

// DefaultPrefer returns the default of policy.default_prefer, ["cost",
// "delay"]. The slice is the caller's.
func DefaultPrefer() []string { return []string{"cost", "delay"} }

// MobileRouter is the configuration of the mobile router, monami-mr
// (mr.toml). LoadMobileRouter and ParseMobileRouter return it with the
// defaults applied and validated; it is a plain value.
type MobileRouter struct {
	// File is the name the configuration was loaded from, for messages.
	File string
	// Router is [router]: this router's identity and what it serves.
	Router RouterSection
	// HomeAgent is [home_agent]: who and where the home agent is.
	HomeAgent HomeAgentPeer
	// TUN is [tun].
	TUN TUN
	// Data is [data].
	Data Data
	// Uplinks are the [[uplink]] tables, in file order; at least one.
	Uplinks []Uplink
	// Policy is [policy]: the path-selection policy files.
	Policy Policy
}

// RouterSection is [router] in mr.toml.
type RouterSection struct {
	// PrivateKey is this router's Ed25519 identity. Required: from
	// private_key (the standard base64 of the 32-byte seed) or from the
	// file named by private_key_file (relative to the configuration's
	// directory; not writable by everyone); exactly one of the two.
	PrivateKey ed25519.PrivateKey
	// Prefixes (prefixes) are the mobile network prefixes and home
	// addresses this router serves. Required, at least one; each masked
	// (198.18.10.0/24, not 198.18.10.1/24).
	Prefixes []netip.Prefix
	// StateDir (state_dir) is the directory of the state that survives a
	// restart: the data usage of the uplinks against their caps. Default
	// DefaultStateDir; a relative path is relative to the configuration's
	// directory, and the loaded value is absolute. The daemon creates it.
	StateDir string
	// ControlSocket (control_socket) is the Unix socket on which the
	// daemon serves monamictl. Default DefaultControlSocket; "" (given
	// explicitly) disables it; a relative path is relative to the
	// configuration's directory, and the loaded value is absolute, at
	// most 107 bytes. (The reader applies this default, not setDefaults,
	// because "" is a value.)
	ControlSocket string
}

// Policy is [policy] in mr.toml. The policy files' own language belongs to
// classifier/policy; configs only carries their names.
type Policy struct {
	// Files (files) are the policy files, in order. Optional. A relative
	// name is relative to the configuration's directory; the loaded values
	// are absolute, distinct, and each named a regular file when the
	// configuration was loaded.
	Files []string
	// DefaultPrefer (default_prefer) ranks paths for traffic whose policy
	// states no preference: the characteristics compared in order, each
	// one of "cost", "delay", "jitter", "loss", "bandwidth" (lower is
	// better, but bandwidth: higher). Default DefaultPrefer(); at least
	// one, no repeats.
	DefaultPrefer []string
}

// HomeAgentPeer is [home_agent] in mr.toml.
type HomeAgentPeer struct {
	// PublicKey (public_key) is the home agent's Ed25519 public key,
	// pinned: the standard base64 of its 32 bytes. Required.
	PublicKey ed25519.PublicKey
	// Signaling (signaling) is the home agent's QUIC signaling address.
	// Required; a nonzero port and a specified address.
	Signaling netip.AddrPort
	// Data (data) are the home agent's data-plane endpoints; each uplink
	// sends to the first one of its source's address family. Required, at
	// least one; nonzero ports and specified addresses.
	Data []netip.AddrPort
}

// TUN is [tun]: the daemon's TUN interface.
type TUN struct {
	// Name (name) of the interface. Default DefaultTUNName; 1 to 15
	// bytes, none of them '/', ':' or white space.
	Name string
	// MTU (mtu) of the interface in bytes. Default DefaultMTU; MinMTU to
	// MaxMTU.
	MTU int
	// Addresses (addresses) of the interface itself, each an address with
	// its prefix length (host bits allowed). Optional.
	Addresses []netip.Prefix
	// Routes (routes; mobile router only) are the destinations sent into
	// the tunnel. Optional; each masked. The home agent has none: it routes
	// each mobile router's prefixes into its TUN itself.
	Routes []netip.Prefix
}

// Data is [data]: the data plane.
type Data struct {
	// Cipher (cipher; mobile router only) is the AEAD of the data plane:
	// "aes-256-gcm" or "chacha20-poly1305". Default DefaultCipher on the
	// mobile router; empty on the home agent, which follows each router's
	// choice.
	Cipher string
	// Keepalive (keepalive) is how often an idle path is probed (an
	// authenticated keepalive the peer echoes). It bounds how fast a silent
	// failure of an idle path is found (about 2× this), and costs about
	// 1 kbit/s each way per path at the default; raise it on metered links.
	// Default DefaultKeepalive; MinKeepalive to MaxKeepalive.
	Keepalive Duration
}

// Uplink is one [[uplink]] of mr.toml: a path to the home agent through
// one named interface, or (a selecting uplink, Selecting) one path through
// each interface that Match and Type select, up to MaxLinks of them.
type Uplink struct {
	// Name (name) identifies the uplink in logs, status and metrics.
	// Required, unique among uplinks; 1 to 32 of A-Z a-z 0-9 _ . -.
	Name string
	// Interface (interface) is the network interface the path's socket is
	// bound to. Default Name, unless Match or Type is set: then "", for
	// Interface excludes them. A valid interface name, as TUN.Name.
	Interface string
	// Match (match) selects the interfaces whose names match it, a
	// path.Match pattern ("wwan*", "eth0.*"): 1 to 64 bytes, no '/' or
	// white space. Optional.
	Match string
	// Type (type) selects the interfaces of a kind, one of LinkTypes()
	// ("ethernet", "wifi", "wwan", ...; see paths/linkmon.Selector).
	// Optional. With Match, an interface must match both.
	Type string
	// MaxLinks (max_links) is how many interfaces a selecting uplink uses
	// at most, each with a BID of its own from the range BID to
	// BID+MaxLinks−1 (see BIDFor). Default DefaultMaxLinks for a selecting
	// uplink, 1 to MaxMaxLinks; 0 (and not to be set) for an uplink that
	// names its interface, which has the one BID.
	MaxLinks int
	// BID (bid) is the path's Binding ID, or the first of the range of a
	// selecting uplink. Required, 1 to 65535 (the range too); the BIDs
	// of different uplinks must not overlap. Keep it stable for the
	// uplink.
	BID paths.BID
	// Source (source) is the local address of the path's socket. Optional:
	// if unset, the daemon uses the interface's first address of a family
	// that HomeAgentPeer.Data has. If set, Data must have an endpoint of
	// its family. Not for a selecting uplink.
	Source netip.Addr
	// Port (port) is the local UDP port. Default 0 (ephemeral). Two
	// uplinks with the same Interface and Source need different ports (or
	// both 0).
	Port uint16
	// Transport (transport) is the path's transport. Default
	// DefaultTransport; only "udp" is supported ("quic" is recognised and
	// refused for now).
	Transport string

	// The path characteristics that no probe measures, for the policy.

	// Cost (cost) is what data over the uplink costs, in money per GB
	// (any currency, the same one for every uplink). Default 0; finite
	// and ≥ 0.
	Cost float64
	// Metered (metered) marks an uplink billed or limited by volume, to be
	// spared when another will do. Default false.
	Metered bool
	// CapDaily (cap_daily) and CapMonthly (cap_monthly) are data caps in
	// bytes, counting what the uplink (all its interfaces together) sends
	// and receives, per local calendar day and per month starting on
	// CapResetDay. 0 means no cap, the default. In the file, an integer
	// of bytes or a string of a number and a unit: "500MB", "10GB",
	// "2GiB", "1.5TB" (B; kB or KB, MB, GB, TB, PB in powers of 1000;
	// KiB, MiB, GiB, TiB, PiB in powers of 1024; rounded down to a whole
	// byte).
	CapDaily, CapMonthly uint64
	// CapResetDay (cap_reset_day) is the day of the month on which the
	// monthly cap's count restarts, at local midnight. Default
	// DefaultCapResetDay; 1 to MaxResetDay.
	CapResetDay int
	// Tags (tags) label the uplink for the policy ("cellular",
	// "satellite", "wifi"). Optional; each 1 to 32 of a-z 0-9 _ -, no
	// repeats.
	Tags []string
}

// Selecting reports whether u selects its interfaces by Match or Type,
// rather than naming one.
func (u Uplink) Selecting() bool { return u.Match != "" || u.Type != "" }

// BIDs returns the uplink's range of BIDs: first == last == BID for an
// uplink that names its interface, BID to BID+MaxLinks−1 for a selecting
// one (last is 0 if that passes 65535, which Validate refuses).
func (u Uplink) BIDs() (first, last paths.BID) {
	n := 1
	if u.Selecting() {
		n = max(u.MaxLinks, 1)
	}
	l := int(u.BID) + n - 1
	if l > 65535 {
		return u.BID, 0
	}
	return u.BID, paths.BID(l)
}

// BIDFor returns the BID of the path through interface iface, and false
// if there is none. An uplink that names its interface has only BID, for
// that interface. A selecting uplink gives each interface a BID from its
// range by a stable function of the name, so that an interface keeps its
// BID across restarts and hot-plugs: the 32-bit FNV-1a hash of the name,
// modulo MaxLinks, is the offset into the range to start from; from
// there the first BID that taken does not report is used, wrapping around
// within the range. taken reports the BIDs in use by the uplink's other
// interfaces; nil means none is. BIDFor does not check whether iface
// matches Match and Type; it returns false if every BID of the range is
// taken or u is not valid.
func (u Uplink) BIDFor(iface string, taken func(paths.BID) bool) (paths.BID, bool) {
	free := func(b paths.BID) bool { return taken == nil || !taken(b) }
	first, last := u.BIDs()
	if first == 0 || last == 0 || iface == "" {
		return 0, false
	}
	if !u.Selecting() {
		if iface != u.Interface || !free(first) {
			return 0, false
		}
		return first, true
	}
	n := uint32(last-first) + 1
	h := uint32(2166136261) // FNV-1a offset basis
	for i := 0; i < len(iface); i++ {
		h ^= uint32(iface[i])
		h *= 16777619 // FNV prime
	}
	start := h % n
	for i := range n {
		b := first + paths.BID((start+i)%n)
		if free(b) {
			return b, true
		}
	}
	return 0, false
}

// HomeAgent is the configuration of the home agent, monami-ha (ha.toml).
// LoadHomeAgent and ParseHomeAgent return it with the defaults applied and
// validated; it is a plain value.
type HomeAgent struct {
	// File is the name the configuration was loaded from, for messages.
	File string
	// HomeAgent is [home_agent]: this home agent's identity and addresses.
	HomeAgent HomeAgentSection
	// TUN is [tun]; Routes is always empty.
	TUN TUN
	// Data is [data]; Cipher is always empty.
	Data Data
	// MobileRouters are the [[mobile_router]] tables, in file order; at
	// least one.
	MobileRouters []MobileRouterPeer
}

// HomeAgentSection is [home_agent] in ha.toml.
type HomeAgentSection struct {
	// PrivateKey is this home agent's Ed25519 identity. Required: from
	// private_key or private_key_file, as RouterSection.PrivateKey.
	PrivateKey ed25519.PrivateKey
	// Signaling (signaling) is the QUIC listen address. Required; port 0
	// picks an ephemeral port (for tests).
	Signaling netip.AddrPort
	// Data (data) are the data-plane listen addresses. Required, at least
	// one, distinct, none equal to Signaling. Bind specific addresses, so
	// that replies leave from the address the routers send to.
	Data []netip.AddrPort
}

// MobileRouterPeer is one [[mobile_router]] of ha.toml: a router the home
// agent serves.
type MobileRouterPeer struct {
	// Name (name) identifies the router in logs, status and metrics.
	// Required, unique; 1 to 32 of A-Z a-z 0-9 _ . -.
	Name string
	// PublicKey (public_key) is the router's Ed25519 public key, the
	// standard base64 of its 32 bytes. Required, unique.
	PublicKey ed25519.PublicKey
	// Prefixes (prefixes) are what the router may use as inner source
	// addresses, and what is routed to it. Required, at least one; each
	// masked and overlapping no prefix of another router.
	Prefixes []netip.Prefix
	// ControlSocket (control_socket) is a control socket on the home agent
	// for this router's remote requesters: policies added there are sent
	// to the router over the signaling channel (monamictl -socket PATH
	// policy add ...). Optional, default none; a relative path is relative
	// to the file's directory.
	ControlSocket string
}

// Duration is a time.Duration written in TOML as a string that
// time.ParseDuration accepts: "10s", "1.5s", "250ms", "1m30s".
type Duration struct{ time.Duration }

// UnmarshalText parses a duration such as "1.5s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (like \"10s\" or \"1m30s\")", b)
	}
	d.Duration = v
	return nil
}

// MarshalText formats d as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// setDefaults fills in every key the file left out (the zero values).
func (c *MobileRouter) setDefaults() {
	c.TUN.setDefaults()
	if c.Data.Cipher == "" {
		c.Data.Cipher = DefaultCipher
	}
	if c.Data.Keepalive.Duration == 0 {
		c.Data.Keepalive.Duration = DefaultKeepalive
	}
	for i := range c.Uplinks {
		u := &c.Uplinks[i]
		if u.Interface == "" && !u.Selecting() {
			u.Interface = u.Name
		}
		if u.MaxLinks == 0 && u.Selecting() {
			u.MaxLinks = DefaultMaxLinks
		}
		if u.Transport == "" {
			u.Transport = DefaultTransport
		}
		if u.CapResetDay == 0 {
			u.CapResetDay = DefaultCapResetDay
		}
	}
	if c.Router.StateDir == "" {
		c.Router.StateDir = DefaultStateDir
	}
	if c.Policy.DefaultPrefer == nil {
		c.Policy.DefaultPrefer = DefaultPrefer()
	}
}

// setDefaults fills in every key the file left out (the zero values).
func (c *HomeAgent) setDefaults() {
	c.TUN.setDefaults()
	if c.Data.Keepalive.Duration == 0 {
		c.Data.Keepalive.Duration = DefaultKeepalive
	}
}

func (t *TUN) setDefaults() {
	if t.Name == "" {
		t.Name = DefaultTUNName
	}
	if t.MTU == 0 {
		t.MTU = DefaultMTU
	}
}

// Validate checks c as LoadMobileRouter does after applying the defaults,
// and returns the errors.Join of every problem, each an *Error naming its
// key (with no line). A zero value of a key with a default is an error.
func (c *MobileRouter) Validate() error {
	p := &problems{file: c.File, validating: true}
	c.validate(p)
	return p.err()
}

// Validate checks c as LoadHomeAgent does after applying the defaults; see
// MobileRouter.Validate.
func (c *HomeAgent) Validate() error {
	p := &problems{file: c.File, validating: true}
	c.validate(p)
	return p.err()
}

func (c *MobileRouter) validate(p *problems) {
	checkPrivateKey(p, "router", c.Router.PrivateKey, "monami-mr")
	checkPrefixes(p, "router.prefixes", c.Router.Prefixes, true)
	checkPublicKey(p, "home_agent.public_key", c.HomeAgent.PublicKey, "monami-ha")
	checkRemote(p, "home_agent.signaling", c.HomeAgent.Signaling)
	if len(c.HomeAgent.Data) == 0 {
		p.add("home_agent.data", `required: at least one address:port, like ["198.18.0.1:4434", "[fd00::1]:4434"]`)
	}
	for i, d := range c.HomeAgent.Data {
		checkRemote(p, indexPath("home_agent.data", i), d)
	}
	c.TUN.validate(p)
	for i, r := range c.TUN.Routes {
		checkPrefix(p, indexPath("tun.routes", i), r, true)
	}
	if m := checkCipher(c.Data.Cipher); m != "" {
		p.add("data.cipher", "%s", m)
	}
	if m := checkKeepalive(c.Data.Keepalive.Duration); m != "" {
		p.add("data.keepalive", "%s", m)
	}

	checkDir(p, "router.state_dir", c.Router.StateDir)
	if c.Router.ControlSocket != "" {
		if m := checkSocketPath(c.Router.ControlSocket); m != "" {
			p.add("router.control_socket", "%s", m)
		}
	}

	if len(c.Uplinks) == 0 {
		p.add("uplink", "required: at least one [[uplink]]")
	}
	type socket struct {
		iface  string
		source netip.Addr
		port   uint16
	}
	names := map[string]int{}
	sockets := map[socket]int{}
	for i, u := range c.Uplinks {
		k := indexPath("uplink", i)
		if m := checkName(u.Name); m != "" {
			p.add(k+".name", "%s", m)
		} else if j, dup := names[u.Name]; dup {
			p.add(k+".name", "%q is also the name of uplink[%d]", u.Name, j)
		} else {
			names[u.Name] = i
		}
		c.validateSelection(p, k, u)
		if u.BID == 0 {
			p.add(k+".bid", "required: the uplink's Binding ID, 1 to 65535, unique")
		} else if first, last := u.BIDs(); last == 0 {
			p.add(k+".bid", "the range of %d BIDs from %d passes 65535; lower bid or max_links", u.MaxLinks, first)
		}
		if u.Source.IsValid() {
			if m := checkSource(u.Source); m != "" {
				p.add(k+".source", "%s", m)
			} else if u.Selecting() {
				p.add(k+".source", "a fixed source address is for an uplink that names its interface, not with match or type")
			} else if len(c.HomeAgent.Data) > 0 && !slices.ContainsFunc(c.HomeAgent.Data, func(d netip.AddrPort) bool { return d.Addr().Is4() == u.Source.Is4() }) {
				p.add(k+".source", "no home_agent.data endpoint for %s uplink %s", family(u.Source), u.Name)
			}
		}
		if u.Port != 0 && !u.Selecting() {
			s := socket{u.Interface, u.Source, u.Port}
			if j, dup := sockets[s]; dup {
				p.add(k+".port", "uplink[%d] has the same interface, source and port %d; use another port, or 0", j, u.Port)
			} else {
				sockets[s] = i
			}
		}
		if m := checkTransport(u.Transport); m != "" {
			p.add(k+".transport", "%s", m)
		}
		if m := checkCost(u.Cost); m != "" {
			p.add(k+".cost", "%s", m)
		}
		if m := checkResetDay(int64(u.CapResetDay)); m != "" {
			p.add(k+".cap_reset_day", "%s", m)
		}
		checkWords(p, k+".tags", u.Tags, checkTag)
	}
	c.validateBIDs(p)

	seen := map[string]int{}
	for i, f := range c.Policy.Files {
		k := indexPath("policy.files", i)
		switch j, dup := seen[f]; {
		case f == "":
			p.add(k, "must name a file")
		case !filepath.IsAbs(f):
			p.add(k, "%q: want an absolute path", f)
		case dup:
			p.add(k, "%s is also policy.files[%d]", f, j)
		default:
			seen[f] = i
		}
	}
	if len(c.Policy.DefaultPrefer) == 0 {
		p.add("policy.default_prefer", "required: at least one of %s", strings.Join(preferCriteria, ", "))
	}
	checkWords(p, "policy.default_prefer", c.Policy.DefaultPrefer, checkCriterion)
}

// validateSelection checks how uplink u (at key k) chooses its interfaces.
func (c *MobileRouter) validateSelection(p *problems, k string, u Uplink) {
	if !u.Selecting() {
		if m := checkIfName(u.Interface); m != "" {
			switch {
			case u.Interface != u.Name:
				p.add(k+".interface", "%s", m)
			case checkName(u.Name) == "": // else the name is reported
				p.add(k+".interface", "%s; set interface, which defaults to the name", m)
			}
		}
		if u.MaxLinks != 0 {
			p.add(k+".max_links", "%s", msgMaxLinksNamed)
		}
		return
	}
	if u.Interface != "" {
		p.add(k+".interface", "%s", msgInterfaceAndMatch)
	}
	if u.Match != "" {
		if m := checkGlob(u.Match); m != "" {
			p.add(k+".match", "%s", m)
		}
	}
	if u.Type != "" {
		if m := checkLinkType(u.Type); m != "" {
			p.add(k+".type", "%s", m)
		}
	}
	if m := checkMaxLinks(int64(u.MaxLinks)); m != "" {
		p.add(k+".max_links", "%s", m)
	}
}

// validateBIDs checks that no two uplinks share a BID, reporting each
// uplink against the first earlier one it overlaps.
func (c *MobileRouter) validateBIDs(p *problems) {
	name := func(i int) string {
		if n := c.Uplinks[i].Name; n != "" {
			return n
		}
		return indexPath("uplink", i)
	}
	for i, u := range c.Uplinks {
		f1, l1 := u.BIDs()
		if f1 == 0 || l1 == 0 {
			continue
		}
		for j, o := range c.Uplinks[:i] {
			f2, l2 := o.BIDs()
			if f2 == 0 || l2 == 0 || l1 < f2 || l2 < f1 {
				continue
			}
			k := indexPath("uplink", i) + ".bid"
			if f1 == l1 && f2 == l2 {
				p.add(k, "%d is also the BID of uplink[%d]; BIDs must be unique", u.BID, j)
			} else {
				p.add(k, "%s of %s and %s of %s (uplink[%d]) overlap; each uplink needs BIDs of its own",
					bidRange(f1, l1), name(i), bidRange(f2, l2), name(j), j)
			}
			break
		}
	}
}

func bidRange(first, last paths.BID) string {
	if first == last {
		return fmt.Sprintf("BID %d", first)
	}
	return fmt.Sprintf("BIDs %d to %d", first, last)
}

// Messages shared by reading and Validate.
const (
	msgMaxLinksNamed     = "max_links is for an uplink that selects interfaces with match or type"
	msgInterfaceAndMatch = "give interface, or match and/or type, not both"
)

func (c *HomeAgent) validate(p *problems) {
	checkPrivateKey(p, "home_agent", c.HomeAgent.PrivateKey, "monami-ha")
	if !c.HomeAgent.Signaling.IsValid() {
		p.add("home_agent.signaling", `required: the QUIC listen address:port, like "198.18.0.1:4433"`)
	}
	if len(c.HomeAgent.Data) == 0 {
		p.add("home_agent.data", `required: at least one listen address:port, like ["198.18.0.1:4434", "[fd00::1]:4434"]`)
	}
	seen := map[netip.AddrPort]int{}
	for i, d := range c.HomeAgent.Data {
		k := indexPath("home_agent.data", i)
		switch j, dup := seen[d]; {
		case !d.IsValid():
			p.add(k, `not an address:port, like "198.18.0.1:4434" or "[fd00::1]:4434"`)
		case d.Port() != 0 && d == c.HomeAgent.Signaling:
			p.add(k, "%s is also home_agent.signaling; both are UDP, so use another port", d)
		case dup && d.Port() != 0:
			p.add(k, "%s is also home_agent.data[%d]", d, j)
		default:
			seen[d] = i
		}
	}
	c.TUN.validate(p)
	if len(c.TUN.Routes) > 0 {
		p.add("tun.routes", "the home agent has no routes: it routes each mobile router's prefixes into the TUN itself")
	}
	if c.Data.Cipher != "" {
		p.add("data.cipher", "set the cipher on the mobile router; the home agent follows it")
	}
	if m := checkKeepalive(c.Data.Keepalive.Duration); m != "" {
		p.add("data.keepalive", "%s", m)
	}

	if len(c.MobileRouters) == 0 {
		p.add("mobile_router", "required: at least one [[mobile_router]]")
	}
	names := map[string]int{}
	keys := map[string]int{}
	type owned struct {
		prefix netip.Prefix
		mr     int
	}
	var all []owned
	mrName := func(i int) string {
		if n := c.MobileRouters[i].Name; n != "" {
			return n
		}
		return indexPath("mobile_router", i)
	}
	for i, m := range c.MobileRouters {
		k := indexPath("mobile_router", i)
		if msg := checkName(m.Name); msg != "" {
			p.add(k+".name", "%s", msg)
		} else if j, dup := names[m.Name]; dup {
			p.add(k+".name", "%q is also the name of mobile_router[%d]", m.Name, j)
		} else {
			names[m.Name] = i
		}
		checkPublicKey(p, k+".public_key", m.PublicKey, "monami-mr")
		if len(m.PublicKey) == ed25519.PublicKeySize {
			if j, dup := keys[string(m.PublicKey)]; dup {
				p.add(k+".public_key", "the same key as mobile_router[%d] (%s); each router needs its own", j, mrName(j))
			} else {
				keys[string(m.PublicKey)] = i
			}
		}
		checkPrefixes(p, k+".prefixes", m.Prefixes, true)
		for j, pf := range m.Prefixes {
			if !pf.IsValid() {
				continue
			}
			for _, o := range all {
				if o.mr != i && o.prefix.Overlaps(pf) {
					p.add(indexPath(k+".prefixes", j), "%s of %s overlaps %s of %s (mobile_router[%d]); each address must belong to one router",
						pf, mrName(i), o.prefix, mrName(o.mr), o.mr)
				}
			}
		}
		for _, pf := range m.Prefixes {
			if pf.IsValid() {
				all = append(all, owned{pf, i})
			}
		}
	}
}

func (t *TUN) validate(p *problems) {
	if m := checkIfName(t.Name); m != "" {
		p.add("tun.name", "%s", m)
	}
	if m := checkMTU(int64(t.MTU)); m != "" {
		p.add("tun.mtu", "%s", m)
	}
	for i, a := range t.Addresses {
		checkPrefix(p, indexPath("tun.addresses", i), a, false)
	}
}

func checkPrivateKey(p *problems, table string, k ed25519.PrivateKey, prog string) {
	switch len(k) {
	case 0:
		p.add(table+".private_key", "required: private_key or private_key_file (make a key pair with `%s genkey`)", prog)
	case ed25519.PrivateKeySize:
	default:
		p.add(table+".private_key", "not an Ed25519 private key (%d bytes, want %d)", len(k), ed25519.PrivateKeySize)
	}
}

func checkPublicKey(p *problems, key string, k ed25519.PublicKey, prog string) {
	switch len(k) {
	case 0:
		p.add(key, "required: the peer's Ed25519 public key, base64 (from `%s genkey`)", prog)
	case ed25519.PublicKeySize:
	default:
		p.add(key, "not an Ed25519 public key (%d bytes, want %d)", len(k), ed25519.PublicKeySize)
	}
}

// checkRemote checks an endpoint the mobile router sends to.
func checkRemote(p *problems, key string, ap netip.AddrPort) {
	switch {
	case !ap.IsValid():
		p.add(key, `required: the home agent's address:port, like "198.18.0.1:4433" or "[fd00::1]:4433"`)
	case ap.Addr().IsUnspecified() || ap.Addr().IsMulticast():
		p.add(key, "%s is not a unicast address; give the home agent's address", ap.Addr())
	case ap.Port() == 0:
		p.add(key, "the port must be between 1 and 65535")
	}
}

func checkPrefixes(p *problems, key string, ps []netip.Prefix, masked bool) {
	if len(ps) == 0 {
		p.add(key, `required: at least one prefix, like ["198.18.10.0/24", "fd00:10::/64"]`)
	}
	for i, pf := range ps {
		checkPrefix(p, indexPath(key, i), pf, masked)
	}
}

func checkPrefix(p *problems, key string, pf netip.Prefix, masked bool) {
	switch {
	case !pf.IsValid():
		p.add(key, `not a prefix (address/length, like "198.18.10.0/24")`)
	case masked && pf.Masked() != pf:
		p.add(key, "%s has host bits set; did you mean %s?", pf, pf.Masked())
	}
}

func checkSource(a netip.Addr) string {
	switch {
	case a.Zone() != "":
		return fmt.Sprintf("%s: want an address without a zone (the interface is the uplink's)", a)
	case a.IsUnspecified() || a.IsMulticast():
		return fmt.Sprintf("%s is not a unicast address", a)
	}
	return ""
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

// The check functions return "" or what is wrong with a value and what
// would be valid. Reading uses them for explicit values that setDefaults
// would otherwise replace; Validate for every value.

func checkName(s string) string {
	switch {
	case s == "":
		return "required: 1 to 32 of A-Z a-z 0-9 _ . -"
	case !nameRE.MatchString(s):
		return fmt.Sprintf("%q: want 1 to 32 of A-Z a-z 0-9 _ . -", s)
	}
	return ""
}

// checkIfName checks a Linux interface name (dev_valid_name).
func checkIfName(s string) string {
	if s == "" || len(s) > maxIfName || s == "." || s == ".." || strings.ContainsAny(s, "/: \t\n\v\f\r") {
		return fmt.Sprintf("%q is not an interface name: want 1 to %d bytes, none of them '/', ':' or white space", s, maxIfName)
	}
	return ""
}

func checkMTU(v int64) string {
	if v < MinMTU || v > MaxMTU {
		return fmt.Sprintf("must be between %d and %d, not %d", MinMTU, MaxMTU, v)
	}
	return ""
}

func checkKeepalive(d time.Duration) string {
	if d < MinKeepalive || d > MaxKeepalive {
		return fmt.Sprintf("must be between 1s and 10m, not %s", d)
	}
	return ""
}

func checkCipher(s string) string {
	if !slices.Contains(ciphers, s) {
		return fmt.Sprintf("%q: want one of %s", s, strings.Join(ciphers, ", "))
	}
	return ""
}

// checkDir checks a directory path after loading (absolute).
func checkDir(p *problems, key, dir string) {
	switch {
	case dir == "":
		p.add(key, "must name a directory")
	case !filepath.IsAbs(dir):
		p.add(key, "%q: want an absolute path", dir)
	}
}

func checkSocketPath(s string) string {
	switch {
	case !filepath.IsAbs(s):
		return fmt.Sprintf("%q: want an absolute path", s)
	case len(s) > maxSockPath:
		return fmt.Sprintf("%s is too long for a Unix socket: %d bytes, at most %d", s, len(s), maxSockPath)
	}
	return ""
}

func checkGlob(s string) string {
	if s == "" || len(s) > maxGlob || strings.ContainsAny(s, "/ \t\n\v\f\r") {
		return fmt.Sprintf("%q: want a pattern of interface names like \"wwan*\": 1 to %d bytes, no '/' or white space", s, maxGlob)
	}
	if _, err := path.Match(s, ""); err != nil {
		return fmt.Sprintf("%q is not a valid pattern (path.Match: * ? [a-z] \\x)", s)
	}
	return ""
}

func checkLinkType(s string) string {
	if !slices.Contains(linkTypes[:], s) {
		return fmt.Sprintf("%q: want one of %s", s, strings.Join(linkTypes[:], ", "))
	}
	return ""
}

func checkMaxLinks(v int64) string {
	if v < 1 || v > MaxMaxLinks {
		return fmt.Sprintf("must be between 1 and %d, not %d", MaxMaxLinks, v)
	}
	return ""
}

func checkResetDay(v int64) string {
	if v < 1 || v > MaxResetDay {
		return fmt.Sprintf("must be a day of the month between 1 and %d, not %d", MaxResetDay, v)
	}
	return ""
}

func checkCost(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return fmt.Sprintf("must be a finite number ≥ 0 (money per GB), not %v", v)
	}
	return ""
}

var tagRE = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

func checkTag(s string) string {
	if !tagRE.MatchString(s) {
		return fmt.Sprintf("%q: want 1 to %d of a-z 0-9 _ -", s, maxTag)
	}
	return ""
}

func checkCriterion(s string) string {
	if !slices.Contains(preferCriteria, s) {
		return fmt.Sprintf("%q: want one of %s", s, strings.Join(preferCriteria, ", "))
	}
	return ""
}

// checkWords checks a list of words (tags, criteria) with check, and that
// none is repeated.
func checkWords(p *problems, key string, ws []string, check func(string) string) {
	seen := map[string]int{}
	for i, w := range ws {
		k := indexPath(key, i)
		if m := check(w); m != "" {
			p.add(k, "%s", m)
		} else if j, dup := seen[w]; dup {
			p.add(k, "%q is also %s", w, indexPath(key[strings.LastIndexByte(key, '.')+1:], j))
		} else {
			seen[w] = i
		}
	}
}

func checkTransport(s string) string {
	switch s {
	case "udp":
		return ""
	case "quic":
		return "transport quic is not supported yet; use udp"
	}
	return fmt.Sprintf("%q: want udp", s)
}
