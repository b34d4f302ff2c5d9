// SPDX-License-Identifier: MIT

package configs

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func example(t testing.TB, name string) []byte {
	t.Helper()
	b, err := Examples.ReadFile("examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExamples(t *testing.T) {
	mr, err := LoadMobileRouter(filepath.Join("examples", "mr.toml"))
	if err != nil {
		t.Fatal(err)
	}
	ha, err := LoadHomeAgent(filepath.Join("examples", "ha.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := mr.Validate(); err != nil {
		t.Errorf("Validate of the loaded mr.toml: %v", err)
	}
	if err := ha.Validate(); err != nil {
		t.Errorf("Validate of the loaded ha.toml: %v", err)
	}
	// The embedded copies are the files.
	if _, err := ParseMobileRouter("mr.toml", example(t, "mr.toml")); err != nil {
		t.Error(err)
	}
	if _, err := ParseHomeAgent("ha.toml", example(t, "ha.toml")); err != nil {
		t.Error(err)
	}

	wantUplinks := []Uplink{
		{Name: "wan1", Interface: "wan1", BID: 1, Source: netip.MustParseAddr("198.18.1.2"), Transport: "udp", CapResetDay: 1, Tags: []string{"wired"}},
		{Name: "wan2", Interface: "wan2", BID: 2, Source: netip.MustParseAddr("fd00:2::2"), Transport: "udp", CapResetDay: 1},
		{Name: "cell", Match: "wwan*", Type: "wwan", MaxLinks: 4, BID: 10, Transport: "udp", Cost: 2.5, Metered: true,
			CapDaily: 500e6, CapMonthly: 10e9, CapResetDay: 15, Tags: []string{"cellular"}},
	}
	if !reflect.DeepEqual(mr.Uplinks, wantUplinks) {
		t.Errorf("uplinks:\n got %+v\nwant %+v", mr.Uplinks, wantUplinks)
	}
	if mr.Router.StateDir != "/var/lib/monami" || mr.Router.ControlSocket != "/run/monami/mr.sock" {
		t.Errorf("router %+v", mr.Router)
	}
	if len(mr.Policy.Files) != 0 || !reflect.DeepEqual(mr.Policy.DefaultPrefer, []string{"cost", "delay"}) {
		t.Errorf("policy %+v", mr.Policy)
	}
	if mr.TUN.Name != "mona0" || mr.TUN.MTU != 1420 || len(mr.TUN.Routes) != 2 || mr.Data.Cipher != "aes-256-gcm" || mr.Data.Keepalive.Duration != 550*time.Millisecond {
		t.Errorf("tun %+v data %+v", mr.TUN, mr.Data)
	}
	if ha.TUN.Name != "monaha0" || len(ha.HomeAgent.Data) != 2 || ha.Data.Cipher != "" {
		t.Errorf("ha %+v", ha)
	}
	// The two examples are a working pair.
	if !ha.MobileRouters[0].PublicKey.Equal(mr.Router.PrivateKey.Public()) || !mr.HomeAgent.PublicKey.Equal(ha.HomeAgent.PrivateKey.Public()) {
		t.Error("the example keys do not pair up")
	}
	if !reflect.DeepEqual(ha.MobileRouters[0].Prefixes, mr.Router.Prefixes) {
		t.Error("the examples' prefixes differ")
	}
	if mr.HomeAgent.Signaling != ha.HomeAgent.Signaling || !reflect.DeepEqual(mr.HomeAgent.Data, ha.HomeAgent.Data) {
		t.Error("the examples' home agent addresses differ")
	}
}

// TestExamplesDocumentEveryKey: every key of the schema is written in the
// examples (private_key_file in a comment).
func TestExamplesDocumentEveryKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []string
	}{
		{name: "mr.toml", keys: []string{
			"router.private_key", "router.prefixes", "router.state_dir", "router.control_socket",
			"home_agent.public_key", "home_agent.signaling", "home_agent.data",
			"tun.name", "tun.mtu", "tun.addresses", "tun.routes",
			"data.cipher", "data.keepalive",
			"uplink[0].name", "uplink[0].interface", "uplink[0].bid", "uplink[0].source", "uplink[0].port", "uplink[0].transport",
			"uplink[0].cost", "uplink[0].metered", "uplink[0].tags",
			"uplink[2].match", "uplink[2].type", "uplink[2].max_links",
			"uplink[2].cap_daily", "uplink[2].cap_monthly", "uplink[2].cap_reset_day",
			"policy.files", "policy.default_prefer",
		}},
		{name: "ha.toml", keys: []string{
			"home_agent.private_key", "home_agent.signaling", "home_agent.data",
			"tun.name", "tun.mtu", "tun.addresses",
			"data.keepalive",
			"mobile_router[0].name", "mobile_router[0].public_key", "mobile_router[0].prefixes",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := example(t, tc.name)
			idx := indexLines(src)
			for _, k := range tc.keys {
				if _, ok := idx[k]; !ok {
					t.Errorf("%s is not in the example", k)
				}
			}
			if !strings.Contains(string(src), "# private_key_file = ") {
				t.Error("private_key_file is not shown")
			}
		})
	}
}

