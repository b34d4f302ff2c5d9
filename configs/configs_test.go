// SPDX-License-Identifier: MIT

package configs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func example(t testing.TB, name string) string {
	b, err := Examples.ReadFile("examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExamplesLoad(t *testing.T) {
	mr, err := ParseMobileRouter("mr.toml", []byte(example(t, "mr.toml")))
	if err != nil {
		t.Fatal(err)
	}
	if len(mr.Uplinks) != 2 || mr.Uplinks[1].Interface != "wan2" || mr.Uplinks[1].Transport != "udp" || mr.Uplinks[1].BID != 2 {
		t.Fatalf("uplinks %+v", mr.Uplinks)
	}
	if mr.TUN.MTU != 1420 || mr.Data.Cipher != "aes-256-gcm" || mr.Data.Keepalive.Seconds() != 10 {
		t.Fatalf("defaults %+v %+v", mr.TUN, mr.Data)
	}
	ha, err := ParseHomeAgent("ha.toml", []byte(example(t, "ha.toml")))
	if err != nil {
		t.Fatal(err)
	}
	// The two examples are a working pair.
	if !ha.MobileRouters[0].PublicKey.Equal(mr.Router.PrivateKey.Public()) || !mr.HomeAgent.PublicKey.Equal(ha.HomeAgent.PrivateKey.Public()) {
		t.Fatal("example keys do not pair up")
	}
}

// minimal valid files, to break one key at a time.
const minMR = `[router]
private_key = "fPmAYHN4DvDDwzZAmZNXrIX5vRXOfKRkg3E4CT/e1Fo="
prefixes = ["198.18.10.0/24"]

[home_agent]
public_key = "26lCuVo4AOUIJ0NP0Ug9WilpH20KwhW5f6oK4RuF1vg="
signaling = "198.18.0.1:4433"
data = ["198.18.0.1:4434"]

[[uplink]]
name = "wan1"
bid = 1

[[uplink]]
name = "wan2"
bid = 2
`

const minHA = `[home_agent]
private_key = "UvbupEmw91KqqDX8iulF3baqETonPk2Jyiy/2DYOeb8="
signaling = "198.18.0.1:4433"
data = ["198.18.0.1:4434"]

[[mobile_router]]
name = "mr1"
public_key = "FuXrlMuHQZo1vlOZ6nYzoakQS619ZrcgQS92ogFEmCY="
prefixes = ["198.18.10.0/24"]

[[mobile_router]]
name = "mr2"
public_key = "26lCuVo4AOUIJ0NP0Ug9WilpH20KwhW5f6oK4RuF1vg="
prefixes = ["198.18.11.0/24"]
`

func TestMinimalFilesLoad(t *testing.T) {
	if _, err := ParseMobileRouter("mr.toml", []byte(minMR)); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseHomeAgent("ha.toml", []byte(minHA)); err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		ha   bool
		edit func(string) string
		want []string // each must appear as a line of the error
	}{
		{"unknown key with suggestion", false, func(s string) string { return strings.Replace(s, "bid = 2", "bidd = 2", 1) },
			[]string{"mr.toml:16: uplink[1].bidd: unknown key; did you mean bid?", "mr.toml:14: uplink[1].bid: required"}},
		{"unknown table", false, func(s string) string { return s + "\n[routr]\nx = 1\n" },
			[]string{"mr.toml:19: routr.x: unknown key"}},
		{"bid zero", false, func(s string) string { return strings.Replace(s, "bid = 1", "bid = 0", 1) },
			[]string{"mr.toml:12: uplink[0].bid: 0: must be between 1 and 65535"}},
		{"bid too large", false, func(s string) string { return strings.Replace(s, "bid = 2", "bid = 70000", 1) },
			[]string{"mr.toml:16: uplink[1].bid: 70000: must be between 1 and 65535"}},
		{"duplicate bid", false, func(s string) string { return strings.Replace(s, "bid = 2", "bid = 1", 1) },
			[]string{"mr.toml:16: uplink[1].bid: 1 is also the BID of uplink[0]"}},
		{"duplicate uplink name", false, func(s string) string { return strings.Replace(s, `"wan2"`, `"wan1"`, 1) },
			[]string{`mr.toml:15: uplink[1].name: "wan1" is also the name of uplink[0]`}},
		{"bad cipher", false, func(s string) string { return s + "\n[data]\ncipher = \"rot13\"\n" },
			[]string{`mr.toml:19: data.cipher: "rot13": want one of aes-256-gcm, chacha20-poly1305`}},
		{"bad duration", false, func(s string) string { return s + "\n[data]\nkeepalive = \"soon\"\n" },
			[]string{`mr.toml:19: data.keepalive: "soon" is not a duration`}},
		{"host bits", false, func(s string) string { return strings.Replace(s, "198.18.10.0/24", "198.18.10.1/24", 1) },
			[]string{"mr.toml:3: router.prefixes: 198.18.10.1/24 has host bits set; did you mean 198.18.10.0/24?"}},
		{"bad address", false, func(s string) string { return strings.Replace(s, `"198.18.0.1:4433"`, `"198.18.0.1"`, 1) },
			[]string{`mr.toml:7: home_agent.signaling: "198.18.0.1" is not address:port`}},
		{"source family without endpoint", false, func(s string) string { return strings.Replace(s, "bid = 2", "bid = 2\nsource = \"fd00:2::2\"", 1) },
			[]string{"mr.toml:17: uplink[1].source: no home_agent.data endpoint of the address family of fd00:2::2"}},
		{"quic transport", false, func(s string) string { return strings.Replace(s, "bid = 1", "bid = 1\ntransport = \"quic\"", 1) },
			[]string{"mr.toml:13: uplink[0].transport: transport quic is not supported yet; use udp"}},
		{"no private key", false, func(s string) string {
			return strings.Replace(s, "private_key = \"fPmAYHN4DvDDwzZAmZNXrIX5vRXOfKRkg3E4CT/e1Fo=\"\n", "", 1)
		},
			[]string{"mr.toml:1: router.private_key: required"}},
		{"both key forms", false, func(s string) string {
			return strings.Replace(s, "[router]\n", "[router]\nprivate_key_file = \"k\"\n", 1)
		},
			[]string{"mr.toml:2: router.private_key_file: give private_key or private_key_file, not both"}},
		{"short key", false, func(s string) string {
			return strings.Replace(s, "26lCuVo4AOUIJ0NP0Ug9WilpH20KwhW5f6oK4RuF1vg=", "AAAA", 1)
		},
			[]string{"mr.toml:6: home_agent.public_key: not a public key: want base64 of 32 bytes"}},
		{"no uplinks", false, func(s string) string { return s[:strings.Index(s, "[[uplink]]")] },
			[]string{"mr.toml: uplink: at least one [[uplink]] is required"}},
		{"syntax error", false, func(s string) string { return strings.Replace(s, "bid = 2", "bid = = 2", 1) },
			[]string{"mr.toml:16: "}},
		{"wrong type", false, func(s string) string { return strings.Replace(s, "bid = 2", `bid = "two"`, 1) },
			[]string{"mr.toml:16: uplink.bid: incompatible types"}},
		{"overlapping prefixes", true, func(s string) string { return strings.Replace(s, "198.18.11.0/24", "198.18.10.128/25", 1) },
			[]string{"ha.toml:14: mobile_router[1].prefixes: 198.18.10.128/25 overlaps 198.18.10.0/24 of mobile_router[0] (mr1)"}},
		{"duplicate router key", true, func(s string) string {
			return strings.Replace(s, "26lCuVo4AOUIJ0NP0Ug9WilpH20KwhW5f6oK4RuF1vg=", "FuXrlMuHQZo1vlOZ6nYzoakQS619ZrcgQS92ogFEmCY=", 1)
		}, []string{"ha.toml:13: mobile_router[1].public_key: the same key as mobile_router[0]"}},
		{"cipher on the home agent", true, func(s string) string { return s + "\n[data]\ncipher = \"aes-256-gcm\"\n" },
			[]string{"ha.toml:17: data.cipher: set the cipher on the mobile router"}},
		{"many errors at once", false, func(s string) string {
			s = strings.Replace(s, "bid = 1", "bid = 0", 1)
			s = strings.Replace(s, "bid = 2", "bid = 99999", 1)
			return strings.Replace(s, "198.18.10.0/24", "nonsense", 1)
		}, []string{"mr.toml:3: router.prefixes:", "mr.toml:12: uplink[0].bid:", "mr.toml:16: uplink[1].bid:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.ha {
				_, err = ParseHomeAgent("ha.toml", []byte(tc.edit(minHA)))
			} else {
				_, err = ParseMobileRouter("mr.toml", []byte(tc.edit(minMR)))
			}
			if err == nil {
				t.Fatal("accepted")
			}
			lines := strings.Split(err.Error(), "\n")
			for _, w := range tc.want {
				found := false
				for _, l := range lines {
					if strings.HasPrefix(l, w) {
						found = true
					}
				}
				if !found {
					t.Errorf("no error line starting %q in:\n%v", w, err)
				}
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error is not a *configs.Error: %T", err)
			}
		})
	}
}

