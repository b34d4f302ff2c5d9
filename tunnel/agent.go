// SPDX-License-Identifier: MIT

package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	wgtun "golang.zx2c4.com/wireguard/tun"

	"monami/classifier"
	"monami/paths"
	"monami/tunnel/frame"
)

// AgentOptions configures an [Agent]. TUN and at least one Conn are required.
type AgentOptions struct {
	// Logger receives lifecycle logs; nil discards them.
	Logger *slog.Logger
	// TUN carries the traffic of every mobile router. Run takes ownership.
	TUN wgtun.Device
	// Conns are the listening data-plane sockets (e.g. one IPv4, one IPv6).
	// Run takes ownership.
	Conns []paths.Conn
	// FlowSlots is the size of the flow → BID table (rounded up to a power
	// of two). Zero means 1<<18 (2 MiB).
	FlowSlots int
	// KeyLifetime is how long one generation of keys is accepted after its
	// installation; zero means DefaultKeyLifetime.
	KeyLifetime time.Duration
}

// Agent is the home agent's data plane: many mobile routers' paths ↔ TUN.
type Agent struct {
	// Immutable after NewAgent.
	log     *slog.Logger
	tun     wgtun.Device
	conns   []*agentConn
	batch   int
	bufSize int
	flows   flowTable
	dropLog *dropLog
	keyLife time.Duration

	snap atomic.Pointer[agentSnap] // read once per batch

	mu    sync.Mutex // guards peers and serialises snapshot rebuilds
	peers map[string]*peer

	drops drops
}

// agentConn is one listening socket; Write is serialised because both the
// TUN reader (data) and the socket's own receive loop (keepalive replies)
// send on it.
type agentConn struct {
	paths.Conn
	idx     int
	writeMu sync.Mutex
}

func (c *agentConn) write(dgs [][]byte, ep netip.AddrPort) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.Conn.Write(dgs, ep)
}

// agentSnap is the immutable routing view of the data plane.
type agentSnap struct {
	byIndex map[uint32]*peer // session receiver index → peer
	routes  prefixTable      // inner destination → peer
}

// peer is one mobile router as the home agent knows it.
type peer struct {
	name     string
	prefixes []netip.Prefix // immutable after SetPeer

	keys atomic.Pointer[keySet]

	mu    sync.Mutex // serialises inserts into paths and rebuilds of live; guards bound*
	paths atomic.Pointer[map[paths.BID]*peerPath]
	live  atomic.Pointer[[]paths.BID] // registered BIDs with a known endpoint, sorted

	bindingsKnown bool        // SetBindings was called: only bound BIDs are registered
	bound         []paths.BID // the MR's registered BIDs

	// table is compiled from the MR's flow bindings, whose selectors
	// describe the downlink packets (the router mirrors its peer rules).
	table atomic.Pointer[classifier.Table]

	dups atomic.Pointer[dupFilter] // made at the first copy frame
}

// dupFilter returns the peer's duplicate filter, making it on first use.
func (pe *peer) dupFilter() *dupFilter {
	if f := pe.dups.Load(); f != nil {
		return f
	}
	pe.dups.CompareAndSwap(nil, newDupFilter())
	return pe.dups.Load()
}

// peerPath is one of a peer's paths: where to send its downlink traffic.
type peerPath struct {
	bid paths.BID

	mu   sync.Mutex // guards ep and conn
	ep   netip.AddrPort
	conn int // index into Agent.conns

	lastRecv atomic.Int64
	lastData atomic.Int64 // unix ns of the last data frame received
	// unanswered is until when the router says it gets no answers on the
	// path (frame.FlagUnanswered): its downlink may be dead.
	unanswered atomic.Int64
	stats      counters
	// registered: the path is in the MR's binding cache entry (signaling);
	// downlink traffic uses only registered paths.
	registered atomic.Bool
}

