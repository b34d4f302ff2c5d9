// SPDX-License-Identifier: MIT

package linkmon

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/sys/unix"
)

func pfx(ss ...string) []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range ss {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}

func TestSelectorMatches(t *testing.T) {
	eth := Link{Name: "eth0", Type: "ethernet"}
	vlan := Link{Name: "eth0.10", Type: "vlan"}
	wwan := Link{Name: "wwan0", Type: "wwan"}
	lo := Link{Name: "lo", Type: "loopback"}
	veth := Link{Name: "v0", Type: "veth"}
	for _, tc := range []struct {
		name string
		sel  Selector
		link Link
		want bool
	}{
		{name: "zero matches nothing", sel: Selector{}, link: eth, want: false},
		{name: "name exact", sel: Selector{Name: "eth0"}, link: eth, want: true},
		{name: "name is not a prefix", sel: Selector{Name: "eth"}, link: eth, want: false},
		{name: "name does not match vlan", sel: Selector{Name: "eth0"}, link: vlan, want: false},
		{name: "glob vlan", sel: Selector{Glob: "eth0.*"}, link: vlan, want: true},
		{name: "glob vlan not parent", sel: Selector{Glob: "eth0.*"}, link: eth, want: false},
		{name: "glob star", sel: Selector{Glob: "wwan*"}, link: wwan, want: true},
		{name: "glob class", sel: Selector{Glob: "eth[0-3]"}, link: eth, want: true},
		{name: "type ethernet", sel: Selector{Type: "ethernet"}, link: eth, want: true},
		{name: "type ethernet not vlan", sel: Selector{Type: "ethernet"}, link: vlan, want: false},
		{name: "type vlan", sel: Selector{Type: "vlan"}, link: vlan, want: true},
		{name: "type case-insensitive", sel: Selector{Type: "VLAN"}, link: vlan, want: true},
		{name: "type cellular alias", sel: Selector{Type: "cellular"}, link: wwan, want: true},
		{name: "type wwan", sel: Selector{Type: "wwan"}, link: wwan, want: true},
		{name: "type veth", sel: Selector{Type: "veth"}, link: veth, want: true},
		{name: "type veth not ethernet", sel: Selector{Type: "veth"}, link: eth, want: false},
		{name: "any", sel: Selector{Type: "any"}, link: veth, want: true},
		{name: "any not loopback", sel: Selector{Type: "any"}, link: lo, want: false},
		{name: "loopback by name", sel: Selector{Name: "lo"}, link: lo, want: true},
		{name: "glob and type both match", sel: Selector{Glob: "eth*", Type: "vlan"}, link: vlan, want: true},
		{name: "glob and type one fails", sel: Selector{Glob: "eth*", Type: "vlan"}, link: eth, want: false},
		{name: "name and glob disagree", sel: Selector{Name: "eth0", Glob: "wwan*"}, link: eth, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.sel.Matches(tc.link); got != tc.want {
				t.Errorf("%+v.Matches(%+v) = %v, want %v", tc.sel, tc.link, got, tc.want)
			}
		})
	}
}

func TestNewValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		sels []Selector
		want []string // substrings of the error; none: valid
	}{
		{name: "none"},
		{name: "valid", sels: []Selector{{Name: "wan1"}, {Glob: "eth0.*"}, {Type: "Cellular"}}},
		{name: "empty selector", sels: []Selector{{}}, want: []string{"selectors[0]", "none of"}},
		{name: "bad glob", sels: []Selector{{Name: "x"}, {Glob: "eth["}}, want: []string{"selectors[1]", "glob"}},
		{name: "unknown type", sels: []Selector{{Type: "wfi"}}, want: []string{"unknown type \"wfi\""}},
		{name: "all errors at once", sels: []Selector{{}, {Type: "nope"}}, want: []string{"selectors[0]", "selectors[1]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(Options{Selectors: tc.sels})
			if len(tc.want) == 0 {
				if err != nil || m == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("New accepted invalid selectors")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestClassify(t *testing.T) {
	sys := fstest.MapFS{
		"wlan0/wireless/x":  {},
		"wlp2s0/phy80211":   {Data: []byte("link")},
		"wlx/uevent":        {Data: []byte("INTERFACE=wlx\nDEVTYPE=wlan\n")},
		"usb0/uevent":       {Data: []byte("DEVTYPE=wwan\nINTERFACE=usb0\n")},
		"eth0/uevent":       {Data: []byte("INTERFACE=eth0\nIFINDEX=2\n")},
		"brokenwifi/uevent": {Data: []byte("DEVTYPE=wlan")},
	}
	for _, tc := range []struct {
		name, ifname, kind string
		arphrd             uint16
		flags              uint32
		want               string
	}{
		{name: "loopback flag", ifname: "lo", arphrd: unix.ARPHRD_LOOPBACK, flags: unix.IFF_LOOPBACK, want: "loopback"},
		{name: "ethernet", ifname: "eth0", arphrd: unix.ARPHRD_ETHER, want: "ethernet"},
		{name: "ethernet without sysfs", ifname: "enp1s0", arphrd: unix.ARPHRD_ETHER, want: "ethernet"},
		{name: "wifi wireless dir", ifname: "wlan0", arphrd: unix.ARPHRD_ETHER, want: "wifi"},
		{name: "wifi phy80211", ifname: "wlp2s0", arphrd: unix.ARPHRD_ETHER, want: "wifi"},
		{name: "wifi devtype", ifname: "wlx", arphrd: unix.ARPHRD_ETHER, want: "wifi"},
		{name: "wifi devtype no newline", ifname: "brokenwifi", arphrd: unix.ARPHRD_ETHER, want: "wifi"},
		{name: "wwan devtype", ifname: "usb0", arphrd: unix.ARPHRD_ETHER, want: "wwan"},
		{name: "wwan by name", ifname: "wwan0", arphrd: unix.ARPHRD_NONE, want: "wwan"},
		{name: "wwan kind", ifname: "wwan0mbim0", kind: "wwan", arphrd: unix.ARPHRD_NONE, want: "wwan"},
		{name: "rmnet kind", ifname: "rmnet_data0", kind: "rmnet", arphrd: unix.ARPHRD_RAWIP, want: "wwan"},
		{name: "vlan", ifname: "eth0.10", kind: "vlan", arphrd: unix.ARPHRD_ETHER, want: "vlan"},
		{name: "vlan named like wwan", ifname: "wwan0.10", kind: "vlan", arphrd: unix.ARPHRD_ETHER, want: "vlan"},
		{name: "veth", ifname: "v0", kind: "veth", arphrd: unix.ARPHRD_ETHER, want: "veth"},
		{name: "tun", ifname: "mona0", kind: "tun", arphrd: unix.ARPHRD_NONE, want: "tun"},
		{name: "ppp", ifname: "ppp0", arphrd: unix.ARPHRD_PPP, want: "ppp"},
		{name: "other arphrd", ifname: "sit0", arphrd: 776, want: "arphrd776"},
		{name: "path-like name", ifname: "../eth0", arphrd: unix.ARPHRD_ETHER, want: "ethernet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(sys, tc.ifname, tc.kind, tc.arphrd, tc.flags); got != tc.want {
				t.Errorf("classify(%q, %q) = %q, want %q", tc.ifname, tc.kind, got, tc.want)
			}
		})
	}
}

// replay applies events to a copy of base as a consumer would.
func replay(t *testing.T, base map[int]Link, evs []Event) map[int]Link {
	t.Helper()
	st := maps.Clone(base)
	if st == nil {
		st = map[int]Link{}
	}
	for _, ev := range evs {
		_, had := st[ev.Link.Index]
		switch ev.Kind {
		case LinkAdded:
			if had {
				t.Errorf("%v: link already present", ev)
			}
		default:
			if !had {
				t.Errorf("%v: link not present", ev)
			}
		}
		if ev.Kind == LinkRemoved {
			delete(st, ev.Link.Index)
		} else {
			st[ev.Link.Index] = ev.Link.clone()
		}
	}
	return st
}

func kinds(evs []Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.String())
	}
	return strings.Join(s, "; ")
}

