// SPDX-License-Identifier: MIT

package tunnel

import (
	"net/netip"
	"testing"

	"monami/paths"
)

func TestPrefixTableLongestMatch(t *testing.T) {
	a, b, c := &peer{name: "a"}, &peer{name: "b"}, &peer{name: "c"}
	tab := newPrefixTable([]prefixEntry{
		{netip.MustParsePrefix("198.18.0.0/16"), a},
		{netip.MustParsePrefix("198.18.10.0/24"), b},
		{netip.MustParsePrefix("198.18.10.128/25"), c},
		{netip.MustParsePrefix("fd00:10::/64"), b},
		{netip.MustParsePrefix("fd00::/8"), a},
	})
	for _, tc := range []struct {
		addr string
		want *peer
	}{
		{"198.18.10.1", b},
		{"198.18.10.200", c},
		{"198.18.99.1", a},
		{"198.19.0.1", nil},
		{"fd00:10::5", b},
		{"fd00:99::5", a},
		{"2001:db8::1", nil},
	} {
		if got := tab.lookup(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("lookup(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

func TestFlowTable(t *testing.T) {
	var ft flowTable
	ft.init(16)
	ft.put(0xabcdef0000000005, 7)
	if got := ft.get(0xabcdef0000000005); got != 7 {
		t.Fatalf("get = %d, want 7", got)
	}
	// A different flow in the same slot is a miss, never a wrong BID.
	if got := ft.get(0x1234560000000005); got != 0 {
		t.Fatalf("colliding flow got BID %d, want a miss", got)
	}
	ft.put(0xabcdef0000000005, paths.BID(9))
	if got := ft.get(0xabcdef0000000005); got != 9 {
		t.Fatalf("moved flow: get = %d, want 9", got)
	}
}
