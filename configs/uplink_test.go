// SPDX-License-Identifier: MIT

package configs

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"monami/paths"
)

// wantErrors checks that err lists exactly the errors whose prefixes are
// want, in order; want empty means err is nil.
func wantErrors(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("rejected: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("error %d:\n got %s\nwant %s...", i, lines[i], w)
		}
	}
}

// TestUplinkErrors covers the keys of issue #5 (selection, path
// characteristics, caps, tags, state, policy) on minMR, where uplink[1]
// ("wan2") has bid = 2 on line 16.
func TestUplinkErrors(t *testing.T) {
	wan2 := func(extra string) func(string) string { return replace("bid = 2", "bid = 2\n"+extra) }
	for _, tc := range []struct {
		name string
		edit func(string) string
		want []string
	}{
		// Selection.
		{name: "match", edit: wan2(`match = "wwan*"`)},
		{name: "type", edit: wan2(`type = "wifi"`)},
		{name: "match and type", edit: wan2("match = \"wwan[0-9]\"\ntype = \"cellular\"\nmax_links = 64")},
		{name: "interface and match", edit: wan2("interface = \"wwan0\"\nmatch = \"wwan*\""), want: []string{
			"mr.toml:17: uplink[1].interface: give interface, or match and/or type, not both",
		}},
		{name: "interface and type", edit: wan2("type = \"wwan\"\ninterface = \"wwan0\""), want: []string{
			"mr.toml:18: uplink[1].interface: give interface, or match and/or type, not both",
		}},
		{name: "bad pattern", edit: wan2(`match = "wwan["`), want: []string{
			`mr.toml:17: uplink[1].match: "wwan[" is not a valid pattern`,
		}},
		{name: "pattern with a slash", edit: wan2(`match = "a/*"`), want: []string{
			`mr.toml:17: uplink[1].match: "a/*": want a pattern of interface names like "wwan*": 1 to 64 bytes, no '/' or white space`,
		}},
		{name: "empty pattern", edit: wan2(`match = ""`), want: []string{
			`mr.toml:17: uplink[1].match: "": want a pattern of interface names`,
		}},
		{name: "pattern too long", edit: wan2(`match = "` + strings.Repeat("w", 65) + `"`), want: []string{
			`mr.toml:17: uplink[1].match: "www`,
		}},
		{name: "unknown type", edit: wan2(`type = "lte"`), want: []string{
			`mr.toml:17: uplink[1].type: "lte": want one of any, ethernet, wifi, wwan, cellular,`,
		}},
		{name: "types are case-sensitive", edit: wan2(`type = "WWAN"`), want: []string{
			`mr.toml:17: uplink[1].type: "WWAN": want one of`,
		}},
		{name: "type not a string", edit: wan2(`type = 1`), want: []string{
			"mr.toml:17: uplink[1].type: must be a string, not an integer",
		}},
		{name: "max_links on a named uplink", edit: wan2("max_links = 2"), want: []string{
			"mr.toml:17: uplink[1].max_links: max_links is for an uplink that selects interfaces with match or type",
		}},
		{name: "max_links too large", edit: wan2("type = \"wwan\"\nmax_links = 65"), want: []string{
			"mr.toml:18: uplink[1].max_links: must be between 1 and 64, not 65",
		}},
		{name: "max_links zero", edit: wan2("type = \"wwan\"\nmax_links = 0"), want: []string{
			"mr.toml:18: uplink[1].max_links: must be between 1 and 64, not 0",
		}},
		{name: "source on a selecting uplink", edit: wan2("match = \"wwan*\"\nsource = \"198.18.1.2\""), want: []string{
			"mr.toml:18: uplink[1].source: a fixed source address is for an uplink that names its interface, not with match or type",
		}},
		{name: "port on a selecting uplink is fine", edit: wan2("match = \"wwan*\"\nport = 5000")},

		// BID ranges.
		{name: "range overlaps a BID", edit: replace("bid = 2", "bid = 1\nmatch = \"wwan*\""), want: []string{
			"mr.toml:16: uplink[1].bid: BIDs 1 to 4 of wan2 and BID 1 of wan1 (uplink[0]) overlap; each uplink needs BIDs of its own",
		}},
		{name: "BID inside a range", edit: replace("bid = 1", "bid = 1\ntype = \"any\"\nmax_links = 2"), want: []string{
			"mr.toml:18: uplink[1].bid: BID 2 of wan2 and BIDs 1 to 2 of wan1 (uplink[0]) overlap; each uplink needs BIDs of its own",
		}},
		{name: "adjacent ranges are fine", edit: func(s string) string {
			s = replace("bid = 1", "bid = 3\ntype = \"any\"\nmax_links = 2")(s)
			return replace("bid = 2", "bid = 1\nmatch = \"x*\"\nmax_links = 2")(s)
		}},
		{name: "two ranges overlap", edit: func(s string) string {
			s = replace("bid = 1", "bid = 10\ntype = \"wwan\"")(s)
			return replace("bid = 2", "bid = 13\nmatch = \"wlan*\"\nmax_links = 8")(s)
		}, want: []string{
			"mr.toml:17: uplink[1].bid: BIDs 13 to 20 of wan2 and BIDs 10 to 13 of wan1 (uplink[0]) overlap",
		}},
		{name: "range past 65535", edit: replace("bid = 2", "bid = 65533\ntype = \"wwan\""), want: []string{
			"mr.toml:16: uplink[1].bid: the range of 4 BIDs from 65533 passes 65535; lower bid or max_links",
		}},
		{name: "range up to 65535", edit: replace("bid = 2", "bid = 65532\ntype = \"wwan\"")},

		// Path characteristics.
		{name: "characteristics", edit: wan2("cost = 0.5\nmetered = true\ncap_daily = 1000\ncap_monthly = \"1.5 TiB\"\ncap_reset_day = 28\ntags = [\"sat\", \"backup_1\", \"x-y\"]")},
		{name: "integer cost", edit: wan2("cost = 3")},
		{name: "negative cost", edit: wan2("cost = -0.5"), want: []string{
			"mr.toml:17: uplink[1].cost: must be a finite number ≥ 0 (money per GB), not -0.5",
		}},
		{name: "cost NaN", edit: wan2("cost = nan"), want: []string{
			"mr.toml:17: uplink[1].cost: must be a finite number ≥ 0 (money per GB), not NaN",
		}},
		{name: "cost infinite", edit: wan2("cost = inf"), want: []string{
			"mr.toml:17: uplink[1].cost: must be a finite number ≥ 0 (money per GB), not +Inf",
		}},
		{name: "cost not a number", edit: wan2(`cost = "cheap"`), want: []string{
			"mr.toml:17: uplink[1].cost: must be a number, not a string",
		}},
		{name: "metered not a boolean", edit: wan2(`metered = "yes"`), want: []string{
			"mr.toml:17: uplink[1].metered: must be true or false, not a string",
		}},
		{name: "cap with an unknown unit", edit: wan2(`cap_daily = "10 gigs"`), want: []string{
			`mr.toml:17: uplink[1].cap_daily: "10 gigs": unknown unit "gigs"; want B, kB, MB, GB, TB, PB (powers of 1000) or KiB, MiB, GiB, TiB, PiB (powers of 1024)`,
		}},
		{name: "cap without a unit", edit: wan2(`cap_daily = "500"`), want: []string{
			`mr.toml:17: uplink[1].cap_daily: "500" has no unit`,
		}},
		{name: "cap not a number", edit: wan2(`cap_monthly = "GB"`), want: []string{
			`mr.toml:17: uplink[1].cap_monthly: "GB" is not a size`,
		}},
		{name: "negative cap", edit: wan2("cap_daily = -5"), want: []string{
			"mr.toml:17: uplink[1].cap_daily: must be ≥ 0 bytes, not -5",
		}},
		{name: "cap as a float", edit: wan2("cap_daily = 1.5"), want: []string{
			`mr.toml:17: uplink[1].cap_daily: must be a size like "10GB" or an integer of bytes, not a float`,
		}},
		{name: "cap too large", edit: wan2(`cap_monthly = "99999PB"`), want: []string{
			`mr.toml:17: uplink[1].cap_monthly: "99999PB" is too large`,
		}},
		{name: "reset day 29", edit: wan2("cap_reset_day = 29"), want: []string{
			"mr.toml:17: uplink[1].cap_reset_day: must be a day of the month between 1 and 28, not 29",
		}},
		{name: "reset day 0", edit: wan2("cap_reset_day = 0"), want: []string{
			"mr.toml:17: uplink[1].cap_reset_day: must be a day of the month between 1 and 28, not 0",
		}},
		{name: "bad tag", edit: wan2(`tags = ["ok", "Cell"]`), want: []string{
			`mr.toml:17: uplink[1].tags[1]: "Cell": want 1 to 32 of a-z 0-9 _ -`,
		}},
		{name: "empty tag", edit: wan2(`tags = [""]`), want: []string{
			`mr.toml:17: uplink[1].tags[0]: "": want 1 to 32 of a-z 0-9 _ -`,
		}},
		{name: "tag too long", edit: wan2(`tags = ["` + strings.Repeat("a", 33) + `"]`), want: []string{
			`mr.toml:17: uplink[1].tags[0]: "aaaa`,
		}},
		{name: "repeated tag", edit: wan2("tags = [\n  \"a\",\n  \"b\",\n  \"a\",\n]"), want: []string{
			`mr.toml:20: uplink[1].tags[2]: "a" is also tags[0]`,
		}},
		{name: "tags not an array", edit: wan2(`tags = "cellular"`), want: []string{
			"mr.toml:17: uplink[1].tags: must be an array of strings, not a string",
		}},
		{name: "tag not a string", edit: wan2(`tags = [1]`), want: []string{
			"mr.toml:17: uplink[1].tags[0]: must be a string, not an integer",
		}},
		{name: "new key misspelt", edit: wan2("cap_dialy = 1"), want: []string{
			"mr.toml:17: uplink[1].cap_dialy: unknown key; did you mean cap_daily?",
		}},

		// [router] state.
		{name: "empty state_dir", edit: replace("[router]\n", "[router]\nstate_dir = \"\"\n"), want: []string{
			"mr.toml:2: router.state_dir: must name a directory",
		}},
		{name: "control_socket off", edit: replace("[router]\n", "[router]\ncontrol_socket = \"\"\n")},
		{name: "control_socket too long", edit: replace("[router]\n", "[router]\ncontrol_socket = \"/"+strings.Repeat("s", 107)+"\"\n"), want: []string{
			"mr.toml:2: router.control_socket: /sss",
		}},
		{name: "state_dir not a string", edit: replace("[router]\n", "[router]\nstate_dir = 1\n"), want: []string{
			"mr.toml:2: router.state_dir: must be a string, not an integer",
		}},

		// [policy].
		{name: "missing policy file", edit: appendText("\n[policy]\nfiles = [\"nope.toml\"]\n"), want: []string{
			"mr.toml:19: policy.files[0]: stat /",
		}},
		{name: "policy file a directory", edit: appendText("\n[policy]\nfiles = [\n  \"/\",\n]\n"), want: []string{
			"mr.toml:20: policy.files[0]: / is not a regular file",
		}},
		{name: "empty policy file name", edit: appendText("\n[policy]\nfiles = [\"\"]\n"), want: []string{
			"mr.toml:19: policy.files[0]: must name a file",
		}},
		{name: "unknown criterion", edit: appendText("\n[policy]\ndefault_prefer = [\"delay\", \"price\"]\n"), want: []string{
			`mr.toml:19: policy.default_prefer[1]: "price": want one of cost, delay, jitter, loss, bandwidth`,
		}},
		{name: "repeated criterion", edit: appendText("\n[policy]\ndefault_prefer = [\"loss\", \"loss\"]\n"), want: []string{
			`mr.toml:19: policy.default_prefer[1]: "loss" is also default_prefer[0]`,
		}},
		{name: "no criterion", edit: appendText("\n[policy]\ndefault_prefer = []\n"), want: []string{
			"mr.toml:19: policy.default_prefer: required: at least one of cost, delay, jitter, loss, bandwidth",
		}},
		{name: "every criterion", edit: appendText("\n[policy]\ndefault_prefer = [\"bandwidth\", \"loss\", \"jitter\", \"delay\", \"cost\"]\n")},
		{name: "unknown policy key", edit: appendText("\n[policy]\nfile = []\n"), want: []string{
			"mr.toml:19: policy.file: unknown key; did you mean files?",
		}},
		{name: "policy not a table", edit: func(s string) string { return "policy = [\"a\"]\n" + s }, want: []string{
			"mr.toml:1: policy: must be a table ([policy]), not an array",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseMobileRouter("mr.toml", []byte(tc.edit(minMR)))
			if err != nil && c != nil {
				t.Error("a configuration returned with an error")
			}
			wantErrors(t, err, tc.want)
			if err == nil {
				if err := c.Validate(); err != nil {
					t.Errorf("Validate of the loaded configuration: %v", err)
				}
			}
		})
	}
}

