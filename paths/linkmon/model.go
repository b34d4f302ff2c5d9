// SPDX-License-Identifier: MIT

package linkmon

import (
	"maps"
	"net/netip"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// entry is the Monitor's record of one link of the namespace, chosen by
// the selectors or not.
type entry struct {
	index  int
	name   string
	kind   string // IFLA_INFO_KIND; "" for physical devices
	arphrd uint16
	flags  uint32 // ifi_flags (IFF_*)
	typ    string // classified from the above; recomputed when they change
	addrs  map[netip.Prefix]struct{}
}

// applyLink records a link message in m.all.
func (m *Monitor) applyLink(lm linkMsg, del bool) {
	if del {
		delete(m.all, lm.index)
		return
	}
	e := m.all[lm.index]
	if e == nil {
		e = &entry{index: lm.index, addrs: map[netip.Prefix]struct{}{}}
		m.all[lm.index] = e
	}
	old := *e
	// Some notifications (wireless events) carry the flags and the name
	// but no link info: keep what the last full message said.
	if lm.hasName {
		e.name = lm.name
	}
	if lm.hasKind {
		e.kind = lm.kind
	}
	e.arphrd = lm.arphrd
	e.flags = lm.flags
	if e.typ == "" || e.name != old.name || e.kind != old.kind || e.arphrd != old.arphrd || (e.flags^old.flags)&unix.IFF_LOOPBACK != 0 {
		e.typ = classify(m.sysfs, e.name, e.kind, e.arphrd, e.flags)
	}
}

// applyAddr records an address message in m.all. Addresses of links not
// (or no longer) known are ignored: the socket delivers a link's
// RTM_NEWLINK before its addresses, and a dump lists the links first.
func (m *Monitor) applyAddr(am addrMsg, del bool) {
	e := m.all[am.index]
	if e == nil {
		return
	}
	if del || !am.usable() {
		delete(e.addrs, am.prefix)
		return
	}
	e.addrs[am.prefix] = struct{}{}
}

// apply records one netlink message in m.all and returns the index of the
// link it concerns; ok is false for messages that change nothing this
// package tracks.
func (m *Monitor) apply(msg syscall.NetlinkMessage) (index int, ok bool) {
	switch msg.Header.Type {
	case unix.RTM_NEWLINK, unix.RTM_DELLINK:
		lm, err := parseLink(msg.Data)
		if err != nil {
			m.stats.BadMessagesTotal.Add(1)
			return 0, false
		}
		// Bridge port events (AF_BRIDGE) share the message types; an
		// AF_BRIDGE RTM_DELLINK only means the port left its bridge.
		if lm.family != unix.AF_UNSPEC {
			return 0, false
		}
		m.applyLink(lm, msg.Header.Type == unix.RTM_DELLINK)
		return lm.index, true
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		am, err := parseAddr(msg.Data)
		if err != nil {
			m.stats.BadMessagesTotal.Add(1)
			return 0, false
		}
		if am.family != unix.AF_INET && am.family != unix.AF_INET6 {
			return 0, false
		}
		m.applyAddr(am, msg.Header.Type == unix.RTM_DELADDR)
		return am.index, true
	}
	return 0, false
}

// view returns the Link e presents and whether the selectors choose it.
func (m *Monitor) view(e *entry) (Link, bool) {
	if e == nil || e.name == "" {
		return Link{}, false
	}
	l := Link{
		Index: e.index,
		Name:  e.name,
		Type:  e.typ,
		Up:    e.flags&unix.IFF_UP != 0 && e.flags&unix.IFF_RUNNING != 0,
	}
	if len(e.addrs) > 0 {
		l.Addrs = slices.SortedFunc(maps.Keys(e.addrs), netip.Prefix.Compare)
	}
	if len(m.sel) == 0 {
		return l, l.Type != typeLoopback
	}
	for _, s := range m.sel {
		if s.Matches(l) {
			return l, true
		}
	}
	return l, false
}

// refresh compares the link at index with what was last reported, appends
// the events that lead from one to the other, and records the new state.
func (m *Monitor) refresh(index int, now time.Time, evs []Event) []Event {
	cur, curOK := m.view(m.all[index])
	old, oldOK := m.shown[index]
	evs = appendDiff(evs, old, oldOK, cur, curOK, now)
	if curOK {
		m.shown[index] = cur
	} else {
		delete(m.shown, index)
	}
	return evs
}

// resynced replaces what was last reported by the view of m.all (just
// rebuilt from a dump) and returns the events between the two.
func (m *Monitor) resynced(now time.Time) []Event {
	cur := map[int]Link{}
	for i, e := range m.all {
		if l, ok := m.view(e); ok {
			cur[i] = l
		}
	}
	evs := reconcile(m.shown, cur, now)
	m.shown = cur
	return evs
}

// publish stores the snapshot Links returns.
func (m *Monitor) publish() {
	ls := slices.SortedFunc(maps.Values(m.shown), func(a, b Link) int { return a.Index - b.Index })
	m.links.Store(&ls)
}

// reconcile returns the events that turn the old snapshot into cur (both
// keyed by link index), link by link in index order. It is how a resync
// reports what changed while notifications were lost: links and addresses
// that vanished meanwhile are reported removed.
func reconcile(old, cur map[int]Link, now time.Time) []Event {
	idx := slices.Sorted(maps.Keys(old))
	for i := range cur {
		if _, ok := old[i]; !ok {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	var evs []Event
	for _, i := range idx {
		o, oOK := old[i]
		c, cOK := cur[i]
		evs = appendDiff(evs, o, oOK, c, cOK, now)
	}
	return evs
}

// appendDiff appends the events that turn link old (absent unless oldOK)
// into cur (absent unless curOK). A link whose name or type changed is
// reported removed and added again. The order is removals first (an
// address lost, then the link down), then additions, so a consumer never
// sees a stale address on a live link.
func appendDiff(evs []Event, old Link, oldOK bool, cur Link, curOK bool, now time.Time) []Event {
	if oldOK && curOK && (old.Name != cur.Name || old.Type != cur.Type) {
		evs = appendDiff(evs, old, true, Link{}, false, now)
		return appendDiff(evs, Link{}, false, cur, true, now)
	}
	if !oldOK && !curOK {
		return evs
	}
	var st Link // the state as reported so far
	switch {
	case oldOK:
		st = old.clone()
	default:
		st = Link{Index: cur.Index, Name: cur.Name, Type: cur.Type}
		evs = append(evs, Event{Kind: LinkAdded, Link: st.clone(), Time: now})
	}
	var want Link // the state to reach; a removed link ends down and bare
	if curOK {
		want = cur
	}
	for _, a := range old.Addrs {
		if !slices.Contains(want.Addrs, a) {
			st.Addrs = slices.DeleteFunc(st.Addrs, func(p netip.Prefix) bool { return p == a })
			evs = append(evs, Event{Kind: AddrRemoved, Link: st.clone(), Addr: a, Time: now})
		}
	}
	if st.Up && !want.Up {
		st.Up = false
		evs = append(evs, Event{Kind: LinkDown, Link: st.clone(), Time: now})
	}
	if !curOK {
		return append(evs, Event{Kind: LinkRemoved, Link: st, Time: now})
	}
	if !st.Up && want.Up {
		st.Up = true
		evs = append(evs, Event{Kind: LinkUp, Link: st.clone(), Time: now})
	}
	for _, a := range want.Addrs {
		if !slices.Contains(st.Addrs, a) {
			i, _ := slices.BinarySearchFunc(st.Addrs, a, netip.Prefix.Compare)
			st.Addrs = slices.Insert(st.Addrs, i, a)
			evs = append(evs, Event{Kind: AddrAdded, Link: st.clone(), Addr: a, Time: now})
		}
	}
	return evs
}
