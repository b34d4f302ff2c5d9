// SPDX-License-Identifier: MIT

package configs

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"monami/paths"
)

// Defaults.
const (
	DefaultTUNName   = "monami0"
	DefaultMTU       = 1420
	DefaultCipher    = "aes-256-gcm"
	DefaultKeepalive = 10 * time.Second
)

// Ciphers are the valid values of data.cipher.
var Ciphers = []string{"aes-256-gcm", "chacha20-poly1305"}

// MobileRouter is the configuration of monami-mr (mr.toml).
type MobileRouter struct {
	File      string // the file it was loaded from
	Router    RouterSection
	HomeAgent HomeAgentPeer
	TUN       TUN
	Data      Data
	Uplinks   []Uplink
}

// RouterSection is [router]: the router's identity and what it serves.
type RouterSection struct {
	// PrivateKey is the router's Ed25519 identity (private_key, or the file
	// named by private_key_file). Required.
	PrivateKey ed25519.PrivateKey
	// Prefixes are the mobile network prefixes / home addresses the router
	// serves (prefixes); masked; at least one.
	Prefixes []netip.Prefix
}

// HomeAgentPeer is [home_agent] in mr.toml: where and who the home agent is.
type HomeAgentPeer struct {
	// PublicKey is the home agent's pinned Ed25519 key (public_key). Required.
	PublicKey ed25519.PublicKey
	// Signaling is the home agent's QUIC signaling address (signaling). Required.
	Signaling netip.AddrPort
	// Data are the home agent's data-plane endpoints (data); each uplink
	// uses the first of its address family. At least one.
	Data []netip.AddrPort
}

// TUN is [tun].
type TUN struct {
	// Name of the TUN interface (name); default "monami0"; at most 15 bytes.
	Name string
	// MTU of the TUN (mtu); default 1420; 1280..9000.
	MTU int
	// Addresses of the TUN itself (addresses), with prefix length; optional.
	Addresses []netip.Prefix
	// Routes sent into the tunnel (routes; mobile router only); masked.
	Routes []netip.Prefix
}

// Data is [data]: the data plane.
type Data struct {
	// Cipher is the AEAD (cipher): "aes-256-gcm" (default) or
	// "chacha20-poly1305". Mobile router only; the home agent follows it.
	Cipher string
	// Keepalive is the idle keepalive interval (keepalive); default 10s;
	// 1s..10m.
	Keepalive Duration
}

// Uplink is one [[uplink]]: a path of the mobile router.
type Uplink struct {
	// Name identifies the uplink in logs and status (name); required,
	// unique, [A-Za-z0-9_.-]{1,32}.
	Name string
	// Interface is the network interface the path's socket is bound to
	// (interface); default Name.
	Interface string
	// BID is the path's Binding ID (bid); required, 1..65535, unique.
	BID paths.BID
	// Source is the local address (source); default: the interface's first
	// address of a family the home agent listens on.
	Source netip.Addr
	// Port is the local UDP port (port); default 0 (ephemeral).
	Port uint16
	// Transport is "udp" (transport; default). "quic" is not supported yet.
	Transport string
}

// HomeAgent is the configuration of monami-ha (ha.toml).
type HomeAgent struct {
	File          string
	HomeAgent     HomeAgentSection
	TUN           TUN
	Data          Data
	MobileRouters []MobileRouterPeer
}

// HomeAgentSection is [home_agent] in ha.toml.
type HomeAgentSection struct {
	// PrivateKey is the home agent's identity (private_key or private_key_file).
	PrivateKey ed25519.PrivateKey
	// Signaling is the QUIC listen address (signaling). Required.
	Signaling netip.AddrPort
	// Data are the data-plane listen addresses (data). At least one.
	Data []netip.AddrPort
}

// MobileRouterPeer is one [[mobile_router]] the home agent serves.
type MobileRouterPeer struct {
	// Name (name); required, unique.
	Name string
	// PublicKey (public_key); required, unique.
	PublicKey ed25519.PublicKey
	// Prefixes the router may use (prefixes); masked, at least one, no
	// overlap with another router's.
	Prefixes []netip.Prefix
}

// Duration is a time.Duration written as a string ("1.5s", "250ms").
type Duration struct{ time.Duration }