func TestSelectingUplink(t *testing.T) {
	src := replace("bid = 2", "bid = 20\nmatch = \"wwan*\"\ntype = \"wwan\"\ncost = 1.25\nmetered = true\ncap_daily = \"2GiB\"\ncap_monthly = 5000000000\ncap_reset_day = 7\ntags = [\"cellular\", \"lte\"]")(minMR)
	c, err := ParseMobileRouter("mr.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := Uplink{Name: "wan2", Match: "wwan*", Type: "wwan", MaxLinks: DefaultMaxLinks, BID: 20, Transport: "udp",
		Cost: 1.25, Metered: true, CapDaily: 2 << 30, CapMonthly: 5e9, CapResetDay: 7, Tags: []string{"cellular", "lte"}}
	if u := c.Uplinks[1]; !reflect.DeepEqual(u, want) {
		t.Errorf("got  %+v\nwant %+v", u, want)
	}
	if !c.Uplinks[1].Selecting() || c.Uplinks[0].Selecting() {
		t.Error("Selecting")
	}
	if f, l := c.Uplinks[1].BIDs(); f != 20 || l != 23 {
		t.Errorf("BIDs %d to %d, want 20 to 23", f, l)
	}
	if f, l := c.Uplinks[0].BIDs(); f != 1 || l != 1 {
		t.Errorf("named BIDs %d to %d, want 1 to 1", f, l)
	}
}