// NewAgent returns an Agent for opts. Declare the mobile routers with
// SetPeer, install their keys with SetSession, and start it with Run.
func NewAgent(opts AgentOptions) (*Agent, error) {
	if opts.TUN == nil {
		return nil, errors.New("tunnel: AgentOptions.TUN is required")
	}
	if len(opts.Conns) == 0 {
		return nil, errors.New("tunnel: AgentOptions.Conns is empty")
	}
	mtu, err := opts.TUN.MTU()
	if err != nil {
		return nil, fmt.Errorf("tun mtu: %w", err)
	}
	a := &Agent{
		log:     opts.Logger,
		tun:     opts.TUN,
		batch:   opts.TUN.BatchSize(),
		bufSize: txOffset + mtu + frame.TagLen + 64,
		peers:   make(map[string]*peer),
		keyLife: opts.KeyLifetime,
	}
	if a.keyLife <= 0 {
		a.keyLife = DefaultKeyLifetime
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("component", "tunnel")
	a.dropLog = newDropLog(a.log)
	for i, c := range opts.Conns {
		a.conns = append(a.conns, &agentConn{Conn: c, idx: i})
	}
	a.flows.init(opts.FlowSlots)
	a.snap.Store(&agentSnap{})
	return a, nil
}

// SetPeer declares (or redeclares) the mobile router name and the prefixes
// its traffic may come from and go to.
func (a *Agent) SetPeer(name string, prefixes []netip.Prefix) {
	a.mu.Lock()
	defer a.mu.Unlock()
	pe := a.peers[name]
	if pe == nil {
		pe = &peer{name: name}
		m := map[paths.BID]*peerPath{}
		pe.paths.Store(&m)
		pe.live.Store(new([]paths.BID))
		a.peers[name] = pe
	}
	pe.prefixes = slices.Clone(prefixes)
	a.rebuildLocked()
}

// SetSession installs the keys of a new signaling session of the mobile
// router name, replacing its previous session.
func (a *Agent) SetSession(name string, s Session) error {
	return a.install(name, s, func(pe *peer, ks *keyState) error {
		pe.keys.Store(&keySet{cur: ks, id: s.LocalIndex})
		a.log.Info("session installed", "mr", name, "generation", s.Generation, "local_index", s.LocalIndex)
		return nil
	})
}

// install makes the keys of s and, under a.mu, hands them with name's peer
// to set, then republishes the routing snapshot.
func (a *Agent) install(name string, s Session, set func(*peer, *keyState) error) error {
	ks, err := newKeyState(s, a.keyLife)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	pe := a.peers[name]
	if pe == nil {
		return fmt.Errorf("tunnel: unknown mobile router %q", name)
	}
	if err := set(pe, ks); err != nil {
		return err
	}
	a.rebuildLocked()
	return nil
}

// Rekey installs the next generation of keys of name's session. The home
// agent opens frames under it at once, and moves its own sending to it
// when the first such frame from the router authenticates; until then it
// keeps sending under the current generation.
func (a *Agent) Rekey(name string, s Session) error {
	return a.install(name, s, func(pe *peer, ks *keyState) error {
		old := pe.keys.Load()
		if old == nil || old.cur == nil {
			return fmt.Errorf("tunnel: rekey of %q without a session", name)
		}
		pe.keys.Store(&keySet{cur: old.cur, prev: old.prev, next: ks, id: old.id})
		return nil
	})
}

// promote makes next, which just opened a frame from the router, the
// generation the home agent sends under.
func (a *Agent) promote(pe *peer, next *keyState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := pe.keys.Load()
	if old == nil || old.next != next {
		return // promoted by another receive loop, or replaced
	}
	pe.keys.Store(&keySet{cur: next, prev: old.cur, id: old.id})
	a.rebuildLocked()
	a.log.Debug("rekey confirmed", "mr", pe.name, "generation", next.Generation, "local_index", next.LocalIndex)
}

// EndSession removes the session of name that was installed with receiver
// index localIndex (by SetSession, whatever rekeys followed), if it is
// still the current one.
func (a *Agent) EndSession(name string, localIndex uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	pe := a.peers[name]
	if pe == nil {
		return
	}
	if ks := pe.keys.Load(); ks != nil && ks.id == localIndex {
		pe.keys.Store(nil)
		a.rebuildLocked()
		a.log.Info("session ended", "mr", name, "local_index", localIndex)
	}
}

func (a *Agent) rebuildLocked() {
	s := &agentSnap{byIndex: make(map[uint32]*peer)}
	var routes []prefixEntry
	for _, pe := range a.peers {
		if ks := pe.keys.Load(); ks != nil {
			for _, idx := range ks.indexes() {
				s.byIndex[idx] = pe
			}
		}
		for _, p := range pe.prefixes {
			routes = append(routes, prefixEntry{p, pe})
		}
	}
	s.routes = newPrefixTable(routes)
	a.snap.Store(s)
}

// Run moves packets until ctx is done or the TUN fails, then closes the TUN
// and every Conn and waits for all loops. It returns nil on cancellation.
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := a.readLoop(); err != nil {
			cancel(err)
		}
	})
	for _, c := range a.conns {
		wg.Go(func() { a.recvLoop(c) })
	}
	<-ctx.Done()
	a.tun.Close()
	for _, c := range a.conns {
		c.writeMu.Lock()
		c.Close()
		c.writeMu.Unlock()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// recvLoop is the uplink pipeline of one listening socket.
func (a *Agent) recvLoop(c *agentConn) {
	bs := c.BatchSize()
	bufs := newBufs(bs, paths.MaxDatagram)
	sizes := make([]int, bs)
	eps := make([]netip.AddrPort, bs)
	rs := &agentRx{
		out:     make([][]byte, 0, bs),
		replies: make([]reply, 0, bs),
		kaBuf:   make([]byte, bs*kaSlot),
	}
	for {
		n, err := c.Read(bufs, sizes, eps)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			a.drops.add(DropBadFrame, 1)
			if n == 0 {
				time.Sleep(time.Millisecond)
				continue
			}
		}
		a.openBatch(c, bufs[:n], sizes[:n], eps[:n], rs)
		if len(rs.out) > 0 {
			if _, err := a.tun.Write(rs.out, rxOffset); err != nil {
				a.drops.add(DropTUNError, len(rs.out))
			}
		}
		for _, rp := range rs.replies {
			rs.one[0] = rp.dg
			if err := c.write(rs.one[:], rp.ep); err != nil {
				a.drops.add(DropSendError, 1)
			}
		}
	}
}

