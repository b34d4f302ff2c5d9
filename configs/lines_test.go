// SPDX-License-Identifier: MIT

package configs

import (
	"testing"

	"github.com/BurntSushi/toml"
)

func TestIndexLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want map[string]int
	}{
		{
			name: "tables and keys",
			src:  "# comment\n[router]\nprivate_key = \"x\" # trailing\n\n[ home_agent ]\n  signaling=\"a\"\n",
			want: map[string]int{"router": 2, "router.private_key": 3, "home_agent": 5, "home_agent.signaling": 6},
		},
		{
			name: "arrays of tables",
			src:  "[[uplink]]\nname = \"a\"\n[[uplink]]\n\nname = \"b\"\nbid = 2\n",
			want: map[string]int{"uplink": 1, "uplink[0]": 1, "uplink[0].name": 2, "uplink[1]": 3, "uplink[1].name": 5, "uplink[1].bid": 6},
		},
		{
			name: "multi-line arrays",
			src:  "a = [\n  \"x\", # one\n  # not an element\n  \"y\",\n  [1, 2],\n]\nb = 1\n",
			want: map[string]int{"a": 1, "a[0]": 2, "a[1]": 4, "a[2]": 5, "a[2][1]": 5, "b": 7},
		},
		{
			name: "multi-line strings hide look-alikes",
			src:  "a = \"\"\"\n[[uplink]]\nb = 1\n\"\"\"\nc = '''\n[x]\n'''\nd = \"\"\"q\\\"\"\"\"\"\ne = 1\n",
			want: map[string]int{"a": 1, "c": 5, "d": 8, "e": 9},
		},
		{
			name: "line-ending backslash",
			src:  "a = \"\"\"one \\\n  two\"\"\"\nb = 1\n",
			want: map[string]int{"a": 1, "b": 3},
		},
		{
			name: "quoted and dotted keys",
			src:  "[\"tun\"]\n\"a b\" = 1\n'c.d' = 2\ne . f = 3\n",
			want: map[string]int{"tun": 1, `tun."a b"`: 2, `tun."c.d"`: 3, "tun.e": 4, "tun.e.f": 4},
		},
		{
			name: "inline tables",
			src:  "uplink = [ { name = \"a\", bid = 1 },\n { name = \"b\",\n   bid = 2 } ]\nt = { x = { y = 1 } }\n",
			want: map[string]int{"uplink": 1, "uplink[0]": 1, "uplink[0].bid": 1, "uplink[1]": 2, "uplink[1].name": 2, "uplink[1].bid": 3, "t.x.y": 4},
		},
		{
			name: "nested arrays of tables",
			src:  "[[a]]\n[[a.b]]\nx = 1\n[[a]]\n[[a.b]]\n[[a.b]]\ny = 1\n[a.c]\nz = 1\n",
			want: map[string]int{"a[0]": 1, "a[0].b[0]": 2, "a[0].b[0].x": 3, "a[1]": 4, "a[1].b[0]": 5, "a[1].b[1]": 6, "a[1].b[1].y": 7, "a[1].c": 8, "a[1].c.z": 9},
		},
		{
			name: "strings with quotes and brackets",
			src:  "a = \"x\\\"]#\" # c\nb = 'it\"s'\nc = [\"]\", '[']\nd = 1979-05-27 07:32:00Z\ne = 2\n",
			want: map[string]int{"a": 1, "b": 2, "c": 3, "c[1]": 3, "d": 4, "e": 5},
		},
		{
			name: "CRLF",
			src:  "[tun]\r\nname = \"x\"\r\n\r\nmtu = 1400\r\n",
			want: map[string]int{"tun": 1, "tun.name": 2, "tun.mtu": 4},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if _, err := toml.Decode(tc.src, &m); err != nil {
				t.Fatalf("the test's TOML is invalid: %v", err)
			}
			idx := indexLines([]byte(tc.src))
			for k, want := range tc.want {
				if got := idx[k]; got != want {
					t.Errorf("%s: line %d, want %d (index %v)", k, got, want, idx)
				}
			}
		})
	}
}

func TestLineFallsBackToTable(t *testing.T) {
	idx := indexLines([]byte("[router]\n\n[[uplink]]\nname = \"a\"\n"))
	for _, tc := range []struct {
		name, key string
		want      int
	}{
		{name: "missing key", key: "router.private_key", want: 1},
		{name: "missing key of an element", key: "uplink[0].bid", want: 3},
		{name: "missing element", key: "router.prefixes[2]", want: 1},
		{name: "missing table", key: "home_agent.signaling", want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := idx.line(tc.key); got != tc.want {
				t.Errorf("line(%s) = %d, want %d", tc.key, got, tc.want)
			}
		})
	}
}

// indexLines must end and not panic on anything, valid TOML or not.
func FuzzIndexLines(f *testing.F) {
	f.Add([]byte(minMR))
	f.Add([]byte(minHA))
	f.Add([]byte("a = [[[[{\"\"\"\n'''"))
	f.Fuzz(func(t *testing.T, b []byte) {
		idx := indexLines(b)
		for k, n := range idx {
			if n < 1 || n > len(b)+1 {
				t.Fatalf("%s at line %d of a %d-byte input", k, n, len(b))
			}
		}
	})
}