func TestReconcile(t *testing.T) {
	up := func(i int, name, typ string, addrs ...string) Link {
		return Link{Index: i, Name: name, Type: typ, Up: true, Addrs: pfx(addrs...)}
	}
	down := func(i int, name, typ string, addrs ...string) Link {
		return Link{Index: i, Name: name, Type: typ, Addrs: pfx(addrs...)}
	}
	for _, tc := range []struct {
		name     string
		old, cur []Link
		want     string
	}{
		{name: "empty"},
		{name: "unchanged", old: []Link{up(2, "a", "veth", "198.18.0.1/24")}, cur: []Link{up(2, "a", "veth", "198.18.0.1/24")}},
		{name: "initial snapshot", cur: []Link{up(3, "b", "vlan", "198.18.1.1/24", "fd00::1/64"), down(2, "a", "veth")},
			want: "link-added a; link-added b; link-up b; addr-added b 198.18.1.1/24; addr-added b fd00::1/64"},
		{name: "link vanished", old: []Link{up(2, "a", "veth", "198.18.0.1/24", "fd00::1/64")},
			want: "addr-removed a 198.18.0.1/24; addr-removed a fd00::1/64; link-down a; link-removed a"},
		{name: "down link vanished", old: []Link{down(2, "a", "veth")}, want: "link-removed a"},
		{name: "address changed", old: []Link{up(2, "a", "veth", "198.18.0.1/24")}, cur: []Link{up(2, "a", "veth", "198.18.0.2/24")},
			want: "addr-removed a 198.18.0.1/24; addr-added a 198.18.0.2/24"},
		{name: "prefix length changed", old: []Link{up(2, "a", "veth", "198.18.0.1/24")}, cur: []Link{up(2, "a", "veth", "198.18.0.1/16")},
			want: "addr-removed a 198.18.0.1/24; addr-added a 198.18.0.1/16"},
		{name: "went down, kept address", old: []Link{up(2, "a", "veth", "198.18.0.1/24")}, cur: []Link{down(2, "a", "veth", "198.18.0.1/24")},
			want: "link-down a"},
		{name: "came up with address", old: []Link{down(2, "a", "veth")}, cur: []Link{up(2, "a", "veth", "198.18.0.1/24")},
			want: "link-up a; addr-added a 198.18.0.1/24"},
		{name: "second address", old: []Link{up(2, "a", "veth", "198.18.0.1/24")}, cur: []Link{up(2, "a", "veth", "198.18.0.1/24", "198.18.0.9/24")},
			want: "addr-added a 198.18.0.9/24"},
		{name: "renamed", old: []Link{up(2, "a", "veth")}, cur: []Link{up(2, "b", "veth")},
			want: "link-down a; link-removed a; link-added b; link-up b"},
		{name: "index reused by another type", old: []Link{down(2, "a", "veth")}, cur: []Link{down(2, "a", "dummy")},
			want: "link-removed a; link-added a"},
		{name: "order by index", old: []Link{down(5, "e", "veth"), down(1, "x", "veth")}, cur: []Link{down(3, "c", "veth")},
			want: "link-removed x; link-added c; link-removed e"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := byIndex(tc.old)
			cur := byIndex(tc.cur)
			now := time.Unix(1, 0)
			evs := reconcile(old, cur, now)
			if got := kinds(evs); got != tc.want {
				t.Errorf("events:\n got %s\nwant %s", got, tc.want)
			}
			for _, e := range evs {
				if !e.Time.Equal(now) {
					t.Errorf("%v: time %v", e, e.Time)
				}
			}
			if got := replay(t, old, evs); !reflect.DeepEqual(got, normalize(cur)) {
				t.Errorf("replayed %v, want %v", got, cur)
			}
		})
	}
}

func byIndex(ls []Link) map[int]Link {
	m := map[int]Link{}
	for _, l := range ls {
		m[l.Index] = l
	}
	return m
}

func normalize(m map[int]Link) map[int]Link {
	out := map[int]Link{}
	for i, l := range m {
		out[i] = l.clone()
	}
	return out
}

// TestReconcileRandom: for random pairs of snapshots, replaying the events
// onto the old one yields the new one, and every intermediate state is
// consistent (checked by replay).
func TestReconcileRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	addrs := pfx("198.18.0.1/24", "198.18.0.2/24", "198.18.0.1/16", "fd00::1/64", "fd00::2/64")
	gen := func() map[int]Link {
		m := map[int]Link{}
		for i := range 4 {
			if r.IntN(3) == 0 {
				continue
			}
			l := Link{Index: i + 1, Name: fmt.Sprintf("l%d", r.IntN(2)), Type: []string{"veth", "vlan"}[r.IntN(2)], Up: r.IntN(2) == 0}
			for _, a := range addrs {
				if r.IntN(2) == 0 {
					l.Addrs = append(l.Addrs, a)
				}
			}
			slices.SortFunc(l.Addrs, netip.Prefix.Compare)
			m[l.Index] = l
		}
		return m
	}
	for range 2000 {
		old, cur := gen(), gen()
		evs := reconcile(old, cur, time.Time{})
		if got := replay(t, old, evs); !reflect.DeepEqual(got, normalize(cur)) {
			t.Fatalf("old %v cur %v: events %s replay to %v", old, cur, kinds(evs), got)
		}
		if again := reconcile(cur, cur, time.Time{}); len(again) != 0 {
			t.Fatalf("reconcile(cur, cur) = %s", kinds(again))
		}
	}
}