// kaSlot is the room for one keepalive reply in agentRx.kaBuf.
const kaSlot = frame.HeaderLen + frame.ProbeLen + frame.TagLen

// agentRx is one receive loop's scratch space.
type agentRx struct {
	ip      classifier.Parsed
	out     [][]byte
	replies []reply
	kaBuf   []byte
	one     [1][]byte
}

type reply struct {
	dg []byte
	ep netip.AddrPort
}

// openBatch authenticates and authorizes one read's datagrams, filling
// rs.out with inner packets for the TUN and rs.replies with keepalive
// answers.
func (a *Agent) openBatch(c *agentConn, bufs [][]byte, sizes []int, eps []netip.AddrPort, rs *agentRx) {
	rs.out, rs.replies = rs.out[:0], rs.replies[:0]
	snap := a.snap.Load()
	now := time.Now().UnixNano()
	for i, b := range bufs {
		dg := b[:sizes[i]]
		h, err := frame.Parse(dg)
		if err != nil {
			a.drops.add(DropBadFrame, 1)
			continue
		}
		pe := snap.byIndex[h.Receiver]
		var set *keySet
		if pe != nil {
			set = pe.keys.Load()
		}
		ks := set.forIndex(h.Receiver)
		if ks == nil {
			a.drops.add(DropUnknownReceiver, 1)
			continue
		}
		if !ks.fresh(now) {
			a.drops.add(DropKeyExpired, 1)
			continue
		}
		pt, err := ks.recv.Open(dg, h.BID, h.Counter)
		if err != nil {
			a.drops.add(DropAuth, 1)
			continue
		}
		bk := ks.bid(h.BID)
		if !bk.accept(h.Counter) {
			a.drops.add(DropReplay, 1)
			continue
		}
		if ks == set.next {
			a.promote(pe, ks)
		}
		if h.Type == frame.TypeDataCopy {
			if pe.dupFilter().seen(pt, now) {
				a.drops.add(DropDuplicate, 1)
				continue
			}
		}
		if h.Type == frame.TypeData || h.Type == frame.TypeDataCopy {
			if !rs.ip.Decode(pt) {
				a.drops.add(DropBadInner, 1)
				continue
			}
			if !pe.owns(rs.ip.Src) {
				a.drops.add(DropUnauthorized, 1)
				a.dropLog.packet(DropUnauthorized, &rs.ip)
				continue
			}
		}
		// Authenticated (and, for data, authorized): only now learn the
		// endpoint of this path.
		pp := pe.path(h.BID)
		pp.learn(pe, eps[i], c.idx, a.log)
		pp.lastRecv.Store(now)
		if h.Type == frame.TypeData || h.Type == frame.TypeDataCopy {
			pp.lastData.Store(now)
		}
		if h.Flags&frame.FlagUnanswered != 0 {
			pp.unanswered.Store(now + hedgeUnanswered)
		}
		pp.stats.rxPackets.Add(1)
		pp.stats.rxBytes.Add(uint64(len(dg)))
		if h.Type == frame.TypeKeepaliveReply {
			continue // the home agent does not probe yet
		}
		if h.Type == frame.TypeKeepalive {
			pp.stats.keepalivesRx.Add(1)
			if len(rs.replies) < cap(rs.replies) {
				// Echo the probe payload (if any) in a reply on the same path.
				k := len(rs.replies) * kaSlot
				kb := rs.kaBuf[k : k+kaSlot]
				rh := frame.Header{Type: frame.TypeKeepaliveReply, BID: h.BID, Receiver: ks.PeerIndex, Counter: bk.counter.Add(1) - 1}
				rh.Put(kb)
				n := copy(kb[frame.HeaderLen:frame.HeaderLen+frame.ProbeLen], pt)
				rs.replies = append(rs.replies, reply{ks.send.Seal(kb, n, h.BID, rh.Counter), eps[i]})
				pp.stats.keepalivesTx.Add(1)
				pp.stats.txPackets.Add(1)
				pp.stats.txBytes.Add(uint64(len(kb)))
			}
			continue
		}
		a.flows.put(rs.ip.SymmetricHash(), h.BID)
		rs.out = append(rs.out, b[:rxOffset+len(pt)])
	}
}