// raw forms: what the TOML decodes into before conversion, so every bad
// value can be reported, not just the first.
type (
	rawMR struct {
		Router    rawRouter   `toml:"router"`
		HomeAgent rawHAPeer   `toml:"home_agent"`
		TUN       rawTUN      `toml:"tun"`
		Data      rawData     `toml:"data"`
		Uplinks   []rawUplink `toml:"uplink"`
	}
	rawRouter struct {
		PrivateKey     *string  `toml:"private_key"`
		PrivateKeyFile *string  `toml:"private_key_file"`
		Prefixes       []string `toml:"prefixes"`
	}
	rawHAPeer struct {
		PublicKey *string  `toml:"public_key"`
		Signaling *string  `toml:"signaling"`
		Data      []string `toml:"data"`
	}
	rawTUN struct {
		Name      *string  `toml:"name"`
		MTU       *int64   `toml:"mtu"`
		Addresses []string `toml:"addresses"`
		Routes    []string `toml:"routes"`
	}
	rawData struct {
		Cipher    *string `toml:"cipher"`
		Keepalive *string `toml:"keepalive"`
	}
	rawUplink struct {
		Name      *string `toml:"name"`
		Interface *string `toml:"interface"`
		BID       *int64  `toml:"bid"`
		Source    *string `toml:"source"`
		Port      *int64  `toml:"port"`
		Transport *string `toml:"transport"`
	}
	rawHA struct {
		HomeAgent     rawHASection `toml:"home_agent"`
		TUN           rawTUN       `toml:"tun"`
		Data          rawData      `toml:"data"`
		MobileRouters []rawMRPeer  `toml:"mobile_router"`
	}
	rawHASection struct {
		PrivateKey     *string  `toml:"private_key"`
		PrivateKeyFile *string  `toml:"private_key_file"`
		Signaling      *string  `toml:"signaling"`
		Data           []string `toml:"data"`
	}
	rawMRPeer struct {
		Name      *string  `toml:"name"`
		PublicKey *string  `toml:"public_key"`
		Prefixes  []string `toml:"prefixes"`
	}
)

// LoadMobileRouter reads and validates a mobile router configuration.
func LoadMobileRouter(path string) (*MobileRouter, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseMR(path, b, filepath.Dir(path))
}

// ParseMobileRouter validates a mobile router configuration held in data;
// name is used in errors, and relative key files are read from the
// current directory.
func ParseMobileRouter(name string, data []byte) (*MobileRouter, error) {
	return parseMR(name, data, ".")
}

// LoadHomeAgent reads and validates a home agent configuration.
func LoadHomeAgent(path string) (*HomeAgent, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseHA(path, b, filepath.Dir(path))
}

// ParseHomeAgent validates a home agent configuration held in data.
func ParseHomeAgent(name string, data []byte) (*HomeAgent, error) {
	return parseHA(name, data, ".")
}

// decode decodes src into v and reports syntax errors, type errors and
// unknown keys.
func decode(p *problems, src []byte, v any, known map[string][]string) bool {
	md, err := toml.NewDecoder(bytes.NewReader(src)).Decode(v)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			msg := pe.Message
			if pe.Usage != "" {
				msg += " (" + strings.TrimSpace(strings.SplitN(pe.Usage, "\n", 2)[0]) + ")"
			}
			p.errs = append(p.errs, &Error{File: p.file, Line: pe.Position.Line, Key: pe.LastKey, Msg: msg})
		} else if m := typeErr.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			p.errs = append(p.errs, &Error{File: p.file, Line: line, Key: m[2], Msg: m[3]})
		} else {
			p.errs = append(p.errs, &Error{File: p.file, Msg: strings.TrimPrefix(err.Error(), "toml: ")})
		}
		return false
	}
	for _, k := range md.Undecoded() {
		// Place the key: for arrays of tables, find the element whose
		// table holds it.
		key := strings.Join(k, ".")
		if len(k) >= 2 && md.Type(k[0]) == "ArrayHash" {
			rest := strings.Join(k[1:], ".")
			key = k[0] + "[0]." + rest
			for n := 0; n < 1024; n++ {
				cand := fmt.Sprintf("%s[%d].%s", k[0], n, rest)
				if _, ok := p.lines[cand]; ok {
					key = cand
					break
				}
				if _, ok := p.lines[fmt.Sprintf("%s[%d]", k[0], n)]; !ok {
					break
				}
			}
		}
		msg := "unknown key"
		parent := strings.Join(k[:len(k)-1], ".")
		if s := suggest(k[len(k)-1], known[parent]); s != "" {
			msg += "; did you mean " + s + "?"
		} else if len(known[parent]) > 0 {
			msg += "; valid keys here: " + strings.Join(known[parent], ", ")
		}
		p.add(key, "%s", msg)
	}
	return true
}