func TestValidateSelectingBuiltInCode(t *testing.T) {
	c, err := ParseMobileRouter("mr.toml", []byte(minMR))
	if err != nil {
		t.Fatal(err)
	}
	c.Uplinks[1] = Uplink{Name: "cell", Interface: "wwan0", Type: "wwan", BID: 2, Transport: "udp", CapResetDay: 1}
	c.Policy.Files = []string{"rel.toml", "/a.toml", "/a.toml", ""}
	c.Router.StateDir = "state"
	c.Router.ControlSocket = "mr.sock"
	c.Uplinks[0].Cost = math.Inf(1)
	c.Uplinks[0].Tags = []string{"x", "x"}
	wantErrors(t, c.Validate(), []string{
		`mr.toml: router.state_dir: "state": want an absolute path`,
		`mr.toml: router.control_socket: "mr.sock": want an absolute path`,
		"mr.toml: uplink[0].cost: must be a finite number ≥ 0 (money per GB), not +Inf",
		`mr.toml: uplink[0].tags[1]: "x" is also tags[0]`,
		"mr.toml: uplink[1].interface: give interface, or match and/or type, not both",
		"mr.toml: uplink[1].max_links: must be between 1 and 64, not 0",
		`mr.toml: policy.files[0]: "rel.toml": want an absolute path`,
		"mr.toml: policy.files[2]: /a.toml is also policy.files[1]",
		"mr.toml: policy.files[3]: must name a file",
	})
	c.Uplinks[1].Interface = ""
	c.Uplinks[1].BID = 1
	c.Uplinks[0] = Uplink{Name: "wan1", Interface: "wan1", MaxLinks: 2, BID: 1, Transport: "udp", CapResetDay: 1}
	c.Policy.Files = nil
	c.Router.StateDir, c.Router.ControlSocket = "/s", ""
	c.setDefaults()
	wantErrors(t, c.Validate(), []string{
		"mr.toml: uplink[0].max_links: max_links is for an uplink that selects interfaces with match or type",
		"mr.toml: uplink[1].bid: BIDs 1 to 4 of cell and BID 1 of wan1 (uplink[0]) overlap",
	})
}