// owns reports whether addr is inside one of the peer's prefixes.
func (pe *peer) owns(addr netip.Addr) bool {
	for _, p := range pe.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// path returns the peer's path b, creating it on first authenticated use.
func (pe *peer) path(b paths.BID) *peerPath {
	if pp := (*pe.paths.Load())[b]; pp != nil {
		return pp
	}
	pe.mu.Lock()
	defer pe.mu.Unlock()
	old := *pe.paths.Load()
	if pp := old[b]; pp != nil {
		return pp
	}
	m := maps.Clone(old)
	pp := &peerPath{bid: b, conn: -1}
	pp.registered.Store(!pe.bindingsKnown || slices.Contains(pe.bound, b))
	m[b] = pp
	pe.paths.Store(&m)
	return pp
}

// learn records ep (on socket conn) as the path's endpoint if it changed.
func (pp *peerPath) learn(pe *peer, ep netip.AddrPort, conn int, log *slog.Logger) {
	pp.mu.Lock()
	changed := pp.ep != ep || pp.conn != conn
	if changed {
		pp.ep, pp.conn = ep, conn
	}
	pp.mu.Unlock()
	if !changed {
		return
	}
	log.Info("path endpoint", "mr", pe.name, "bid", pp.bid, "endpoint", ep)
	pe.mu.Lock()
	pe.rebuildLiveLocked()
	pe.mu.Unlock()
}

// rebuildLiveLocked recomputes the BIDs downlink traffic may use.
func (pe *peer) rebuildLiveLocked() {
	live := make([]paths.BID, 0, len(*pe.paths.Load()))
	for b, p := range *pe.paths.Load() {
		p.mu.Lock()
		if p.conn >= 0 && p.registered.Load() {
			live = append(live, b)
		}
		p.mu.Unlock()
	}
	slices.Sort(live)
	pe.live.Store(&live)
}

// SetPeerTable installs the table compiled from the flow bindings of the
// mobile router name (nil removes it). Downlink packets of a flow a rule
// matches go on the first of the rule's BIDs that is registered and has an
// endpoint; the others follow their uplink, or are hashed.
func (a *Agent) SetPeerTable(name string, t *classifier.Table) {
	a.mu.Lock()
	pe := a.peers[name]
	a.mu.Unlock()
	if t != nil && t.Len() == 0 {
		t = nil // no rule: the packets need no lookup
	}
	if pe != nil {
		pe.table.Store(t)
	}
}

// SetBindings sets the BIDs the mobile router name has registered (its
// binding cache entry, kept by signaling): downlink traffic uses only
// those, so a path the router removed stops carrying traffic at once.
// Until the first call every path with a known endpoint is used.
func (a *Agent) SetBindings(name string, bids []paths.BID) {
	a.mu.Lock()
	pe := a.peers[name]
	a.mu.Unlock()
	if pe == nil {
		return
	}
	pe.mu.Lock()
	defer pe.mu.Unlock()
	pe.bindingsKnown, pe.bound = true, slices.Clone(bids)
	for b, pp := range *pe.paths.Load() {
		pp.registered.Store(slices.Contains(bids, b))
	}
	pe.rebuildLiveLocked()
}

func (pp *peerPath) endpoint() (netip.AddrPort, int) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return pp.ep, pp.conn
}