var knownMR = map[string][]string{
	"":           {"router", "home_agent", "tun", "data", "uplink"},
	"router":     {"private_key", "private_key_file", "prefixes"},
	"home_agent": {"public_key", "signaling", "data"},
	"tun":        {"name", "mtu", "addresses", "routes"},
	"data":       {"cipher", "keepalive"},
	"uplink":     {"name", "interface", "bid", "source", "port", "transport"},
}

var knownHA = map[string][]string{
	"":              {"home_agent", "tun", "data", "mobile_router"},
	"home_agent":    {"private_key", "private_key_file", "signaling", "data"},
	"tun":           {"name", "mtu", "addresses"},
	"data":          {"keepalive"},
	"mobile_router": {"name", "public_key", "prefixes"},
}

func parseMR(name string, src []byte, dir string) (*MobileRouter, error) {
	p := &problems{file: name, lines: indexLines(src)}
	var r rawMR
	if !decode(p, src, &r, knownMR) {
		return nil, p.err()
	}
	c := &MobileRouter{File: name}
	c.Router.PrivateKey = privateKey(p, "router", r.Router.PrivateKey, r.Router.PrivateKeyFile, dir)
	c.Router.Prefixes = prefixes(p, "router.prefixes", r.Router.Prefixes, true, true)
	c.HomeAgent.PublicKey = publicKey(p, "home_agent.public_key", r.HomeAgent.PublicKey)
	c.HomeAgent.Signaling = addrPort(p, "home_agent.signaling", r.HomeAgent.Signaling, true)
	c.HomeAgent.Data = addrPorts(p, "home_agent.data", r.HomeAgent.Data, true)
	c.TUN = tunSection(p, r.TUN)
	c.TUN.Routes = prefixes(p, "tun.routes", r.TUN.Routes, true, false)
	c.Data = dataSection(p, r.Data, true)
	if len(r.Uplinks) == 0 {
		p.add("uplink", "at least one [[uplink]] is required")
	}
	names, bids := map[string]int{}, map[paths.BID]int{}
	for i, ru := range r.Uplinks {
		k := fmt.Sprintf("uplink[%d]", i)
		u := Uplink{Transport: "udp"}
		if ru.Name == nil {
			p.add(k+".name", "required")
		} else if u.Name = *ru.Name; !uplinkName.MatchString(u.Name) {
			p.add(k+".name", "%q: want 1 to 32 of A-Z a-z 0-9 _ . -", u.Name)
		} else if j, dup := names[u.Name]; dup {
			p.add(k+".name", "%q is also the name of uplink[%d]", u.Name, j)
		} else {
			names[u.Name] = i
		}
		u.Interface = u.Name
		if ru.Interface != nil {
			u.Interface = *ru.Interface
		}
		if !validIfName(u.Interface) {
			p.add(k+".interface", "%q is not a valid interface name (1 to 15 bytes, no '/', ':' or spaces)", u.Interface)
		}
		switch {
		case ru.BID == nil:
			p.add(k+".bid", "required (1 to 65535, unique per uplink)")
		case *ru.BID < 1 || *ru.BID > 65535:
			p.add(k+".bid", "%d: must be between 1 and 65535", *ru.BID)
		default:
			u.BID = paths.BID(*ru.BID)
			if j, dup := bids[u.BID]; dup {
				p.add(k+".bid", "%d is also the BID of uplink[%d]", u.BID, j)
			}
			bids[u.BID] = i
		}
		if ru.Source != nil {
			a, err := netip.ParseAddr(*ru.Source)
			if err != nil || a.Zone() != "" {
				p.add(k+".source", "%q is not an IP address", *ru.Source)
			} else {
				u.Source = a.Unmap()
				if !slices.ContainsFunc(c.HomeAgent.Data, func(d netip.AddrPort) bool { return d.Addr().Is4() == u.Source.Is4() }) && len(c.HomeAgent.Data) > 0 {
					p.add(k+".source", "no home_agent.data endpoint of the address family of %s", u.Source)
				}
			}
		}
		if ru.Port != nil {
			if *ru.Port < 0 || *ru.Port > 65535 {
				p.add(k+".port", "%d: must be between 0 and 65535", *ru.Port)
			} else {
				u.Port = uint16(*ru.Port)
			}
		}
		if ru.Transport != nil {
			switch *ru.Transport {
			case "udp":
			case "quic":
				p.add(k+".transport", "transport quic is not supported yet; use udp")
			default:
				p.add(k+".transport", "%q: want udp", *ru.Transport)
			}
		}
		c.Uplinks = append(c.Uplinks, u)
	}
	return c, p.err()
}

