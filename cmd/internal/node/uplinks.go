// SPDX-License-Identifier: MIT

package node

import (
	"context"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"monami/configs"
	"monami/paths"
	"monami/paths/linkmon"
	"monami/paths/usage"
)

// uplink is one path-to-be: a configured [[uplink]] naming its interface,
// or one interface matched by a selecting [[uplink]] (match/type). Its cfg
// is then a copy with Name "<uplink>/<interface>", Interface and BID set.
type uplink struct {
	cfg   configs.Uplink
	tmpl  string             // the [[uplink]] name (meter, tags, cost)
	retry chan struct{}      // pokes uplinkLoop to retry at once (link events)
	stop  context.CancelFunc // ends the loop of a selected instance; nil for named uplinks
	meter *usage.Meter

	mu     sync.Mutex // guards the fields below
	source netip.Addr // chosen local address, once opened
	err    error      // last error opening it
	open   bool
	// counted are the path's byte counters already given to the meter.
	countedTx, countedRx uint64
}

// uplinkList returns the current uplinks: the named ones in file order,
// then the selected instances in the order they appeared.
func (m *MobileRouter) uplinkList() []*uplink {
	m.umu.Lock()
	defer m.umu.Unlock()
	return m.uplinks
}

// addUplink adds u to the list (copy on write: readers keep their slice).
func (m *MobileRouter) addUplink(u *uplink) {
	m.umu.Lock()
	defer m.umu.Unlock()
	m.uplinks = append(slices.Clip(m.uplinks), u)
}

func (m *MobileRouter) removeUplink(u *uplink) {
	m.umu.Lock()
	defer m.umu.Unlock()
	m.uplinks = slices.DeleteFunc(slices.Clone(m.uplinks), func(x *uplink) bool { return x == u })
}

// watchLinks follows the uplinks' interfaces through netlink: a link that
// goes down, or loses the uplink's source address, takes its path out at
// once; coming back lets the path's probes bring it up again; an address
// change reopens the path on the new address (a new care-of address); an
// interface a selecting [[uplink]] matches becomes a path when it appears
// and goes away with it.
func (m *MobileRouter) watchLinks(ctx context.Context, wg *sync.WaitGroup) {
	var sel []linkmon.Selector
	named := map[string]bool{}
	for _, u := range m.cfg.Uplinks {
		if u.Selecting() {
			sel = append(sel, linkmon.Selector{Glob: u.Match, Type: u.Type})
		} else if !named[u.Interface] {
			named[u.Interface] = true
			sel = append(sel, linkmon.Selector{Name: u.Interface})
		}
	}
	mon, err := linkmon.New(linkmon.Options{Logger: m.log, Selectors: sel})
	if err != nil {
		m.log.Error("link monitor", "err", err)
		return
	}
	events := make(chan linkmon.Event, 64)
	var mwg sync.WaitGroup
	mwg.Go(func() {
		if err := mon.Run(ctx, events); err != nil {
			m.log.Error("link monitor stopped", "err", err)
		}
		close(events)
	})
	for ev := range events {
		if !named[ev.Link.Name] && ev.Link.Name != m.cfg.TUN.Name {
			m.selectInstances(ctx, wg, ev)
		}
		for _, u := range m.uplinkList() {
			if u.cfg.Interface != ev.Link.Name {
				continue
			}
			u.mu.Lock()
			src, open := u.source, u.open
			u.mu.Unlock()
			if !open {
				// Hot-plug: an uplink that could not be opened may work now.
				if ev.Kind == linkmon.AddrAdded || ev.Kind == linkmon.LinkUp {
					poke(u.retry)
				}
				continue
			}
			usable := ev.Link.Up && slices.ContainsFunc(ev.Link.Addrs, func(p netip.Prefix) bool { return p.Addr() == src })
			m.engine.SetLinkState(u.cfg.BID, usable)
			if !usable && ev.Link.Up && !u.cfg.Source.IsValid() {
				// The address went away but the link is up: if another
				// one is there, it is the uplink's new care-of address.
				if nsrc, _, err := pickSource(u.cfg.Source, u.cfg.Interface, m.cfg.HomeAgent.Data, m.env.InterfaceAddrs); err == nil && nsrc != src {
					m.log.Info("uplink address changed", "uplink", u.cfg.Name, "old", src, "new", nsrc)
					m.closeUplink(u)
					poke(u.retry)
				}
			}
		}
	}
	mwg.Wait()
}

// selectInstances adds a path for an interface that a selecting
// [[uplink]] matches, and removes it when the interface goes away. The
// first selecting uplink in file order that matches takes the interface.
func (m *MobileRouter) selectInstances(ctx context.Context, wg *sync.WaitGroup, ev linkmon.Event) {
	var have *uplink
	for _, u := range m.uplinkList() {
		if u.stop != nil && u.cfg.Interface == ev.Link.Name {
			have = u
		}
	}
	if ev.Kind == linkmon.LinkRemoved {
		if have != nil {
			m.log.Info("selected uplink gone", "uplink", have.cfg.Name, "bid", have.cfg.BID)
			have.stop()
			m.closeUplink(have)
			m.removeUplink(have)
			m.syncPaths()
		}
		return
	}
	if have != nil {
		return
	}
	for _, t := range m.cfg.Uplinks {
		if !t.Selecting() || !(linkmon.Selector{Glob: t.Match, Type: t.Type}).Matches(ev.Link) {
			continue
		}
		taken := map[paths.BID]bool{}
		for _, u := range m.uplinkList() {
			taken[u.cfg.BID] = true
		}
		bid, ok := t.BIDFor(ev.Link.Name, func(b paths.BID) bool { return taken[b] })
		if !ok {
			m.log.Warn("no free BID for a selected interface", "uplink", t.Name, "iface", ev.Link.Name)
			return
		}
		c := t
		c.Name, c.Interface, c.BID = t.Name+"/"+ev.Link.Name, ev.Link.Name, bid
		lctx, stop := context.WithCancel(ctx)
		u := &uplink{cfg: c, tmpl: t.Name, retry: make(chan struct{}, 1), stop: stop, meter: m.meters[t.Name]}
		m.log.Info("interface selected", "uplink", c.Name, "bid", bid, "type", ev.Link.Type)
		m.addUplink(u)
		wg.Go(func() { m.uplinkLoop(lctx, u) })
		return
	}
}