// Minimal valid files, to break one key at a time. Line numbers matter.
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

func TestDefaults(t *testing.T) {
	mr, err := ParseMobileRouter("mr.toml", []byte(minMR))
	if err != nil {
		t.Fatal(err)
	}
	wantTUN := TUN{Name: DefaultTUNName, MTU: DefaultMTU}
	if !reflect.DeepEqual(mr.TUN, wantTUN) {
		t.Errorf("tun %+v, want %+v", mr.TUN, wantTUN)
	}
	if mr.Data != (Data{Cipher: DefaultCipher, Keepalive: Duration{DefaultKeepalive}}) {
		t.Errorf("data %+v", mr.Data)
	}
	if u, want := mr.Uplinks[1], (Uplink{Name: "wan2", Interface: "wan2", BID: 2, Transport: DefaultTransport, CapResetDay: DefaultCapResetDay}); !reflect.DeepEqual(u, want) {
		t.Errorf("uplink %+v", u)
	}
	if mr.Router.StateDir != DefaultStateDir || mr.Router.ControlSocket != DefaultControlSocket {
		t.Errorf("router state_dir %q control_socket %q", mr.Router.StateDir, mr.Router.ControlSocket)
	}
	if !reflect.DeepEqual(mr.Policy, Policy{DefaultPrefer: []string{"cost", "delay"}}) {
		t.Errorf("policy %+v", mr.Policy)
	}
	if mr.File != "mr.toml" {
		t.Errorf("file %q", mr.File)
	}
	ha, err := ParseHomeAgent("ha.toml", []byte(minHA))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ha.TUN, wantTUN) || ha.Data != (Data{Keepalive: Duration{DefaultKeepalive}}) {
		t.Errorf("tun %+v data %+v", ha.TUN, ha.Data)
	}
}

func replace(old, new string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, old) {
			panic("test edit: no " + old)
		}
		return strings.Replace(s, old, new, 1)
	}
}