func parseHA(name string, src []byte, dir string) (*HomeAgent, error) {
	p := &problems{file: name, lines: indexLines(src)}
	var r rawHA
	if !decode(p, src, &r, knownHA) {
		return nil, p.err()
	}
	c := &HomeAgent{File: name}
	c.HomeAgent.PrivateKey = privateKey(p, "home_agent", r.HomeAgent.PrivateKey, r.HomeAgent.PrivateKeyFile, dir)
	c.HomeAgent.Signaling = addrPort(p, "home_agent.signaling", r.HomeAgent.Signaling, true)
	c.HomeAgent.Data = addrPorts(p, "home_agent.data", r.HomeAgent.Data, true)
	c.TUN = tunSection(p, r.TUN)
	c.Data = dataSection(p, r.Data, false)
	if len(r.MobileRouters) == 0 {
		p.add("mobile_router", "at least one [[mobile_router]] is required")
	}
	names, keys := map[string]int{}, map[string]int{}
	type owned struct {
		p  netip.Prefix
		mr int
	}
	var all []owned
	for i, rm := range r.MobileRouters {
		k := fmt.Sprintf("mobile_router[%d]", i)
		m := MobileRouterPeer{}
		if rm.Name == nil || *rm.Name == "" {
			p.add(k+".name", "required")
		} else if m.Name = *rm.Name; !uplinkName.MatchString(m.Name) {
			p.add(k+".name", "%q: want 1 to 32 of A-Z a-z 0-9 _ . -", m.Name)
		} else if j, dup := names[m.Name]; dup {
			p.add(k+".name", "%q is also the name of mobile_router[%d]", m.Name, j)
		} else {
			names[m.Name] = i
		}
		m.PublicKey = publicKey(p, k+".public_key", rm.PublicKey)
		if m.PublicKey != nil {
			if j, dup := keys[string(m.PublicKey)]; dup {
				p.add(k+".public_key", "the same key as mobile_router[%d]", j)
			}
			keys[string(m.PublicKey)] = i
		}
		m.Prefixes = prefixes(p, k+".prefixes", rm.Prefixes, true, true)
		for _, pf := range m.Prefixes {
			for _, o := range all {
				if o.mr != i && o.p.Overlaps(pf) {
					p.add(k+".prefixes", "%s overlaps %s of mobile_router[%d] (%s)", pf, o.p, o.mr, r.MobileRouters[o.mr].nameOr(o.mr))
				}
			}
			all = append(all, owned{pf, i})
		}
		c.MobileRouters = append(c.MobileRouters, m)
	}
	return c, p.err()
}

func (m rawMRPeer) nameOr(i int) string {
	if m.Name != nil {
		return *m.Name
	}
	return fmt.Sprintf("#%d", i)
}

// typeErr matches the decoder's type errors ("toml: line 16 (last key
// "uplink.bid"): incompatible types: ...").
var typeErr = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

var uplinkName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

func validIfName(s string) bool {
	return s != "" && len(s) <= 15 && s != "." && s != ".." && !strings.ContainsAny(s, "/: \t\n")
}

func tunSection(p *problems, r rawTUN) TUN {
	t := TUN{Name: DefaultTUNName, MTU: DefaultMTU}
	if r.Name != nil {
		t.Name = *r.Name
		if !validIfName(t.Name) {
			p.add("tun.name", "%q is not a valid interface name (1 to 15 bytes, no '/', ':' or spaces)", t.Name)
		}
	}
	if r.MTU != nil {
		if *r.MTU < 1280 || *r.MTU > 9000 {
			p.add("tun.mtu", "%d: must be between 1280 and 9000", *r.MTU)
		} else {
			t.MTU = int(*r.MTU)
		}
	}
	t.Addresses = prefixes(p, "tun.addresses", r.Addresses, false, false)
	return t
}

