// SPDX-License-Identifier: MIT

package tun

import (
	"net/netip"
	"testing"
)

func TestIPNet(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		masked bool
		want   string
	}{
		{name: "ipv4 address keeps host bits", prefix: "198.18.10.1/24", want: "198.18.10.1/24"},
		{name: "ipv4 route is masked", prefix: "198.18.10.1/24", masked: true, want: "198.18.10.0/24"},
		{name: "ipv6 address", prefix: "fd00:10::1/64", want: "fd00:10::1/64"},
		{name: "ipv6 route", prefix: "fd00:10::1/64", masked: true, want: "fd00:10::/64"},
		{name: "ipv4-mapped becomes ipv4", prefix: "::ffff:198.18.0.1/120", masked: true, want: "198.18.0.0/24"},
		{name: "default route", prefix: "0.0.0.0/0", masked: true, want: "0.0.0.0/0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ipNet(netip.MustParsePrefix(tc.prefix), tc.masked).String(); got != tc.want {
				t.Fatalf("ipNet(%s) = %s, want %s", tc.prefix, got, tc.want)
			}
		})
	}
}
