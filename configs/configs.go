// SPDX-License-Identifier: MIT

package configs

import (
	"crypto/ed25519"
	"fmt"
	"net/netip"
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
)

// Limits of the keys with a range.
const (
	MinMTU       = 1280 // the IPv6 minimum link MTU
	MaxMTU       = 9000
	MinKeepalive = 100 * time.Millisecond
	MaxKeepalive = 10 * time.Minute
	maxIfName    = 15 // IFNAMSIZ − 1
)

// ciphers are the valid values of data.cipher; the data plane parses them.
var ciphers = []string{"aes-256-gcm", "chacha20-poly1305"}

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

// Uplink is one [[uplink]] of mr.toml: a path to the home agent.
type Uplink struct {
	// Name (name) identifies the uplink in logs, status and metrics.
	// Required, unique among uplinks; 1 to 32 of A-Z a-z 0-9 _ . -.
	Name string
	// Interface (interface) is the network interface the path's socket is
	// bound to. Default Name; a valid interface name, as TUN.Name.
	Interface string
	// BID (bid) is the path's Binding ID. Required, 1 to 65535, unique
	// among uplinks; keep it stable for the uplink.
	BID paths.BID
	// Source (source) is the local address of the path's socket. Optional:
	// if unset, the daemon uses the interface's first address of a family
	// that HomeAgentPeer.Data has. If set, Data must have an endpoint of
	// its family.
	Source netip.Addr
	// Port (port) is the local UDP port. Default 0 (ephemeral). Two
	// uplinks with the same Interface and Source need different ports (or
	// both 0).
	Port uint16
	// Transport (transport) is the path's transport. Default
	// DefaultTransport; only "udp" is supported ("quic" is recognised and
	// refused for now).
	Transport string
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
		if u.Interface == "" {
			u.Interface = u.Name
		}
		if u.Transport == "" {
			u.Transport = DefaultTransport
		}
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

	if len(c.Uplinks) == 0 {
		p.add("uplink", "required: at least one [[uplink]]")
	}
	type socket struct {
		iface  string
		source netip.Addr
		port   uint16
	}
	names := map[string]int{}
	bids := map[paths.BID]int{}
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
		if m := checkIfName(u.Interface); m != "" {
			switch {
			case u.Interface != u.Name:
				p.add(k+".interface", "%s", m)
			case checkName(u.Name) == "": // else the name is reported
				p.add(k+".interface", "%s; set interface, which defaults to the name", m)
			}
		}
		if u.BID == 0 {
			p.add(k+".bid", "required: the uplink's Binding ID, 1 to 65535, unique")
		} else if j, dup := bids[u.BID]; dup {
			p.add(k+".bid", "%d is also the BID of uplink[%d]; BIDs must be unique", u.BID, j)
		} else {
			bids[u.BID] = i
		}
		if u.Source.IsValid() {
			if m := checkSource(u.Source); m != "" {
				p.add(k+".source", "%s", m)
			} else if len(c.HomeAgent.Data) > 0 && !slices.ContainsFunc(c.HomeAgent.Data, func(d netip.AddrPort) bool { return d.Addr().Is4() == u.Source.Is4() }) {
				p.add(k+".source", "no home_agent.data endpoint for %s uplink %s", family(u.Source), u.Name)
			}
		}
		if u.Port != 0 {
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
	}
}

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

func checkTransport(s string) string {
	switch s {
	case "udp":
		return ""
	case "quic":
		return "transport quic is not supported yet; use udp"
	}
	return fmt.Sprintf("%q: want udp", s)
}