func dataSection(p *problems, r rawData, mr bool) Data {
	d := Data{Cipher: DefaultCipher, Keepalive: Duration{DefaultKeepalive}}
	if r.Cipher != nil {
		if !mr {
			p.add("data.cipher", "set the cipher on the mobile router; the home agent follows it")
		} else if !slices.Contains(Ciphers, *r.Cipher) {
			p.add("data.cipher", "%q: want one of %s", *r.Cipher, strings.Join(Ciphers, ", "))
		} else {
			d.Cipher = *r.Cipher
		}
	}
	if r.Keepalive != nil {
		v, err := time.ParseDuration(*r.Keepalive)
		switch {
		case err != nil:
			p.add("data.keepalive", "%q is not a duration (like \"10s\" or \"1m30s\")", *r.Keepalive)
		case v < time.Second || v > 10*time.Minute:
			p.add("data.keepalive", "%s: must be between 1s and 10m", v)
		default:
			d.Keepalive = Duration{v}
		}
	}
	return d
}

func prefixes(p *problems, key string, ss []string, masked, required bool) []netip.Prefix {
	if required && len(ss) == 0 {
		p.add(key, "required: at least one prefix, like \"198.18.10.0/24\"")
	}
	var out []netip.Prefix
	for _, s := range ss {
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			p.add(key, "%q is not a prefix (address/length)", s)
			continue
		}
		if masked && pf.Masked() != pf {
			p.add(key, "%s has host bits set; did you mean %s?", pf, pf.Masked())
			continue
		}
		out = append(out, pf)
	}
	return out
}

func addrPort(p *problems, key string, s *string, required bool) netip.AddrPort {
	if s == nil {
		if required {
			p.add(key, "required (address:port, like \"198.18.0.1:4433\" or \"[fd00::1]:4433\")")
		}
		return netip.AddrPort{}
	}
	ap, err := netip.ParseAddrPort(*s)
	if err != nil {
		p.add(key, "%q is not address:port (like \"198.18.0.1:4433\" or \"[fd00::1]:4433\")", *s)
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func addrPorts(p *problems, key string, ss []string, required bool) []netip.AddrPort {
	if required && len(ss) == 0 {
		p.add(key, "required: at least one address:port")
	}
	var out []netip.AddrPort
	for _, s := range ss {
		if ap := addrPort(p, key, &s, true); ap.IsValid() {
			out = append(out, ap)
		}
	}
	return out
}

func privateKey(p *problems, table string, key, file *string, dir string) ed25519.PrivateKey {
	switch {
	case key == nil && file == nil:
		p.add(table+".private_key", "required: private_key or private_key_file (make one with `monami-mr genkey`)")
		return nil
	case key != nil && file != nil:
		p.add(table+".private_key_file", "give private_key or private_key_file, not both")
		return nil
	case file != nil:
		path := *file
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		fi, err := os.Stat(path)
		if err != nil {
			p.add(table+".private_key_file", "%v", err)
			return nil
		}
		if fi.Mode().Perm()&0o002 != 0 {
			p.add(table+".private_key_file", "%s is writable by anyone; chmod 600 it", path)
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			p.add(table+".private_key_file", "%v", err)
			return nil
		}
		s := strings.TrimSpace(string(b))
		if _, v, ok := strings.Cut(s, "="); ok && strings.HasPrefix(s, "private_key") {
			s = strings.Trim(strings.TrimSpace(strings.SplitN(v, "\n", 2)[0]), `"`)
		}
		k, err := ParsePrivateKey(s)
		if err != nil {
			p.add(table+".private_key_file", "%s: %v", path, err)
		}
		return k
	default:
		k, err := ParsePrivateKey(*key)
		if err != nil {
			p.add(table+".private_key", "%v", err)
		}
		return k
	}
}

func publicKey(p *problems, key string, s *string) ed25519.PublicKey {
	if s == nil {
		p.add(key, "required (base64 of the peer's 32-byte Ed25519 public key)")
		return nil
	}
	k, err := ParsePublicKey(*s)
	if err != nil {
		p.add(key, "%v", err)
	}
	return k
}

// GenerateKey returns a new Ed25519 key pair.
func GenerateKey() (ed25519.PrivateKey, ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	return priv, pub, err
}

// FormatPrivateKey returns the configuration form of k: base64 of its seed.
func FormatPrivateKey(k ed25519.PrivateKey) string {
	return base64.StdEncoding.EncodeToString(k.Seed())
}

// FormatPublicKey returns the configuration form of k.
func FormatPublicKey(k ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(k) }

// ParsePrivateKey parses the configuration form of a private key.
func ParsePrivateKey(s string) (ed25519.PrivateKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.SeedSize {
		return nil, fmt.Errorf("not a private key: want base64 of %d bytes (make one with `monami-mr genkey`)", ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(b), nil
}

// ParsePublicKey parses the configuration form of a public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("not a public key: want base64 of %d bytes", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}