// readLoop is the downlink pipeline: TUN → MR → path → seal → sockets.
func (a *Agent) readLoop() error {
	bufs := newBufs(a.batch, a.bufSize)
	sizes := make([]int, a.batch)
	tx := &agentTx{groups: make([]txGroup, 0, 16), cache: classifier.NewFlowCache(flowCacheEntries)}
	for {
		n, stop, err := readTUN(a.tun, bufs, sizes, &a.drops)
		if stop {
			return err
		}
		a.sealBatch(bufs[:n], sizes[:n], tx)
		a.flush(tx)
	}
}

// agentTx is the downlink loop's scratch space: datagrams grouped by
// (socket, endpoint) so each group is one Write.
type agentTx struct {
	ip     classifier.Parsed
	cache  *classifier.FlowCache
	copies copies
	groups []txGroup
}

type txGroup struct {
	conn  int
	ep    netip.AddrPort
	pp    *peerPath
	dgs   [][]byte
	bytes int
}

func (tx *agentTx) group(conn int, ep netip.AddrPort, pp *peerPath, batch int) *txGroup {
	for i := range tx.groups {
		if g := &tx.groups[i]; g.conn == conn && g.ep == ep {
			return g
		}
	}
	if len(tx.groups) < cap(tx.groups) {
		tx.groups = tx.groups[:len(tx.groups)+1]
	} else {
		tx.groups = append(tx.groups, txGroup{}) // more endpoints in one batch than ever before
	}
	g := &tx.groups[len(tx.groups)-1]
	g.conn, g.ep, g.pp, g.bytes = conn, ep, pp, 0
	if g.dgs == nil {
		g.dgs = make([][]byte, 0, batch)
	}
	g.dgs = g.dgs[:0]
	return g
}