func appendText(text string) func(string) string {
	return func(s string) string { return s + text }
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		ha   bool
		edit func(string) string
		want []string // each error line's prefix, in order; no others
	}{
		// Unknown keys.
		{name: "unknown key with suggestion", edit: replace("bid = 2", "bdi = 2"), want: []string{
			"mr.toml:14: uplink[1].bid: required",
			"mr.toml:16: uplink[1].bdi: unknown key; did you mean bid?",
		}},
		{name: "keys are case-sensitive", edit: replace("bid = 1", "BID = 1"), want: []string{
			"mr.toml:10: uplink[0].bid: required",
			"mr.toml:12: uplink[0].BID: unknown key; did you mean bid?",
		}},
		{name: "unknown key without suggestion", edit: replace("[router]\n", "[router]\nfrobnicate = true\n"), want: []string{
			"mr.toml:2: router.frobnicate: unknown key; valid keys here: private_key, private_key_file, prefixes",
		}},
		{name: "unknown table", edit: appendText("\n[routr]\nx = 1\n"), want: []string{
			"mr.toml:18: routr: unknown key; did you mean router?",
		}},
		{name: "unknown quoted key", edit: replace("bid = 2", "bid = 2\n\"a b\" = 1"), want: []string{
			`mr.toml:17: uplink[1]."a b": unknown key; valid keys here:`,
		}},

		// Missing keys.
		{name: "missing required key", edit: replace("signaling = \"198.18.0.1:4433\"\n", ""), want: []string{
			"mr.toml:5: home_agent.signaling: required: the home agent's address:port",
		}},
		{name: "missing table", edit: replace("[home_agent]\npublic_key = \"26lCuVo4AOUIJ0NP0Ug9WilpH20KwhW5f6oK4RuF1vg=\"\nsignaling = \"198.18.0.1:4433\"\ndata = [\"198.18.0.1:4434\"]\n", ""), want: []string{
			"mr.toml: home_agent.public_key: required",
			"mr.toml: home_agent.signaling: required",
			"mr.toml: home_agent.data: required: at least one address:port",
		}},
		{name: "no uplinks", edit: func(s string) string { return s[:strings.Index(s, "[[uplink]]")] }, want: []string{
			"mr.toml: uplink: required: at least one [[uplink]]",
		}},
		{name: "neither private key", edit: replace("private_key = \"fPmAYHN4DvDDwzZAmZNXrIX5vRXOfKRkg3E4CT/e1Fo=\"\n", ""), want: []string{
			"mr.toml:1: router.private_key: required: private_key or private_key_file (make a key pair with `monami-mr genkey`)",
		}},
		{name: "both private keys", edit: replace("[router]\n", "[router]\nprivate_key_file = \"mr.key\"\n"), want: []string{
			"mr.toml:2: router.private_key_file: give private_key or private_key_file, not both",
		}},

		// Bad values.
		{name: "bid zero", edit: replace("bid = 1", "bid = 0"), want: []string{
			"mr.toml:12: uplink[0].bid: must be between 1 and 65535, not 0",
		}},
		{name: "bid too large", edit: replace("bid = 2", "bid = 70000"), want: []string{
			"mr.toml:16: uplink[1].bid: must be between 1 and 65535, not 70000",
		}},
		{name: "duplicate bid", edit: replace("bid = 2", "bid = 1"), want: []string{
			"mr.toml:16: uplink[1].bid: 1 is also the BID of uplink[0]; BIDs must be unique",
		}},
		{name: "duplicate uplink name", edit: replace(`"wan2"`, `"wan1"`), want: []string{
			`mr.toml:15: uplink[1].name: "wan1" is also the name of uplink[0]`,
		}},
		{name: "bad uplink name", edit: replace(`"wan2"`, `"wan 2"`), want: []string{
			`mr.toml:15: uplink[1].name: "wan 2": want 1 to 32 of A-Z a-z 0-9 _ . -`,
		}},
		{name: "uplink name too long for an interface", edit: replace(`"wan2"`, `"wan2-backup-satellite"`), want: []string{
			`mr.toml:14: uplink[1].interface: "wan2-backup-satellite" is not an interface name: want 1 to 15 bytes, none of them '/', ':' or white space; set interface, which defaults to the name`,
		}},
		{name: "interface name too long", edit: replace("bid = 2", `bid = 2`+"\ninterface = \"a-very-long-interface\""), want: []string{
			`mr.toml:17: uplink[1].interface: "a-very-long-interface" is not an interface name: want 1 to 15 bytes`,
		}},
		{name: "bad cipher", edit: appendText("\n[data]\ncipher = \"rot13\"\n"), want: []string{
			`mr.toml:19: data.cipher: "rot13": want one of aes-256-gcm, chacha20-poly1305`,
		}},
		{name: "empty cipher", edit: appendText("\n[data]\ncipher = \"\"\n"), want: []string{
			`mr.toml:19: data.cipher: "": want one of aes-256-gcm, chacha20-poly1305`,
		}},
		{name: "bad duration", edit: appendText("\n[data]\nkeepalive = \"soon\"\n"), want: []string{
			`mr.toml:19: data.keepalive: "soon" is not a duration (like "10s" or "1m30s")`,
		}},
		{name: "duration out of range", edit: appendText("\n[data]\nkeepalive = \"0s\"\n"), want: []string{
			`mr.toml:19: data.keepalive: must be between 1s and 10m, not 0s`,
		}},
		{name: "duration not a string", edit: appendText("\n[data]\nkeepalive = 10\n"), want: []string{
			`mr.toml:19: data.keepalive: must be a duration string like "10s", not an integer`,
		}},
		{name: "mtu zero", edit: appendText("\n[tun]\nmtu = 0\n"), want: []string{
			`mr.toml:19: tun.mtu: must be between 1280 and 9000, not 0`,
		}},
		{name: "host bits set", edit: replace("198.18.10.0/24", "198.18.10.1/24"), want: []string{
			"mr.toml:3: router.prefixes[0]: 198.18.10.1/24 has host bits set; did you mean 198.18.10.0/24?",
		}},
		{name: "host bits set in a multi-line array", edit: replace(`prefixes = ["198.18.10.0/24"]`, "prefixes = [\n  \"198.18.10.0/24\",\n  \"fd00:10::1/64\", # comment\n]"), want: []string{
			"mr.toml:5: router.prefixes[1]: fd00:10::1/64 has host bits set; did you mean fd00:10::/64?",
		}},
		{name: "no prefixes", edit: replace(`prefixes = ["198.18.10.0/24"]`, `prefixes = []`), want: []string{
			"mr.toml:3: router.prefixes: required: at least one prefix",
		}},
		{name: "bad prefix", edit: replace(`"198.18.10.0/24"`, `"198.18.10.0"`), want: []string{
			`mr.toml:3: router.prefixes[0]: "198.18.10.0" is not a prefix`,
		}},
		{name: "bad address", edit: replace(`"198.18.0.1:4433"`, `"198.18.0.1"`), want: []string{
			`mr.toml:7: home_agent.signaling: "198.18.0.1" is not an address:port (like "198.18.0.1:4433" or "[fd00::1]:4433")`,
		}},
		{name: "home agent port zero", edit: replace(`"198.18.0.1:4433"`, `"198.18.0.1:0"`), want: []string{
			"mr.toml:7: home_agent.signaling: the port must be between 1 and 65535",
		}},
		{name: "bad source", edit: replace("bid = 2", "bid = 2\nsource = \"wan2\""), want: []string{
			`mr.toml:17: uplink[1].source: "wan2" is not an IP address`,
		}},
		{name: "source family without endpoint", edit: replace("bid = 2", "bid = 2\nsource = \"fd00:2::2\""), want: []string{
			"mr.toml:17: uplink[1].source: no home_agent.data endpoint for IPv6 uplink wan2",
		}},
		{name: "port out of range", edit: replace("bid = 2", "bid = 2\nport = 65536"), want: []string{
			"mr.toml:17: uplink[1].port: must be between 0 and 65535, not 65536",
		}},
		{name: "same socket twice", edit: func(s string) string {
			s = replace("bid = 1", "bid = 1\ninterface = \"eth0\"\nport = 5000")(s)
			return replace("bid = 2", "bid = 2\ninterface = \"eth0\"\nport = 5000")(s)
		}, want: []string{
			"mr.toml:20: uplink[1].port: uplink[0] has the same interface, source and port 5000; use another port, or 0",
		}},
		{name: "same socket with port 0 is fine", edit: func(s string) string {
			s = replace("bid = 1", "bid = 1\ninterface = \"lo\"")(s)
			return replace("bid = 2", "bid = 2\ninterface = \"lo\"")(s)
		}},
		{name: "quic transport", edit: replace("bid = 1", "bid = 1\ntransport = \"quic\""), want: []string{
			"mr.toml:13: uplink[0].transport: transport quic is not supported yet; use udp",
		}},
		{name: "unknown transport", edit: replace("bid = 1", "bid = 1\ntransport = \"tcp\""), want: []string{
			`mr.toml:13: uplink[0].transport: "tcp": want udp`,
		}},
		{name: "public key of the wrong length", edit: replace("26lCuVo4AOUIJ0NP0Ug9WilpH20KwhW5f6oK4RuF1vg=", "AAAA"), want: []string{
			"mr.toml:6: home_agent.public_key: not a public key: want the standard base64 of 32 bytes, not 3",
		}},
		{name: "private key of the wrong length", edit: replace("fPmAYHN4DvDDwzZAmZNXrIX5vRXOfKRkg3E4CT/e1Fo=", "fPmAYHN4DvDDwzZAmZNXrIX5vRXOfKRkg3E4CT/e1FoA"), want: []string{
			"mr.toml:2: router.private_key: not a private key: want the standard base64 of 32 bytes",
		}},
		{name: "private key not base64", edit: replace("fPmAYHN4DvDDwzZAmZNXrIX5vRXOfKRkg3E4CT/e1Fo=", "not a key!"), want: []string{
			"mr.toml:2: router.private_key: not a private key: want the standard base64 of 32 bytes",
		}},

		// Types and syntax.
		{name: "wrong type", edit: replace("bid = 2", `bid = "two"`), want: []string{
			"mr.toml:16: uplink[1].bid: must be an integer, not a string",
		}},
		{name: "wrong type in an array", edit: replace(`data = ["198.18.0.1:4434"]`, `data = ["198.18.0.1:4434", 4434]`), want: []string{
			"mr.toml:8: home_agent.data[1]: must be a string, not an integer",
		}},
		{name: "table where an array of tables belongs", edit: func(s string) string {
			return s[:strings.Index(s, "[[uplink]]")] + "[uplink]\nname = \"wan1\"\nbid = 1\n"
		}, want: []string{
			"mr.toml:10: uplink: must be an array of tables ([[uplink]]), not a table",
		}},
		{name: "array of tables where a table belongs", edit: replace("[router]", "[[router]]"), want: []string{
			"mr.toml:1: router: must be a table ([router]), not an array of tables",
		}},
		{name: "value where a table belongs", edit: func(s string) string { return "data = 1\n" + s }, want: []string{
			"mr.toml:1: data: must be a table ([data]), not an integer",
		}},
		{name: "inline array of tables", edit: func(s string) string {
			return s[:strings.Index(s, "[[uplink]]")] + "[tun]\nname = \"x\"\n\n" +
				"uplink = [\n  { name = \"wan1\", bid = 1 },\n  { name = \"wan2\", bid = 0 },\n]\n"
		}, want: []string{
			// Top-level keys after [tun] belong to it.
			"mr.toml: uplink: required: at least one [[uplink]]",
			"mr.toml:13: tun.uplink: unknown key; valid keys here: name, mtu, addresses, routes",
		}},
		{name: "inline tables", edit: func(s string) string {
			return "uplink = [{ name = \"wan1\", bid = 1 },\n  { name = \"wan2\", bid = 0 }]\n" + s[:strings.Index(s, "[[uplink]]")]
		}, want: []string{
			"mr.toml:2: uplink[1].bid: must be between 1 and 65535, not 0",
		}},
		{name: "syntax error", edit: replace("bid = 2", "bid = = 2"), want: []string{
			"mr.toml:16: expected value but found '=' instead",
		}},
		{name: "duplicate key", edit: replace("bid = 2", "bid = 2\nbid = 3"), want: []string{
			"mr.toml:17: Key 'uplink.bid' has already been defined.",
		}},

		// Home agent.
		{name: "overlapping router prefixes", ha: true, edit: replace("198.18.11.0/24", "198.18.10.128/25"), want: []string{
			"ha.toml:14: mobile_router[1].prefixes[0]: 198.18.10.128/25 of mr2 overlaps 198.18.10.0/24 of mr1 (mobile_router[0]); each address must belong to one router",
		}},
		{name: "duplicate router key", ha: true, edit: replace("26lCuVo4AOUIJ0NP0Ug9WilpH20KwhW5f6oK4RuF1vg=", "FuXrlMuHQZo1vlOZ6nYzoakQS619ZrcgQS92ogFEmCY="), want: []string{
			"ha.toml:13: mobile_router[1].public_key: the same key as mobile_router[0] (mr1); each router needs its own",
		}},
		{name: "duplicate router name", ha: true, edit: replace(`"mr2"`, `"mr1"`), want: []string{
			`ha.toml:12: mobile_router[1].name: "mr1" is also the name of mobile_router[0]`,
		}},
		{name: "router prefix host bits", ha: true, edit: replace("198.18.11.0/24", "198.18.11.1/24"), want: []string{
			"ha.toml:14: mobile_router[1].prefixes[0]: 198.18.11.1/24 has host bits set; did you mean 198.18.11.0/24?",
		}},
		{name: "cipher on the home agent", ha: true, edit: appendText("\n[data]\ncipher = \"aes-256-gcm\"\n"), want: []string{
			"ha.toml:17: data.cipher: set the cipher on the mobile router; the home agent follows it",
		}},
		{name: "routes on the home agent", ha: true, edit: appendText("\n[tun]\nroutes = []\n"), want: []string{
			"ha.toml:17: tun.routes: the home agent has no routes",
		}},
		{name: "data on the signaling port", ha: true, edit: replace(`data = ["198.18.0.1:4434"]`, `data = ["198.18.0.1:4434", "198.18.0.1:4433"]`), want: []string{
			"ha.toml:4: home_agent.data[1]: 198.18.0.1:4433 is also home_agent.signaling; both are UDP, so use another port",
		}},
		{name: "no mobile routers", ha: true, edit: func(s string) string { return s[:strings.Index(s, "[[mobile_router]]")] }, want: []string{
			"ha.toml: mobile_router: required: at least one [[mobile_router]]",
		}},
		{name: "home agent neither private key", ha: true, edit: replace("private_key = \"UvbupEmw91KqqDX8iulF3baqETonPk2Jyiy/2DYOeb8=\"\n", ""), want: []string{
			"ha.toml:1: home_agent.private_key: required: private_key or private_key_file (make a key pair with `monami-ha genkey`)",
		}},
		{name: "listen port zero is fine", ha: true, edit: replace(`"198.18.0.1:4433"`, `"127.0.0.1:0"`)},

		// Everything at once.
		{name: "many errors", edit: func(s string) string {
			s = replace("bid = 1", "bid = 0")(s)
			s = replace("bid = 2", "bid = 99999\nbdi = 3")(s)
			s = replace("198.18.10.0/24", "nonsense")(s)
			return replace(`"wan2"`, `"wan1"`)(s) + "\n[data]\ncipher = \"rot13\"\nkeepalive = \"1h\"\n"
		}, want: []string{
			`mr.toml:3: router.prefixes[0]: "nonsense" is not a prefix`,
			"mr.toml:12: uplink[0].bid: must be between 1 and 65535, not 0",
			`mr.toml:15: uplink[1].name: "wan1" is also the name of uplink[0]`,
			"mr.toml:16: uplink[1].bid: must be between 1 and 65535, not 99999",
			"mr.toml:17: uplink[1].bdi: unknown key; did you mean bid?",
			`mr.toml:20: data.cipher: "rot13": want one of`,
			"mr.toml:21: data.keepalive: must be between 1s and 10m, not 1h0m0s",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.ha {
				var c *HomeAgent
				c, err = ParseHomeAgent("ha.toml", []byte(tc.edit(minHA)))
				if err != nil && c != nil {
					t.Error("a configuration returned with an error")
				}
			} else {
				var c *MobileRouter
				c, err = ParseMobileRouter("mr.toml", []byte(tc.edit(minMR)))
				if err != nil && c != nil {
					t.Error("a configuration returned with an error")
				}
			}
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("%d errors, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("error %d:\n got %s\nwant %s...", i, lines[i], w)
				}
			}
		})
	}
}