// feed runs msgs through the Monitor's model as Run does and returns the
// events.
func feed(m *Monitor, msgs ...syscall.NetlinkMessage) []Event {
	var evs []Event
	for _, msg := range msgs {
		if i, ok := m.apply(msg); ok {
			evs = m.refresh(i, time.Time{}, evs)
		}
	}
	m.publish()
	return evs
}

func TestModel(t *testing.T) {
	sys := fstest.MapFS{"wlan0/wireless/x": {}}
	for _, tc := range []struct {
		name  string
		sels  []Selector
		msgs  []syscall.NetlinkMessage
		want  string
		links []Link // Links() afterwards
		bad   uint64 // BadMessagesTotal afterwards
	}{
		{
			name: "link with two addresses",
			msgs: []syscall.NetlinkMessage{
				newLink(4, unix.IFF_UP, "v0", "veth"),
				newAddr(4, "198.18.1.2/24", unix.IFA_F_PERMANENT),
				newLink(4, upFlags, "v0", "veth"),
				newAddr(4, "fd00:1::2/64", unix.IFA_F_PERMANENT|unix.IFA_F_NODAD),
				newAddr(4, "198.18.1.2/24", unix.IFA_F_PERMANENT), // repeated: no event
			},
			want:  "link-added v0; addr-added v0 198.18.1.2/24; link-up v0; addr-added v0 fd00:1::2/64",
			links: []Link{{Index: 4, Name: "v0", Type: "veth", Up: true, Addrs: pfx("198.18.1.2/24", "fd00:1::2/64")}},
		},
		{
			name:  "admin up without carrier is down",
			msgs:  []syscall.NetlinkMessage{newLink(4, unix.IFF_UP, "v0", "veth"), newLink(4, unix.IFF_UP|unix.IFF_RUNNING, "v0", "veth"), newLink(4, unix.IFF_RUNNING, "v0", "veth")},
			want:  "link-added v0; link-up v0; link-down v0",
			links: []Link{{Index: 4, Name: "v0", Type: "veth"}},
		},
		{
			name: "tentative then valid, then deprecated",
			msgs: []syscall.NetlinkMessage{
				newLink(4, upFlags, "v0", "veth"),
				newAddr(4, "fd00:1::2/64", unix.IFA_F_TENTATIVE),
				newAddr(4, "fd00:1::2/64", 0),
				newAddr(4, "fd00:1::2/64", unix.IFA_F_DEPRECATED),
				newAddr(4, "fd00:1::3/64", unix.IFA_F_DADFAILED|unix.IFA_F_TENTATIVE),
			},
			want:  "link-added v0; link-up v0; addr-added v0 fd00:1::2/64; addr-removed v0 fd00:1::2/64",
			links: []Link{{Index: 4, Name: "v0", Type: "veth", Up: true}},
		},
		{
			name: "link-scope and host-scope addresses ignored",
			msgs: []syscall.NetlinkMessage{
				newLink(4, upFlags, "v0", "veth"),
				nlmsg(unix.RTM_NEWADDR, addrPayload(4, netip.MustParsePrefix("fe80::1/64"), unix.RT_SCOPE_LINK, 0)),
				nlmsg(unix.RTM_NEWADDR, addrPayload(4, netip.MustParsePrefix("198.18.0.1/32"), unix.RT_SCOPE_HOST, 0)),
			},
			want:  "link-added v0; link-up v0",
			links: []Link{{Index: 4, Name: "v0", Type: "veth", Up: true}},
		},
		{
			name: "address loss, then link deleted",
			msgs: []syscall.NetlinkMessage{
				newLink(4, upFlags, "v0", "veth"),
				newAddr(4, "198.18.1.2/24", 0),
				newAddr(4, "198.18.1.3/24", 0),
				delAddr(4, "198.18.1.2/24"),
				delLink(4, "v0", "veth"),
				delAddr(4, "198.18.1.3/24"), // after the link: ignored
			},
			want: "link-added v0; link-up v0; addr-added v0 198.18.1.2/24; addr-added v0 198.18.1.3/24; " +
				"addr-removed v0 198.18.1.2/24; addr-removed v0 198.18.1.3/24; link-down v0; link-removed v0",
			links: []Link{},
		},
		{
			name: "bridge port events ignored",
			msgs: []syscall.NetlinkMessage{
				newLink(4, upFlags, "v0", "veth"),
				nlmsg(unix.RTM_DELLINK, linkPayload(unix.AF_BRIDGE, unix.ARPHRD_ETHER, 4, 0, "v0", "")),
				nlmsg(unix.RTM_NEWLINK, linkPayload(unix.AF_BRIDGE, unix.ARPHRD_ETHER, 4, 0, "v0", "")),
			},
			want:  "link-added v0; link-up v0",
			links: []Link{{Index: 4, Name: "v0", Type: "veth", Up: true}},
		},
		{
			name: "notification without link info keeps the kind",
			msgs: []syscall.NetlinkMessage{
				newLink(4, upFlags, "v0", "veth"),
				newLink(4, unix.IFF_UP, "v0", ""),
			},
			want:  "link-added v0; link-up v0; link-down v0",
			links: []Link{{Index: 4, Name: "v0", Type: "veth"}},
		},
		{
			name:  "addresses of unknown links ignored",
			msgs:  []syscall.NetlinkMessage{newAddr(9, "198.18.1.2/24", 0), newLink(9, upFlags, "v9", "veth")},
			want:  "link-added v9; link-up v9",
			links: []Link{{Index: 9, Name: "v9", Type: "veth", Up: true}},
		},
		{
			name: "loopback not chosen by default",
			msgs: []syscall.NetlinkMessage{
				nlmsg(unix.RTM_NEWLINK, linkPayload(unix.AF_UNSPEC, unix.ARPHRD_LOOPBACK, 1, upFlags|unix.IFF_LOOPBACK, "lo", "")),
				newAddr(1, "198.18.0.1/32", 0),
				newLink(2, upFlags, "wlan0", ""),
			},
			want:  "link-added wlan0; link-up wlan0",
			links: []Link{{Index: 2, Name: "wlan0", Type: "wifi", Up: true}},
		},
		{
			name: "selectors: glob and type",
			sels: []Selector{{Glob: "eth0.*"}, {Type: "wifi"}},
			msgs: []syscall.NetlinkMessage{
				newLink(2, upFlags, "eth0", ""),
				newLink(3, upFlags, "eth0.10", "vlan"),
				newLink(4, upFlags, "wlan0", ""),
				newLink(5, upFlags, "v0", "veth"),
			},
			want: "link-added eth0.10; link-up eth0.10; link-added wlan0; link-up wlan0",
			links: []Link{
				{Index: 3, Name: "eth0.10", Type: "vlan", Up: true},
				{Index: 4, Name: "wlan0", Type: "wifi", Up: true},
			},
		},
		{
			name: "rename into and out of a glob",
			sels: []Selector{{Glob: "up*"}},
			msgs: []syscall.NetlinkMessage{
				newLink(4, 0, "tmp0", "veth"),
				newAddr(4, "198.18.1.2/24", 0),
				newLink(4, 0, "up0", "veth"),
				newLink(4, 0, "up1", "veth"),
				newLink(4, 0, "down0", "veth"),
			},
			want: "link-added up0; addr-added up0 198.18.1.2/24; " +
				"addr-removed up0 198.18.1.2/24; link-removed up0; link-added up1; addr-added up1 198.18.1.2/24; " +
				"addr-removed up1 198.18.1.2/24; link-removed up1",
			links: []Link{},
		},
		{
			name: "malformed messages counted and ignored",
			msgs: []syscall.NetlinkMessage{
				nlmsg(unix.RTM_NEWLINK, []byte{1, 2, 3}),
				nlmsg(unix.RTM_NEWADDR, []byte{unix.AF_INET, 24, 0, 0, 4, 0, 0, 0, 8, 0, 1, 0, 198, 18}),
				nlmsg(unix.RTM_NEWROUTE, nil),
			},
			links: []Link{},
			bad:   2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(Options{Selectors: tc.sels, SysFS: sys})
			if err != nil {
				t.Fatal(err)
			}
			evs := feed(m, tc.msgs...)
			if got := kinds(evs); got != tc.want {
				t.Errorf("events:\n got %s\nwant %s", got, tc.want)
			}
			got := m.Links()
			if got == nil {
				got = []Link{}
			}
			if !reflect.DeepEqual(got, tc.links) {
				t.Errorf("Links() = %+v, want %+v", got, tc.links)
			}
			if rep := replay(t, nil, evs); !reflect.DeepEqual(rep, byIndex(tc.links)) {
				t.Errorf("replayed events give %+v, want %+v", rep, tc.links)
			}
			if got := m.Stats().Snapshot().BadMessagesTotal; got != tc.bad {
				t.Errorf("BadMessagesTotal = %d, want %d", got, tc.bad)
			}
		})
	}
}