func (a *Agent) sealBatch(bufs [][]byte, sizes []int, tx *agentTx) {
	snap := a.snap.Load()
	tx.copies.n = 0
	now := time.Now().UnixNano()
	for i, b := range bufs {
		if txOffset+sizes[i]+frame.TagLen > len(b) {
			a.drops.add(DropBadInner, 1)
			continue
		}
		pkt := b[txOffset : txOffset+sizes[i]]
		if !tx.ip.Decode(pkt) {
			a.drops.add(DropBadInner, 1)
			continue
		}
		if linkScoped(&tx.ip) {
			a.drops.add(DropLinkLocal, 1)
			continue
		}
		pe := snap.routes.lookup(tx.ip.Dst)
		if pe == nil {
			a.drops.add(DropNoRoute, 1)
			a.dropLog.packet(DropNoRoute, &tx.ip)
			continue
		}
		ks := pe.keys.Load().current()
		if ks == nil {
			a.drops.add(DropNoSession, 1)
			continue
		}
		if !ks.fresh(now) {
			a.drops.add(DropKeyExpired, 1)
			continue
		}
		hash := tx.ip.SymmetricHash()
		typ := frame.TypeData
		var pp *peerPath
		if tbl := pe.table.Load(); tbl != nil {
			d := tx.cache.Lookup(tbl, &tx.ip, tx.ip.Hash())
			if d.Rule >= 0 {
				if d.Mode == classifier.ModeDrop {
					a.drops.add(DropPolicy, 1)
					continue
				}
				live := *pe.live.Load()
				var first paths.BID
				for k := range int(d.N) {
					if slices.Contains(live, d.BIDs[k]) {
						first = d.BIDs[k]
						break
					}
				}
				switch {
				case first == 0:
				case d.Mode == classifier.ModeStripe:
					first = spread(d, live, hash, first)
				case d.Mode == classifier.ModeRedundant:
					if a.sendCopies(tx, pe, ks, d, live, first, pkt) {
						typ = frame.TypeDataCopy
					}
				}
				if first != 0 {
					pp = (*pe.paths.Load())[first]
				}
			}
		}
		if bid := a.flows.get(hash); pp == nil && bid != 0 {
			if pp = (*pe.paths.Load())[bid]; pp != nil && !pp.registered.Load() {
				pp = nil
			}
		}
		ep, conn := netip.AddrPort{}, -1
		if pp != nil {
			ep, conn = pp.endpoint()
		}
		if conn < 0 {
			bid := classifier.Pick(hash, *pe.live.Load())
			if bid == 0 {
				a.drops.add(DropNoPath, 1)
				continue
			}
			pp = (*pe.paths.Load())[bid]
			ep, conn = pp.endpoint()
		}
		if typ == frame.TypeData && pp.doubtful(now) {
			if alt := pe.hedge(pp, now); alt != nil {
				aep, aconn := alt.endpoint()
				g := tx.group(aconn, aep, alt, len(bufs))
				dg := tx.copies.seal(ks, alt.bid, pkt, a.bufSize)
				g.dgs = append(g.dgs, dg)
				g.bytes += len(dg)
				pp.stats.hedged.Add(1)
				typ = frame.TypeDataCopy
			}
		}
		h := frame.Header{Type: typ, BID: pp.bid, Receiver: ks.PeerIndex}
		h.Counter = ks.bid(pp.bid).counter.Add(1) - 1
		fb := b[txOffset-frame.HeaderLen:]
		h.Put(fb)
		dg := ks.send.Seal(fb, sizes[i], pp.bid, h.Counter)
		g := tx.group(conn, ep, pp, len(bufs))
		g.dgs = append(g.dgs, dg)
		g.bytes += len(dg)
	}
}

// Hedging of the downlink (the router's half is pathSet.hedge): a path
// that carried the router's data until it went silent for hedgeSilence
// may be dead, and the router will say so only when it declares it Down
// (≈ 450 ms in, then a binding update). Meanwhile its downlink also goes,
// as copy frames, on another path the router was heard on within
// hedgeAlive; the router delivers whichever copy comes first.
const (
	hedgeSilence = int64(200 * time.Millisecond)
	hedgeTrail   = int64(150 * time.Millisecond) // data right before the silence: the path was busy
	hedgeAlive   = int64(time.Second)
	hedgeHorizon = int64(3 * time.Second) // then the router has removed it, or it is idle
	// hedgeUnanswered is how long a frame flagged frame.FlagUnanswered
	// makes the agent hedge its path's downlink: the router flags every
	// frame while its path is suspect, and probes it every 50 ms.
	hedgeUnanswered = int64(300 * time.Millisecond)
)

// doubtful reports whether pp's downlink may be dead: the router went
// silent on it (silent), or says it gets no answers on it (a one-way
// failure: the router's packets arrive, ours do not).
func (pp *peerPath) doubtful(now int64) bool {
	return pp.silent(now) || now < pp.unanswered.Load()
}

// silent reports whether the router's data on pp stopped hedgeSilence ago
// with nothing since: an idle path, heard only in its probes every half a
// second, is not silent in this sense.
func (pp *peerPath) silent(now int64) bool {
	last := pp.lastRecv.Load()
	quiet := now - last
	return quiet > hedgeSilence && quiet < hedgeHorizon && last-pp.lastData.Load() < hedgeTrail
}

// hedge returns another registered path of pe, with a known endpoint, that
// the router was heard on within hedgeAlive and that is not silent itself;
// nil if there is none.
func (pe *peer) hedge(pp *peerPath, now int64) *peerPath {
	ps := *pe.paths.Load()
	for _, bid := range *pe.live.Load() {
		alt := ps[bid]
		if alt == nil || alt == pp || !alt.registered.Load() || now-alt.lastRecv.Load() > hedgeAlive || alt.doubtful(now) {
			continue
		}
		if _, conn := alt.endpoint(); conn >= 0 {
			return alt
		}
	}
	return nil
}