func TestErrorValues(t *testing.T) {
	src := strings.Replace(minMR, "bid = 2", "bid = 0\nbdi = 1", 1)
	_, err := ParseMobileRouter("dir/mr.toml", []byte(src))
	var first *Error
	if !errors.As(err, &first) {
		t.Fatalf("not a *configs.Error: %T %v", err, err)
	}
	if *first != (Error{File: "dir/mr.toml", Line: 16, Key: "uplink[1].bid", Msg: "must be between 1 and 65535, not 0"}) {
		t.Errorf("first error %#v", *first)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("not a joined error: %T", err)
	}
	if n := len(joined.Unwrap()); n != 2 {
		t.Errorf("%d errors, want 2: %v", n, err)
	}
	for _, e := range joined.Unwrap() {
		if _, ok := e.(*Error); !ok {
			t.Errorf("%T in the joined error", e)
		}
	}
	// The same input gives the same report.
	for range 20 {
		_, again := ParseMobileRouter("dir/mr.toml", []byte(src+"zz = 1\nyy = 2\nxx = 3\n"))
		_, first := ParseMobileRouter("dir/mr.toml", []byte(src+"zz = 1\nyy = 2\nxx = 3\n"))
		if again.Error() != first.Error() {
			t.Fatalf("two reports of one file:\n%v\n%v", first, again)
		}
	}
}

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  Error
		want string
	}{
		{name: "all", err: Error{File: "mr.toml", Line: 3, Key: "tun.mtu", Msg: "bad"}, want: "mr.toml:3: tun.mtu: bad"},
		{name: "no line", err: Error{File: "mr.toml", Key: "uplink", Msg: "bad"}, want: "mr.toml: uplink: bad"},
		{name: "no key", err: Error{File: "mr.toml", Line: 3, Msg: "bad"}, want: "mr.toml:3: bad"},
		{name: "no file", err: Error{Key: "uplink[0].bid", Msg: "bad"}, want: "uplink[0].bid: bad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPrivateKeyFile(t *testing.T) {
	const key = "fPmAYHN4DvDDwzZAmZNXrIX5vRXOfKRkg3E4CT/e1Fo="
	genkeyOutput := "private_key = \"" + key + "\"\npublic_key = \"FuXrlMuHQZo1vlOZ6nYzoakQS619ZrcgQS92ogFEmCY=\"\n"
	for _, tc := range []struct {
		name    string
		content string // of mr.key, if not ""
		mode    os.FileMode
		ref     string // the private_key_file value
		want    string // error prefix, or "" for success
	}{
		{name: "bare base64", content: key + "\n", mode: 0o600, ref: "mr.key"},
		{name: "genkey output", content: genkeyOutput, mode: 0o600, ref: "mr.key"},
		{name: "absolute path", content: key, mode: 0o600, ref: "ABS/mr.key"},
		{name: "readable by others is fine", content: key, mode: 0o644, ref: "mr.key"},
		{name: "world-writable", content: key, mode: 0o666, ref: "mr.key", want: "mr.toml:2: router.private_key_file: DIR/mr.key is writable by everyone; chmod 600 it"},
		{name: "missing", ref: "nope.key", want: "mr.toml:2: router.private_key_file: stat DIR/nope.key: no such file or directory"},
		{name: "a directory", ref: ".", want: "mr.toml:2: router.private_key_file: DIR is not a regular file"},
		{name: "empty name", ref: "", want: "mr.toml:2: router.private_key_file: must name a file"},
		{name: "not a key", content: "hello\n", mode: 0o600, ref: "mr.key", want: "mr.toml:2: router.private_key_file: DIR/mr.key: not a private key: want the standard base64 of 32 bytes"},
		{name: "a public key", content: "FuXrlMuHQZo1vlOZ6nYzoakQS619ZrcgQS92ogFEmCY=", mode: 0o600, ref: "mr.key"}, // 32 bytes: indistinguishable from a seed
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.content != "" {
				if err := os.WriteFile(filepath.Join(dir, "mr.key"), []byte(tc.content), tc.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(filepath.Join(dir, "mr.key"), tc.mode); err != nil { // past the umask
					t.Fatal(err)
				}
			}
			ref := strings.Replace(tc.ref, "ABS", dir, 1)
			src := strings.Replace(minMR, `private_key = "`+key+`"`, `private_key_file = "`+ref+`"`, 1)
			path := filepath.Join(dir, "mr.toml")
			if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := LoadMobileRouter(path)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.name != "a public key" && FormatPrivateKey(c.Router.PrivateKey) != key {
					t.Error("the key file was not read")
				}
				return
			}
			want := strings.ReplaceAll(strings.Replace(tc.want, "mr.toml", path, 1), "DIR", dir)
			if err == nil || err.Error() != want && !strings.HasPrefix(err.Error(), want) {
				t.Errorf("got  %v\nwant %s", err, want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("more than one error: %v", err)
			}
		})
	}
}