// TestPaths: relative paths are relative to the configuration's directory
// and come out absolute; policy files must exist.
func TestPaths(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.toml", "b.toml"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("# policy\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	abs := filepath.Join(dir, "b.toml")
	src := replace("[router]\n", "[router]\nstate_dir = \"state\"\ncontrol_socket = \"run/mr.sock\"\n")(minMR) +
		fmt.Sprintf("\n[policy]\nfiles = [\"a.toml\", %q]\n", abs)
	path := filepath.Join(dir, "mr.toml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadMobileRouter(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Router.StateDir != filepath.Join(dir, "state") || c.Router.ControlSocket != filepath.Join(dir, "run/mr.sock") {
		t.Errorf("router %q %q", c.Router.StateDir, c.Router.ControlSocket)
	}
	if want := []string{filepath.Join(dir, "a.toml"), abs}; !reflect.DeepEqual(c.Policy.Files, want) {
		t.Errorf("files %q, want %q", c.Policy.Files, want)
	}

	// The same file twice, once by a relative name.
	src = strings.Replace(src, `"a.toml"`, `"b.toml"`, 1)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadMobileRouter(path)
	wantErrors(t, err, []string{path + ":21: policy.files[1]: " + abs + " is also policy.files[0]"})

	// A relative name in a file given by a relative name is made absolute.
	t.Chdir(dir)
	c, err = ParseMobileRouter("mr.toml", []byte(strings.Replace(src, `"b.toml", `, "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Policy.Files[0] != abs || c.Router.StateDir != filepath.Join(dir, "state") {
		t.Errorf("files %q state %q", c.Policy.Files, c.Router.StateDir)
	}
}

func TestBIDFor(t *testing.T) {
	sel := Uplink{Name: "cell", Match: "wwan*", MaxLinks: 4, BID: 100}
	inRange := func(b paths.BID) bool { return b >= 100 && b <= 103 }

	// Deterministic, in range, and (for these names) pinned: the function
	// must not change between versions, or interfaces change BIDs.
	pinned := map[string]paths.BID{}
	for _, name := range []string{"wwan0", "wwan1", "wwan2", "wwan3", "wwp0s20u4"} {
		b, ok := sel.BIDFor(name, nil)
		if !ok || !inRange(b) {
			t.Fatalf("BIDFor(%s) = %d, %v", name, b, ok)
		}
		if again, _ := sel.BIDFor(name, nil); again != b {
			t.Fatalf("BIDFor(%s) is not stable: %d then %d", name, b, again)
		}
		pinned[name] = b
	}
	// FNV-1a("wwan0") = 0x6624a328, mod 4 = 0; "wwan1" = 0x6724a4bb → 3;
	// "wwan2" = 0x6824a64e → 2; "wwan3" = 0x6924a7e1 → 1.
	for name, want := range map[string]paths.BID{"wwan0": 100, "wwan1": 103, "wwan2": 102, "wwan3": 101} {
		if got := pinned[name]; got != want {
			t.Errorf("BIDFor(%s) = %d, want %d", name, got, want)
		}
	}

	// Linear probing within the range, wrapping around.
	taken := map[paths.BID]bool{}
	isTaken := func(b paths.BID) bool { return taken[b] }
	var got []paths.BID
	for _, name := range []string{"wwan3", "wwan7", "wwan10", "wwan14"} { // all hash to offset 1
		b, ok := sel.BIDFor(name, isTaken)
		if !ok {
			t.Fatalf("no BID for %s with %v taken", name, taken)
		}
		taken[b] = true
		got = append(got, b)
	}
	if want := []paths.BID{101, 102, 103, 100}; !slices.Equal(got, want) {
		t.Errorf("probing gave %v, want %v", got, want)
	}
	if b, ok := sel.BIDFor("wwan4", isTaken); ok {
		t.Errorf("a full range gave %d", b)
	}

	named := Uplink{Name: "wan1", Interface: "eth0", BID: 7}
	if b, ok := named.BIDFor("eth0", nil); !ok || b != 7 {
		t.Errorf("named: %d, %v", b, ok)
	}
	if _, ok := named.BIDFor("eth1", nil); ok {
		t.Error("named uplink gave a BID to another interface")
	}
	if _, ok := named.BIDFor("eth0", func(b paths.BID) bool { return b == 7 }); ok {
		t.Error("named uplink gave a taken BID")
	}
	for _, u := range []Uplink{
		{Match: "x", MaxLinks: 4},              // no BID
		{Match: "x", MaxLinks: 4, BID: 65533},  // range past 65535
		{Match: "x", MaxLinks: 64, BID: 65472}, // up to 65535: valid
	} {
		_, ok := u.BIDFor("x0", nil)
		if want := u.BID == 65472; ok != want {
			t.Errorf("%+v: ok %v", u, ok)
		}
	}
	if _, ok := sel.BIDFor("", nil); ok {
		t.Error("a BID for no interface")
	}
}

// TestBIDForSpread: names spread over the range, and every interface of a
// full range gets a distinct BID.
func TestBIDForSpread(t *testing.T) {
	u := Uplink{Name: "cell", Type: "wwan", MaxLinks: 64, BID: 1000}
	hits := map[paths.BID]int{}
	for i := range 6400 {
		b, _ := u.BIDFor(fmt.Sprintf("wwan%d", i), nil)
		hits[b]++
	}
	if len(hits) != 64 {
		t.Errorf("%d of 64 BIDs used", len(hits))
	}
	for b, n := range hits {
		if n < 50 || n > 150 {
			t.Errorf("BID %d chosen %d times of 6400", b, n)
		}
	}
	taken := map[paths.BID]bool{}
	for i := range 64 {
		b, ok := u.BIDFor(fmt.Sprintf("if%d", i), func(b paths.BID) bool { return taken[b] })
		if !ok || taken[b] {
			t.Fatalf("interface %d: %d, %v", i, b, ok)
		}
		taken[b] = true
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want uint64
		err  string
	}{
		{name: "bytes", in: "512B", want: 512},
		{name: "kB", in: "5kB", want: 5000},
		{name: "KB is SI", in: "5KB", want: 5000},
		{name: "MB", in: "500MB", want: 500e6},
		{name: "GB", in: "10GB", want: 10e9},
		{name: "TB fraction", in: "1.5TB", want: 1.5e12},
		{name: "PB", in: "2PB", want: 2e15},
		{name: "KiB", in: "1KiB", want: 1024},
		{name: "MiB", in: "3MiB", want: 3 << 20},
		{name: "GiB", in: "2GiB", want: 2 << 30},
		{name: "TiB fraction", in: "0.5TiB", want: 1 << 39},
		{name: "PiB", in: "1PiB", want: 1 << 50},
		{name: "space", in: " 10 GB ", want: 10e9},
		{name: "rounded down", in: "1.3KiB", want: 1331},
		{name: "fraction of a byte", in: "0.5B", want: 0},
		{name: "leading dot", in: ".25GB", want: 250e6},
		{name: "trailing dot", in: "7.MB", want: 7e6},
		{name: "zero", in: "0GB", want: 0},
		{name: "leading zeros", in: "000000000000000000000000001MB", want: 1e6},
		{name: "long fraction", in: "1.0000000000000000000000000001GB", want: 1e9},
		{name: "max", in: "18446744073709551615B", want: math.MaxUint64},
		{name: "near max", in: "16EiB", err: "unknown unit"},
		{name: "15.99 PiB x 1024", in: "16383.999PiB", want: 16383999 * (1 << 50) / 1000},
		{name: "over max", in: "18446744073709551616B", err: "too large"},
		{name: "over max by product", in: "18446.744073709551616PB", err: "too large"},
		{name: "exactly max in PB", in: "18446.744073709551615PB", want: math.MaxUint64},
		{name: "no unit", in: "500", err: "has no unit"},
		{name: "lowercase unit", in: "5gb", err: `unknown unit "gb"`},
		{name: "bits", in: "5Mb", err: `unknown unit "Mb"`},
		{name: "negative", in: "-5GB", err: "is not a size"},
		{name: "two dots", in: "1.2.3GB", err: "is not a size"},
		{name: "empty", in: "", err: "is not a size"},
		{name: "dot", in: ".GB", err: "is not a size"},
		{name: "exponent", in: "1e9B", err: `unknown unit "e9B"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSize(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseSize(%q) = %d, %v; want an error with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestLinkTypes(t *testing.T) {
	ts := LinkTypes()
	if len(ts) == 0 || !slices.Contains(ts, "wwan") || !slices.Contains(ts, "any") {
		t.Fatalf("LinkTypes() = %v", ts)
	}
	ts[0] = "changed"
	if LinkTypes()[0] == "changed" {
		t.Error("LinkTypes returned the package's own slice")
	}
	for _, typ := range LinkTypes() {
		if checkLinkType(typ) != "" {
			t.Errorf("%q is refused", typ)
		}
	}
	d := DefaultPrefer()
	d[0] = "changed"
	if DefaultPrefer()[0] != "cost" {
		t.Error("DefaultPrefer returned a shared slice")
	}
}