// spread picks one of the live BIDs of a spreading decision by the flow's
// hash, in proportion to the weights the flow binding carries (equal
// shares without them: a weight of 0 counts as 1).
func spread(d *classifier.Decision, live []paths.BID, hash uint64, first paths.BID) paths.BID {
	var total uint64
	for k := range int(d.N) {
		if slices.Contains(live, d.BIDs[k]) {
			total += uint64(max(d.Weights[k], 1))
		}
	}
	x := (hash >> 17) % max(total, 1)
	for k := range int(d.N) {
		if !slices.Contains(live, d.BIDs[k]) {
			continue
		}
		w := uint64(max(d.Weights[k], 1))
		if x < w {
			return d.BIDs[k]
		}
		x -= w
	}
	return first
}

// sendCopies seals a copy of pkt for each live path of a redundant
// decision other than primary and queues it; it reports whether any went.
func (a *Agent) sendCopies(tx *agentTx, pe *peer, ks *keyState, d *classifier.Decision, live []paths.BID, primary paths.BID, pkt []byte) bool {
	sent := false
	for k := range int(d.N) {
		bid := d.BIDs[k]
		if bid == primary || !slices.Contains(live, bid) {
			continue
		}
		pp := (*pe.paths.Load())[bid]
		ep, conn := pp.endpoint()
		if conn < 0 {
			continue
		}
		g := tx.group(conn, ep, pp, a.batch)
		dg := tx.copies.seal(ks, bid, pkt, a.bufSize)
		g.dgs = append(g.dgs, dg)
		g.bytes += len(dg)
		sent = true
	}
	return sent
}

func (a *Agent) flush(tx *agentTx) {
	for i := range tx.groups {
		g := &tx.groups[i]
		if err := a.conns[g.conn].write(g.dgs, g.ep); err != nil {
			a.drops.add(DropSendError, len(g.dgs))
		} else {
			g.pp.stats.txPackets.Add(uint64(len(g.dgs)))
			g.pp.stats.txBytes.Add(uint64(g.bytes))
		}
		g.dgs, g.pp = g.dgs[:0], nil
	}
	tx.groups = tx.groups[:0]
}

// AgentStats is a snapshot of an Agent's counters.
type AgentStats struct {
	Peers []AgentPeerStats  `json:"mobile_routers"`
	Drops map[string]uint64 `json:"drops"`
}

// AgentPeerStats is one mobile router's view at the home agent.
type AgentPeerStats struct {
	Name    string      `json:"name"`
	Session bool        `json:"session"`
	Paths   []PathStats `json:"paths"`
}

// Stats returns a snapshot of the counters, peers sorted by name and paths
// by BID.
func (a *Agent) Stats() AgentStats {
	a.mu.Lock()
	peers := slices.Collect(maps.Values(a.peers))
	a.mu.Unlock()
	slices.SortFunc(peers, func(x, y *peer) int {
		if x.name < y.name {
			return -1
		}
		if x.name > y.name {
			return 1
		}
		return 0
	})
	st := AgentStats{Drops: a.drops.snapshot()}
	for _, pe := range peers {
		ps := AgentPeerStats{Name: pe.name, Session: pe.keys.Load().current() != nil, Paths: pe.pathStats()}
		st.Peers = append(st.Peers, ps)
	}
	return st
}

// PeerPaths returns the counters of the paths of one mobile router, sorted
// by BID; nil for an unknown one.
func (a *Agent) PeerPaths(name string) []PathStats {
	a.mu.Lock()
	pe := a.peers[name]
	a.mu.Unlock()
	if pe == nil {
		return nil
	}
	return pe.pathStats()
}

func (pe *peer) pathStats() []PathStats {
	var out []PathStats
	for _, pp := range *pe.paths.Load() {
		ep, conn := pp.endpoint()
		s := PathStats{BID: uint16(pp.bid), Name: pe.name, Up: conn >= 0 && pp.registered.Load()}
		if conn >= 0 {
			s.Endpoint = ep.String()
		}
		pp.stats.fill(&s)
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y PathStats) int { return int(x.BID) - int(y.BID) })
	return out
}

// Drops returns the count of packets dropped for reason r.
func (a *Agent) Drops(reason DropReason) uint64 { return a.drops[reason].Load() }