// TestLinksIsACopy: the caller may modify what Links returns.
func TestLinksIsACopy(t *testing.T) {
	m, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Links() != nil {
		t.Fatal("Links before Run not empty")
	}
	feed(m, newLink(4, upFlags, "v0", "veth"), newAddr(4, "198.18.1.2/24", 0))
	ls := m.Links()
	ls[0].Addrs[0] = netip.MustParsePrefix("198.18.9.9/24")
	ls[0].Name = "x"
	if got := m.Links()[0]; got.Name != "v0" || got.Addrs[0] != netip.MustParsePrefix("198.18.1.2/24") {
		t.Errorf("Links() changed by its caller: %+v", got)
	}
}

func TestParseAddr(t *testing.T) {
	ptp := make([]byte, unix.SizeofIfAddrmsg)
	ptp[0], ptp[1], ptp[4] = unix.AF_INET, 32, 7
	ptp = append(ptp, rtattr(unix.IFA_LOCAL, []byte{198, 18, 5, 1})...)
	ptp = append(ptp, rtattr(unix.IFA_ADDRESS, []byte{198, 18, 5, 2})...)
	v6ptp := make([]byte, unix.SizeofIfAddrmsg)
	v6ptp[0], v6ptp[1], v6ptp[4] = unix.AF_INET6, 64, 7
	v6ptp = append(v6ptp, rtattr(unix.IFA_ADDRESS, netip.MustParseAddr("fd00::2").AsSlice())...)
	v6ptp = append(v6ptp, rtattr(unix.IFA_LOCAL, netip.MustParseAddr("fd00::1").AsSlice())...)
	for _, tc := range []struct {
		name    string
		in      []byte
		want    netip.Prefix
		index   int
		flags   uint32
		wantErr bool
	}{
		{name: "ipv4", in: addrPayload(3, netip.MustParsePrefix("198.18.1.2/24"), 0, unix.IFA_F_PERMANENT), want: netip.MustParsePrefix("198.18.1.2/24"), index: 3, flags: unix.IFA_F_PERMANENT},
		{name: "ipv6 with 32-bit flags", in: addrPayload(3, netip.MustParsePrefix("fd00::2/64"), 0, unix.IFA_F_NODAD|unix.IFA_F_NOPREFIXROUTE), want: netip.MustParsePrefix("fd00::2/64"), index: 3, flags: unix.IFA_F_NODAD | unix.IFA_F_NOPREFIXROUTE},
		{name: "ipv4 peer", in: ptp, want: netip.MustParsePrefix("198.18.5.1/32"), index: 7},
		{name: "ipv6 peer", in: v6ptp, want: netip.MustParsePrefix("fd00::1/128"), index: 7},
		{name: "short", in: []byte{2, 24, 0}, wantErr: true},
		{name: "no address", in: []byte{unix.AF_INET, 24, 0, 0, 1, 0, 0, 0}, wantErr: true},
		{name: "family mismatch", in: append([]byte{unix.AF_INET, 24, 0, 0, 1, 0, 0, 0}, rtattr(unix.IFA_ADDRESS, make([]byte, 16))...), wantErr: true},
		{name: "prefix too long", in: append([]byte{unix.AF_INET, 33, 0, 0, 1, 0, 0, 0}, rtattr(unix.IFA_ADDRESS, []byte{198, 18, 0, 1})...), wantErr: true},
		{name: "attribute overruns", in: []byte{unix.AF_INET, 24, 0, 0, 1, 0, 0, 0, 12, 0, 1, 0, 198, 18, 0, 1}, wantErr: true},
		{name: "short flags", in: append([]byte{unix.AF_INET, 24, 0, 0, 1, 0, 0, 0}, rtattr(unix.IFA_FLAGS, []byte{1})...), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			am, err := parseAddr(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseAddr = %+v, want error", am)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if am.prefix != tc.want || am.index != tc.index || am.flags != tc.flags {
				t.Errorf("parseAddr = %+v, want %v on %d flags %#x", am, tc.want, tc.index, tc.flags)
			}
		})
	}
}