func TestPrivateKeyFile(t *testing.T) {
	dir := t.TempDir()
	key := "fPmAYHN4DvDDwzZAmZNXrIX5vRXOfKRkg3E4CT/e1Fo="
	os.WriteFile(filepath.Join(dir, "mr.key"), []byte(key+"\n"), 0o600)
	cfg := strings.Replace(minMR, `private_key = "`+key+`"`, `private_key_file = "mr.key"`, 1)
	path := filepath.Join(dir, "mr.toml")
	os.WriteFile(path, []byte(cfg), 0o600)
	c, err := LoadMobileRouter(path)
	if err != nil {
		t.Fatal(err)
	}
	if FormatPrivateKey(c.Router.PrivateKey) != key {
		t.Fatal("key file not read")
	}
	os.Chmod(filepath.Join(dir, "mr.key"), 0o666)
	if _, err := LoadMobileRouter(path); err == nil || !strings.Contains(err.Error(), "writable by anyone") {
		t.Fatalf("world-writable key file accepted: %v", err)
	}
}

func FuzzParseMobileRouter(f *testing.F) {
	f.Add([]byte(minMR))
	f.Add([]byte(example(f, "mr.toml")))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseMobileRouter("f.toml", b)
		if err == nil && (len(c.Uplinks) == 0 || c.Router.PrivateKey == nil || c.HomeAgent.PublicKey == nil) {
			t.Fatalf("accepted an incomplete configuration: %+v", c)
		}
	})
}

func FuzzParseHomeAgent(f *testing.F) {
	f.Add([]byte(minHA))
	f.Add([]byte(example(f, "ha.toml")))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseHomeAgent("f.toml", b)
		if err == nil && (len(c.MobileRouters) == 0 || c.HomeAgent.PrivateKey == nil) {
			t.Fatalf("accepted an incomplete configuration: %+v", c)
		}
	})
}
