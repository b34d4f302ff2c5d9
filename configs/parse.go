// SPDX-License-Identifier: MIT

package configs

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"monami/paths"
)

// The file is decoded into a generic map and read against the schema here,
// rather than decoded into tagged structs and checked with
// MetaData.Undecoded: BurntSushi/toml matches struct fields without regard
// to case (so "BID = 1" would pass as bid) and stops at the first bad value,
// while reading the map finds every problem, names arrays of tables by
// index, and knows which keys were given.

// LoadMobileRouter reads the mobile router configuration at path and
// returns it with the defaults applied and validated, or the errors.Join of
// every problem (each an *Error). Relative paths in it (private_key_file,
// state_dir, control_socket, policy.files) are relative to path's
// directory.
func LoadMobileRouter(path string) (*MobileRouter, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseMobileRouter(path, b)
}

// LoadHomeAgent reads the home agent configuration at path, as
// LoadMobileRouter does.
func LoadHomeAgent(path string) (*HomeAgent, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseHomeAgent(path, b)
}

// ParseMobileRouter parses the mobile router configuration data as
// LoadMobileRouter does. name is the file name used in errors; relative
// paths in the file are relative to its directory.
func ParseMobileRouter(name string, data []byte) (*MobileRouter, error) {
	p := &problems{file: name}
	root, ok := p.decode(data)
	if !ok {
		return nil, p.err()
	}
	root.known("router", "home_agent", "tun", "data", "uplink", "policy")
	c := &MobileRouter{File: name}
	dir := filepath.Dir(name)

	r := root.table("router")
	r.known("private_key", "private_key_file", "prefixes", "state_dir", "control_socket")
	c.Router.PrivateKey = r.privateKey(dir)
	c.Router.Prefixes = r.prefixes("prefixes")
	if s, ok := r.str("state_dir"); ok {
		if s == "" {
			r.p.add(r.key("state_dir"), "must name a directory")
		} else {
			c.Router.StateDir = resolvePath(dir, s)
		}
	}
	if s, ok := r.str("control_socket"); ok {
		if s != "" {
			c.Router.ControlSocket = resolvePath(dir, s)
		}
	} else {
		c.Router.ControlSocket = DefaultControlSocket
	}

	h := root.table("home_agent")
	h.known("public_key", "signaling", "data")
	c.HomeAgent.PublicKey = h.publicKey("public_key")
	c.HomeAgent.Signaling = h.addrPort("signaling")
	c.HomeAgent.Data = h.addrPorts("data")

	t := root.table("tun")
	t.known("name", "mtu", "addresses", "routes")
	c.TUN = t.tun()
	c.TUN.Routes = t.prefixes("routes")

	d := root.table("data")
	d.known("cipher", "keepalive")
	if s, ok := d.str("cipher"); ok {
		c.Data.Cipher = s
		d.explicitZero("cipher", s == "", checkCipher(s))
	}
	c.Data.Keepalive = d.keepalive()

	for _, u := range root.tables("uplink") {
		u.known("name", "interface", "match", "type", "max_links", "bid", "source", "port", "transport",
			"cost", "metered", "cap_daily", "cap_monthly", "cap_reset_day", "tags")
		c.Uplinks = append(c.Uplinks, u.uplink())
	}

	pol := root.table("policy")
	pol.known("files", "default_prefer")
	c.Policy.Files = pol.files("files", dir)
	c.Policy.DefaultPrefer, _ = pol.strs("default_prefer")

	c.setDefaults()
	p.validating = true
	c.validate(p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// ParseHomeAgent parses the home agent configuration data as
// ParseMobileRouter does.
func ParseHomeAgent(name string, data []byte) (*HomeAgent, error) {
	p := &problems{file: name}
	root, ok := p.decode(data)
	if !ok {
		return nil, p.err()
	}
	root.known("home_agent", "tun", "data", "mobile_router")
	c := &HomeAgent{File: name}

	h := root.table("home_agent")
	h.known("private_key", "private_key_file", "signaling", "data")
	c.HomeAgent.PrivateKey = h.privateKey(filepath.Dir(name))
	c.HomeAgent.Signaling = h.addrPort("signaling")
	c.HomeAgent.Data = h.addrPorts("data")

	t := root.table("tun")
	if _, ok := t.m["routes"]; ok {
		t.p.add(t.key("routes"), "the home agent has no routes: it routes each mobile router's prefixes into the TUN itself")
	}
	t.known("name", "mtu", "addresses", "routes")
	c.TUN = t.tun()

	d := root.table("data")
	if _, ok := d.m["cipher"]; ok {
		d.p.add(d.key("cipher"), "set the cipher on the mobile router; the home agent follows it")
	}
	d.known("keepalive", "cipher")
	c.Data.Keepalive = d.keepalive()

	for _, m := range root.tables("mobile_router") {
		m.known("name", "public_key", "prefixes", "control_socket")
		var peer MobileRouterPeer
		peer.Name, _ = m.str("name")
		peer.PublicKey = m.publicKey("public_key")
		peer.Prefixes = m.prefixes("prefixes")
		if s, ok := m.str("control_socket"); ok && s != "" {
			peer.ControlSocket = resolvePath(filepath.Dir(name), s)
		}
		c.MobileRouters = append(c.MobileRouters, peer)
	}

	c.setDefaults()
	p.validating = true
	c.validate(p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// decode parses src as TOML and indexes its lines, or records the syntax
// error.
func (p *problems) decode(src []byte) (node, bool) {
	var m map[string]any
	if _, err := toml.Decode(string(src), &m); err != nil {
		e := &Error{File: p.file, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
		if pe, ok := errors.AsType[toml.ParseError](err); ok {
			e.Line, e.Msg = pe.Position.Line, pe.Message
		}
		p.errs = append(p.errs, e)
		return node{}, false
	}
	p.lines = indexLines(src)
	return node{p: p, m: m}, true
}

// node is one TOML table of the file being read. A table that is missing or
// of the wrong type is a node with a nil map: it has no keys.
type node struct {
	p    *problems
	path string
	m    map[string]any
}

func (n node) key(k string) string { return joinKey(n.path, k) }

// known reports the keys of n that are not among known, suggesting the
// key that was probably meant.
func (n node) known(known ...string) {
	var unknown []string
	for k := range n.m {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		if s := Suggest(k, known); s != "" {
			n.p.add(n.key(k), "unknown key; did you mean %s?", s)
		} else {
			n.p.add(n.key(k), "unknown key; valid keys here: %s", strings.Join(known, ", "))
		}
	}
}

// table returns the sub-table k of n.
func (n node) table(k string) node {
	sub := node{p: n.p, path: n.key(k)}
	switch v := n.m[k].(type) {
	case nil:
	case map[string]any:
		sub.m = v
	default:
		n.p.add(sub.path, "must be a table ([%s]), not %s", sub.path, TypeName(v))
	}
	return sub
}

// tables returns the array of tables k of n.
func (n node) tables(k string) []node {
	path := n.key(k)
	v, has := n.m[k]
	if !has {
		return nil
	}
	elems, ok := TableArray(v)
	if !ok {
		n.p.add(path, "must be an array of tables ([[%s]]), not %s", path, TypeName(v))
		return nil
	}
	nodes := make([]node, len(elems))
	for i, e := range elems {
		nodes[i] = node{p: n.p, path: indexPath(path, i)}
		if m, ok := e.(map[string]any); ok {
			nodes[i].m = m
		} else {
			n.p.add(nodes[i].path, "must be a table, not %s", TypeName(e))
		}
	}
	return nodes
}

// str returns the string k of n, and whether it is given as a string.
func (n node) str(k string) (string, bool) {
	switch v := n.m[k].(type) {
	case nil:
	case string:
		return v, true
	default:
		n.p.add(n.key(k), "must be a string, not %s", TypeName(v))
	}
	return "", false
}

// integer returns the integer k of n, and whether it is given as one.
func (n node) integer(k string) (int64, bool) {
	switch v := n.m[k].(type) {
	case nil:
	case int64:
		return v, true
	default:
		n.p.add(n.key(k), "must be an integer, not %s", TypeName(v))
	}
	return 0, false
}

// strs returns the array of strings k of n; an element that is not a
// string is reported and left "" (so indexes stay those of the file), and
// ok[i] tells the good ones.
func (n node) strs(k string) (ss []string, ok []bool) {
	switch v := n.m[k].(type) {
	case nil:
	case []any:
		ss, ok = make([]string, len(v)), make([]bool, len(v))
		for i, e := range v {
			if s, isStr := e.(string); isStr {
				ss[i], ok[i] = s, true
			} else {
				n.p.add(indexPath(n.key(k), i), "must be a string, not %s", TypeName(e))
			}
		}
		if len(v) == 0 {
			ss = []string{} // given, but empty
		}
	default:
		n.p.add(n.key(k), "must be an array of strings, not %s", TypeName(v))
	}
	return ss, ok
}

// explicitZero reports a key given as the zero value that setDefaults would
// silently replace, with msg (what Validate would say about that value).
func (n node) explicitZero(k string, zero bool, msg string) {
	if zero && msg != "" {
		n.p.add(n.key(k), "%s", msg)
	}
}

func (n node) prefixes(k string) []netip.Prefix {
	ss, ok := n.strs(k)
	if ss == nil {
		return nil
	}
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		if !ok[i] {
			continue
		}
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			n.p.add(indexPath(n.key(k), i), `%q is not a prefix (address/length, like "198.18.10.0/24" or "fd00:10::/64")`, s)
			continue
		}
		out[i] = pf
	}
	return out
}

func parseAddrPort(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return ap, fmt.Errorf(`%q is not an address:port (like "198.18.0.1:4433" or "[fd00::1]:4433")`, s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

func (n node) addrPort(k string) netip.AddrPort {
	s, ok := n.str(k)
	if !ok {
		return netip.AddrPort{}
	}
	ap, err := parseAddrPort(s)
	if err != nil {
		n.p.add(n.key(k), "%v", err)
	}
	return ap
}

func (n node) addrPorts(k string) []netip.AddrPort {
	ss, ok := n.strs(k)
	if ss == nil {
		return nil
	}
	out := make([]netip.AddrPort, len(ss))
	for i, s := range ss {
		if !ok[i] {
			continue
		}
		ap, err := parseAddrPort(s)
		if err != nil {
			n.p.add(indexPath(n.key(k), i), "%v", err)
			continue
		}
		out[i] = ap
	}
	return out
}

func (n node) publicKey(k string) ed25519.PublicKey {
	s, ok := n.str(k)
	if !ok {
		return nil
	}
	pub, err := ParsePublicKey(s)
	if err != nil {
		n.p.add(n.key(k), "%v", err)
	}
	return pub
}

// privateKey reads private_key or private_key_file. A missing key is left
// to Validate, which says "required" unless a problem with either key was
// reported here.
func (n node) privateKey(dir string) ed25519.PrivateKey {
	k := n.readPrivateKey(dir)
	_, key := n.m["private_key"]
	_, file := n.m["private_key_file"]
	if k == nil && (key || file) {
		n.p.readKeys = append(n.p.readKeys, n.key("private_key"))
	}
	return k
}

func (n node) readPrivateKey(dir string) ed25519.PrivateKey {
	s, hasKey := n.str("private_key")
	file, hasFile := n.str("private_key_file")
	switch {
	case hasKey && hasFile:
		n.p.add(n.key("private_key_file"), "give private_key or private_key_file, not both")
	case hasKey:
		k, err := ParsePrivateKey(s)
		if err != nil {
			n.p.add(n.key("private_key"), "%v", err)
		}
		return k
	case hasFile:
		if file == "" {
			n.p.add(n.key("private_key_file"), "must name a file")
			return nil
		}
		if !filepath.IsAbs(file) {
			file = filepath.Join(dir, file)
		}
		k, err := readKeyFile(file)
		if err != nil {
			n.p.add(n.key("private_key_file"), "%v", err)
		}
		return k
	}
	return nil
}

func (n node) tun() TUN {
	var t TUN
	if s, ok := n.str("name"); ok {
		t.Name = s
		n.explicitZero("name", s == "", checkIfName(s))
	}
	if v, ok := n.integer("mtu"); ok {
		if m := checkMTU(v); m != "" {
			n.p.add(n.key("mtu"), "%s", m)
		} else {
			t.MTU = int(v)
		}
	}
	t.Addresses = n.prefixes("addresses")
	return t
}

func (n node) keepalive() Duration {
	var d Duration
	switch v := n.m["keepalive"].(type) {
	case nil:
	case string:
		if err := d.UnmarshalText([]byte(v)); err != nil {
			n.p.add(n.key("keepalive"), "%v", err)
		} else if m := checkKeepalive(d.Duration); m != "" {
			n.p.add(n.key("keepalive"), "%s", m)
		}
	default:
		n.p.add(n.key("keepalive"), `must be a duration string like "10s", not %s`, TypeName(v))
	}
	return d
}

func (n node) uplink() Uplink {
	var u Uplink
	u.Name, _ = n.str("name")
	if s, ok := n.str("match"); ok {
		u.Match = s
		n.explicitZero("match", s == "", checkGlob(s))
	}
	if s, ok := n.str("type"); ok {
		u.Type = s
		n.explicitZero("type", s == "", checkLinkType(s))
	}
	if s, ok := n.str("interface"); ok {
		if u.Selecting() {
			n.p.add(n.key("interface"), "%s", msgInterfaceAndMatch)
		} else {
			u.Interface = s
			n.explicitZero("interface", s == "", checkIfName(s))
		}
	}
	if v, ok := n.integer("max_links"); ok {
		if m := checkMaxLinks(v); !u.Selecting() {
			n.p.add(n.key("max_links"), "%s", msgMaxLinksNamed)
		} else if m != "" {
			n.p.add(n.key("max_links"), "%s", m)
		} else {
			u.MaxLinks = int(v)
		}
	}
	if v, ok := n.integer("bid"); ok {
		if v < 1 || v > 65535 {
			n.p.add(n.key("bid"), "must be between 1 and 65535, not %d", v)
		} else {
			u.BID = paths.BID(v)
		}
	}
	if s, ok := n.str("source"); ok {
		a, err := netip.ParseAddr(s)
		if err != nil {
			n.p.add(n.key("source"), `%q is not an IP address (like "198.18.1.2" or "fd00:1::2")`, s)
		} else {
			u.Source = a.Unmap()
		}
	}
	if v, ok := n.integer("port"); ok {
		if v < 0 || v > 65535 {
			n.p.add(n.key("port"), "must be between 0 and 65535, not %d", v)
		} else {
			u.Port = uint16(v)
		}
	}
	if s, ok := n.str("transport"); ok {
		u.Transport = s
		n.explicitZero("transport", s == "", checkTransport(s))
	}
	u.Cost, _ = n.number("cost")
	u.Metered, _ = n.boolean("metered")
	u.CapDaily = n.size("cap_daily")
	u.CapMonthly = n.size("cap_monthly")
	if v, ok := n.integer("cap_reset_day"); ok {
		if m := checkResetDay(v); m != "" {
			n.p.add(n.key("cap_reset_day"), "%s", m)
		} else {
			u.CapResetDay = int(v)
		}
	}
	u.Tags, _ = n.strs("tags")
	return u
}

// number returns the number (float or integer) k of n, and whether it is
// given as one.
func (n node) number(k string) (float64, bool) {
	switch v := n.m[k].(type) {
	case nil:
	case float64:
		return v, true
	case int64:
		return float64(v), true
	default:
		n.p.add(n.key(k), "must be a number, not %s", TypeName(v))
	}
	return 0, false
}

// boolean returns the boolean k of n, and whether it is given as one.
func (n node) boolean(k string) (bool, bool) {
	switch v := n.m[k].(type) {
	case nil:
	case bool:
		return v, true
	default:
		n.p.add(n.key(k), "must be true or false, not %s", TypeName(v))
	}
	return false, false
}

// size returns the data size k of n, in bytes: an integer of bytes or a
// string such as "10GB".
func (n node) size(k string) uint64 {
	switch v := n.m[k].(type) {
	case nil:
	case int64:
		if v < 0 {
			n.p.add(n.key(k), "must be ≥ 0 bytes, not %d", v)
			return 0
		}
		return uint64(v)
	case string:
		b, err := parseSize(v)
		if err != nil {
			n.p.add(n.key(k), "%v", err)
		}
		return b
	default:
		n.p.add(n.key(k), `must be a size like "10GB" or an integer of bytes, not %s`, TypeName(v))
	}
	return 0
}

// files returns the array of file names k of n, made absolute against
// dir; each must name a regular file.
func (n node) files(k, dir string) []string {
	ss, ok := n.strs(k)
	for i, s := range ss {
		if !ok[i] {
			continue
		}
		key := indexPath(n.key(k), i)
		if s == "" {
			n.p.add(key, "must name a file")
			continue
		}
		ss[i] = resolvePath(dir, s)
		switch fi, err := os.Stat(ss[i]); {
		case err != nil:
			n.p.add(key, "%v", err)
		case !fi.Mode().IsRegular():
			n.p.add(key, "%s is not a regular file", ss[i])
		}
	}
	return ss
}

// resolvePath returns p made absolute, relative to dir if it is not
// already.
func resolvePath(dir, p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