// uplinkLoop opens one uplink, retrying until it works, and again each time
// it is closed (an address change), until ctx ends.
func (m *MobileRouter) uplinkLoop(ctx context.Context, u *uplink) {
	t := time.NewTimer(0)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-u.retry:
		}
		u.mu.Lock()
		open := u.open
		u.mu.Unlock()
		if open {
			continue
		}
		err := m.openUplink(u)
		if err == nil {
			lastErr = ""
			m.syncPaths()
			continue
		}
		u.mu.Lock()
		u.err = err
		u.mu.Unlock()
		if err.Error() != lastErr {
			m.log.Warn("uplink unavailable, retrying", "iface", u.cfg.Interface, "bid", u.cfg.BID, "err", err)
			lastErr = err.Error()
		}
		t.Reset(uplinkRetry)
	}
}

func (m *MobileRouter) openUplink(u *uplink) error {
	src, remote, err := pickSource(u.cfg.Source, u.cfg.Interface, m.cfg.HomeAgent.Data, m.env.InterfaceAddrs)
	if err != nil {
		return err
	}
	conn, err := m.env.OpenPath(u.cfg.Interface, netip.AddrPortFrom(src, uint16(u.cfg.Port)))
	if err != nil {
		return err
	}
	if err := m.engine.AddPath(u.cfg.BID, u.cfg.Name, conn, remote); err != nil {
		conn.Close()
		return err
	}
	if u.meter != nil && u.meter.Exceeded() {
		m.engine.SetDemoted(u.cfg.BID, true)
	}
	u.mu.Lock()
	u.source, u.open, u.err = src, true, nil
	u.countedTx, u.countedRx = 0, 0
	u.mu.Unlock()
	m.once.Do(func() { close(m.anyOpen) })
	return nil
}

// closeUplink takes the uplink's path out of the data plane; uplinkLoop
// opens it again when poked.
func (m *MobileRouter) closeUplink(u *uplink) {
	m.account() // what it carried counts
	m.engine.RemovePath(u.cfg.BID)
	u.mu.Lock()
	u.open = false
	u.mu.Unlock()
	m.syncPaths()
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// openUsage opens the data-usage store and one meter per [[uplink]].
func (m *MobileRouter) openUsage() {
	m.meters = map[string]*usage.Meter{}
	st, err := usage.Open(usage.Options{Logger: m.log, File: filepath.Join(m.cfg.Router.StateDir, "usage.json")})
	if err != nil {
		m.log.Warn("data usage not kept across restarts", "err", err)
		st, _ = usage.Open(usage.Options{Logger: m.log})
	}
	m.usage = st
	for _, u := range m.cfg.Uplinks {
		m.meters[u.Name] = st.Meter(u.Name, usage.Caps{Daily: u.CapDaily, Monthly: u.CapMonthly, ResetDay: u.CapResetDay})
	}
}

// accountEvery is how often the paths' byte counters go to the usage
// meters and the caps are checked: a path at its cap is demoted well
// within a second.
const (
	accountEvery = 250 * time.Millisecond
	saveEvery    = time.Minute
)

// usageLoop feeds the meters, demotes the paths of an uplink at its cap
// (and restores them when the window rolls over), and saves the usage.
func (m *MobileRouter) usageLoop(ctx context.Context) {
	t := time.NewTicker(accountEvery)
	defer t.Stop()
	lastSave := time.Now()
	defer func() {
		m.account()
		if err := m.usage.Save(); err != nil {
			m.log.Warn("save data usage", "err", err)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.account()
		if changed := m.usage.Tick(); len(changed) > 0 {
			for _, u := range m.uplinkList() {
				if slices.Contains(changed, u.tmpl) {
					over := u.meter.Exceeded()
					m.log.Warn("data cap", "uplink", u.cfg.Name, "reached", over)
					m.engine.SetDemoted(u.cfg.BID, over)
				}
			}
			m.pathsChanged()
		}
		if time.Since(lastSave) >= saveEvery {
			lastSave = time.Now()
			if err := m.usage.Save(); err != nil {
				m.log.Warn("save data usage", "err", err)
			}
		}
	}
}

// account adds what each open path carried since the last call to its
// uplink's meter.
func (m *MobileRouter) account() {
	st := m.engine.Stats()
	for _, u := range m.uplinkList() {
		if u.meter == nil {
			continue
		}
		for _, p := range st.Paths {
			if paths.BID(p.BID) != u.cfg.BID {
				continue
			}
			u.mu.Lock()
			var n uint64
			if p.TxBytes >= u.countedTx && p.RxBytes >= u.countedRx {
				n = p.TxBytes - u.countedTx + p.RxBytes - u.countedRx
			}
			u.countedTx, u.countedRx = p.TxBytes, p.RxBytes
			u.mu.Unlock()
			u.meter.Add(n)
		}
	}
}