func TestParseLink(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		want    linkMsg
		wantErr bool
	}{
		{name: "veth", in: linkPayload(0, unix.ARPHRD_ETHER, 5, upFlags, "v0", "veth"),
			want: linkMsg{arphrd: unix.ARPHRD_ETHER, index: 5, flags: upFlags, name: "v0", hasName: true, kind: "veth", hasKind: true}},
		{name: "physical", in: linkPayload(0, unix.ARPHRD_ETHER, 2, 0, "eth0", ""),
			want: linkMsg{arphrd: unix.ARPHRD_ETHER, index: 2, name: "eth0", hasName: true}},
		{name: "bare", in: linkPayload(unix.AF_BRIDGE, 1, 2, 0, "", ""), want: linkMsg{family: unix.AF_BRIDGE, arphrd: 1, index: 2}},
		{name: "short", in: make([]byte, 15), wantErr: true},
		{name: "bad attribute length", in: append(linkPayload(0, 1, 2, 0, "", ""), 3, 0, 3, 0), wantErr: true},
		{name: "trailing bytes", in: append(linkPayload(0, 1, 2, 0, "", ""), 0, 0), wantErr: true},
		{name: "bad nested", in: append(linkPayload(0, 1, 2, 0, "", ""), rtattr(unix.IFLA_LINKINFO, []byte{9, 0, 1, 0, 'v'})...), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseLink(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseLink = %+v, want error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("parseLink = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseLink(f *testing.F) {
	f.Add(linkPayload(0, unix.ARPHRD_ETHER, 5, upFlags, "v0", "veth"))
	f.Add(linkPayload(0, unix.ARPHRD_ETHER, 2, 0, "eth0", ""))
	f.Fuzz(func(t *testing.T, b []byte) {
		lm, err := parseLink(b)
		if err != nil {
			return
		}
		// Feeding it to a model must not panic either.
		m, _ := New(Options{SysFS: fstest.MapFS{}})
		feed(m, nlmsg(unix.RTM_NEWLINK, b), nlmsg(unix.RTM_DELLINK, b))
		if len(m.shown) != 0 || lm.index != int(int32(lm.index)) {
			t.Errorf("deleted link still shown: %+v", m.shown)
		}
	})
}

func FuzzParseAddr(f *testing.F) {
	f.Add(addrPayload(3, netip.MustParsePrefix("198.18.1.2/24"), 0, unix.IFA_F_PERMANENT))
	f.Add(addrPayload(3, netip.MustParsePrefix("fd00::2/64"), 0, unix.IFA_F_NODAD))
	f.Fuzz(func(t *testing.T, b []byte) {
		am, err := parseAddr(b)
		if err != nil {
			return
		}
		if (am.family == unix.AF_INET || am.family == unix.AF_INET6) && !am.prefix.IsValid() {
			t.Fatalf("valid message, invalid prefix: %+v", am)
		}
		m, _ := New(Options{SysFS: fstest.MapFS{}})
		feed(m, newLink(int32(am.index), upFlags, "v0", "veth"), nlmsg(unix.RTM_NEWADDR, b))
		if ls := m.Links(); len(ls) == 1 && len(ls[0].Addrs) > 0 && (ls[0].Addrs[0] != am.prefix || !am.usable()) {
			t.Errorf("Links() = %+v after %+v", ls, am)
		}
		feed(m, nlmsg(unix.RTM_DELADDR, b))
		if ls := m.Links(); len(ls) == 1 && len(ls[0].Addrs) > 0 {
			t.Errorf("address still listed after RTM_DELADDR: %+v", ls)
		}
	})
}