func TestValidateBuiltInCode(t *testing.T) {
	priv, pub, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	c := &MobileRouter{
		Router:    RouterSection{PrivateKey: priv, Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.10.0/24")}},
		HomeAgent: HomeAgentPeer{PublicKey: pub, Signaling: netip.MustParseAddrPort("198.18.0.1:4433"), Data: []netip.AddrPort{netip.MustParseAddrPort("198.18.0.1:4434")}},
		Uplinks:   []Uplink{{Name: "wan1", BID: 1}},
	}
	err = c.Validate()
	want := []string{
		`tun.name: "" is not an interface name`,
		"tun.mtu: must be between 1280 and 9000, not 0",
		`data.cipher: "": want one of`,
		"data.keepalive: must be between 1s and 10m, not 0s",
		"router.state_dir: must name a directory",
		`uplink[0].interface: "" is not an interface name`,
		`uplink[0].transport: "": want udp`,
		"uplink[0].cap_reset_day: must be a day of the month between 1 and 28, not 0",
		"policy.default_prefer: required: at least one of cost, delay, jitter, loss, bandwidth",
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("got %s, want %s...", lines[i], w)
		}
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		t.Errorf("with defaults: %v", err)
	}
	c.Uplinks[0].BID = 0
	c.File = "built"
	if err := c.Validate(); err == nil || err.Error() != "built: uplink[0].bid: required: the uplink's Binding ID, 1 to 65535, unique" {
		t.Errorf("got %v", err)
	}

	ha := &HomeAgent{
		HomeAgent:     HomeAgentSection{PrivateKey: priv, Signaling: netip.MustParseAddrPort("198.18.0.1:4433"), Data: []netip.AddrPort{netip.MustParseAddrPort("198.18.0.1:4434")}},
		MobileRouters: []MobileRouterPeer{{Name: "mr1", PublicKey: pub, Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.10.0/24")}}},
	}
	ha.setDefaults()
	if err := ha.Validate(); err != nil {
		t.Errorf("home agent: %v", err)
	}
	ha.MobileRouters[0].PublicKey = pub[:31]
	ha.HomeAgent.PrivateKey = nil
	if err := ha.Validate(); err == nil || !strings.Contains(err.Error(), "mobile_router[0].public_key: not an Ed25519 public key (31 bytes, want 32)") ||
		!strings.Contains(err.Error(), "home_agent.private_key: required") {
		t.Errorf("got %v", err)
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       time.Duration
		err        bool
	}{
		{name: "seconds", text: "1.5s", want: 1500 * time.Millisecond},
		{name: "milliseconds", text: "250ms", want: 250 * time.Millisecond},
		{name: "mixed", text: "1m30s", want: 90 * time.Second},
		{name: "no unit", text: "10", err: true},
		{name: "empty", text: "", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Duration
			err := d.UnmarshalText([]byte(tc.text))
			if (err != nil) != tc.err || d.Duration != tc.want {
				t.Fatalf("got %v, %v", d, err)
			}
			if err == nil {
				b, _ := d.MarshalText()
				var back Duration
				if back.UnmarshalText(b) != nil || back != d {
					t.Errorf("round trip via %q gave %v", b, back)
				}
			}
		})
	}
}

func TestKeys(t *testing.T) {
	priv, pub, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	p2, err := ParsePrivateKey(FormatPrivateKey(priv))
	if err != nil || !p2.Equal(priv) {
		t.Errorf("private key round trip: %v", err)
	}
	pub2, err := ParsePublicKey(FormatPublicKey(pub))
	if err != nil || !pub2.Equal(pub) {
		t.Errorf("public key round trip: %v", err)
	}
	if len(FormatPrivateKey(priv)) != 44 || len(FormatPublicKey(pub)) != 44 {
		t.Error("keys are not 44 base64 characters")
	}
	if FormatPrivateKey(priv[:10]) != "" {
		t.Error("formatted a short private key")
	}
	for _, s := range []string{"", "AAAA", FormatPublicKey(pub) + "AAAA", "!!!!"} {
		if _, err := ParsePublicKey(s); err == nil {
			t.Errorf("ParsePublicKey(%q) accepted", s)
		}
		if _, err := ParsePrivateKey(s); err == nil {
			t.Errorf("ParsePrivateKey(%q) accepted", s)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"name", "interface", "bid", "source", "port", "transport"}
	for _, tc := range []struct{ name, key, want string }{
		{name: "transposed", key: "bdi", want: "bid"},
		{name: "case", key: "Interface", want: "interface"},
		{name: "missing letter", key: "sorce", want: "source"},
		{name: "two edits", key: "trnsprt", want: "transport"},
		{name: "three edits", key: "trnsprtt", want: ""},
		{name: "close", key: "ports", want: "port"},
		{name: "too short to guess", key: "x", want: ""},
		{name: "unrelated", key: "gateway", want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Suggest(tc.key, known); got != tc.want {
				t.Errorf("Suggest(%q) = %q, want %q", tc.key, got, tc.want)
			}
		})
	}
}
