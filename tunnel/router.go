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
	"monami/paths/probe"
	"monami/tunnel/frame"
)

const (
	// txOffset is where the TUN reads each packet into its buffer: room for
	// the frame header in front (and for the TUN's virtio header on writes).
	txOffset = 32
	// rxOffset is where the inner packet starts in a received datagram, and
	// the offset the TUN writes from (it needs at least 10 bytes in front).
	rxOffset = frame.HeaderLen
)

// RouterOptions configures a [Router]. The zero value is not usable: TUN is
// required.
type RouterOptions struct {
	// Logger receives lifecycle logs; nil discards them.
	Logger *slog.Logger
	// TUN is the device the router captures traffic on. Run takes
	// ownership and closes it.
	TUN wgtun.Device
	// Probe tunes each path's liveness and estimators (paths/probe); its
	// IdleProbeInterval is how often an idle path sends an authenticated
	// keepalive that the home agent echoes. The zero value is the
	// defaults.
	Probe probe.Config
	// KeyLifetime is how long one generation of keys is accepted after its
	// installation; zero means DefaultKeyLifetime.
	KeyLifetime time.Duration
	// OnPathState, if set, is called from the path maintainer each time a
	// path goes Up or Down, with its latest measurements. It must not block
	// and must not call back into the Router.
	OnPathState func(bid paths.BID, up bool, st probe.Stats)
}

// Router is the mobile router's data plane: TUN ↔ per-uplink paths.
type Router struct {
	// Immutable after NewRouter.
	log     *slog.Logger
	tun     wgtun.Device
	probe   probe.Config
	keyLife time.Duration
	onPath  func(paths.BID, bool, probe.Stats)
	epoch   time.Time // probe timestamps are µs since epoch
	batch   int
	bufSize int

	// Published snapshots, read once per batch by the data-plane loops.
	paths atomic.Pointer[pathSet]
	keys  atomic.Pointer[keySet]
	table atomic.Pointer[classifier.Table] // the compiled policy; nil: hash every flow

	mu      sync.Mutex // guards the fields below and serialises path-set changes
	all     map[paths.BID]*path
	running bool
	closed  bool // Run is shutting down: AddPath refuses

	wg   sync.WaitGroup // path receive loops
	kick chan struct{}  // wakes the keepalive loop
	// probeAll asks maintainLoop to probe every path at once (after a rekey).
	probeAll atomic.Bool
	// renew tells maintainLoop that a new session began: every path
	// re-confirms itself at once, and a Down one comes back quickly
	// (probe.Liveness.Renew).
	renew   atomic.Bool
	cache   *classifier.FlowCache // owned by readLoop
	copies  copies                // owned by readLoop
	dups    *dupFilter            // copies from the home agent
	drops   drops
	dropLog *dropLog
}

// pathSet is an immutable snapshot of the paths, sorted by BID, and of the
// ones flows are spread over: those Up; failing that, all of them (a path
// that may work beats a certain drop).
type pathSet struct {
	paths []*path
	bids  []paths.BID // the candidates for flows
	idx   []int       // idx[k] is the index in paths of bids[k]
}

// path is one uplink: its socket and the home agent's endpoint for it.
type path struct {
	bid    paths.BID
	name   string
	conn   paths.Conn
	remote netip.AddrPort

	writeMu sync.Mutex // serialises conn.Write (data from the reader, keepalives from the timer)

	lastSend atomic.Int64 // unix ns of the last send on this path
	lastData atomic.Int64 // unix ns of the last data send
	lastRecv atomic.Int64 // unix ns of the last authenticated receive
	stats    counters
	done     chan struct{} // closed when recvLoop returns

	// Owned by maintainLoop.
	live     *probe.Liveness
	probeSeq uint32

	// Published by maintainLoop for the data plane and Stats.
	up      atomic.Bool
	suspect atomic.Bool
	changes atomic.Uint64
	demoted atomic.Bool // at its data cap: carries flows only if no other path is Up
	est     atomic.Pointer[probe.Stats]

	// Handed from recvLoop and SetLinkState to maintainLoop.
	evMu   sync.Mutex
	acks   []probeAck
	linkEv int8 // +1 link up, -1 link down, 0 nothing pending
}

// probeAck is a probe reply seen by recvLoop.
type probeAck struct {
	seq uint32
	at  time.Time
}

// NewRouter returns a Router for opts. Add paths with AddPath, install keys
// with SetSession, and start it with Run.
func NewRouter(opts RouterOptions) (*Router, error) {
	if opts.TUN == nil {
		return nil, errors.New("tunnel: RouterOptions.TUN is required")
	}
	mtu, err := opts.TUN.MTU()
	if err != nil {
		return nil, fmt.Errorf("tun mtu: %w", err)
	}
	r := &Router{
		log:     opts.Logger,
		tun:     opts.TUN,
		probe:   opts.Probe,
		keyLife: opts.KeyLifetime,
		onPath:  opts.OnPathState,
		batch:   opts.TUN.BatchSize(),
		bufSize: txOffset + mtu + frame.TagLen + 64,
		all:     make(map[paths.BID]*path),
		kick:    make(chan struct{}, 1),
		epoch:   time.Now(),
		cache:   classifier.NewFlowCache(flowCacheEntries),
		dups:    newDupFilter(),
	}
	if r.keyLife <= 0 {
		r.keyLife = DefaultKeyLifetime
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("component", "tunnel")
	r.dropLog = newDropLog(r.log)
	r.paths.Store(&pathSet{})
	return r, nil
}

// AddPath adds the uplink bid, sending to the home agent at remote over conn,
// and starts its receive loop. The Router owns conn from now on. It is an
// error to add a BID twice.
func (r *Router) AddPath(bid paths.BID, name string, conn paths.Conn, remote netip.AddrPort) error {
	if bid == 0 {
		return errors.New("tunnel: BID 0 is reserved")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if _, ok := r.all[bid]; ok {
		return fmt.Errorf("tunnel: path %d exists", bid)
	}
	p := &path{bid: bid, name: name, conn: conn, remote: remote, done: make(chan struct{}),
		live: probe.NewLiveness(r.probe, time.Now())}
	p.est.Store(&probe.Stats{})
	r.all[bid] = p
	r.publishLocked()
	r.wg.Go(func() { r.recvLoop(p) })
	r.log.Info("path added", "bid", bid, "iface", name, "remote", remote)
	r.poke()
	return nil
}

// RemovePath closes the path bid and waits for its receive loop. Its flows
// move to the remaining paths with the next batch.
func (r *Router) RemovePath(bid paths.BID) {
	r.mu.Lock()
	p := r.all[bid]
	delete(r.all, bid)
	r.publishLocked()
	r.mu.Unlock()
	if p == nil {
		return
	}
	p.writeMu.Lock() // no Write in flight after this
	p.conn.Close()
	p.writeMu.Unlock()
	<-p.done
	r.log.Info("path removed", "bid", bid, "iface", p.name)
}

func (r *Router) publishLocked() {
	ps := &pathSet{}
	for _, p := range r.all {
		ps.paths = append(ps.paths, p)
	}
	slices.SortFunc(ps.paths, func(a, b *path) int { return int(a.bid) - int(b.bid) })
	// Suspect paths keep their flows: a reply late by a few tens of
	// milliseconds on a loaded machine must not make flows hop between
	// paths (reordering them); Down, about a second into a silence or at
	// once on link loss, moves them.
	for _, want := range []func(*path) bool{
		func(p *path) bool { return p.up.Load() && !p.demoted.Load() },
		func(p *path) bool { return p.up.Load() },
		func(p *path) bool { return true },
	} {
		for i, p := range ps.paths {
			if want(p) {
				ps.bids = append(ps.bids, p.bid)
				ps.idx = append(ps.idx, i)
			}
		}
		if len(ps.bids) > 0 {
			break
		}
	}
	r.paths.Store(ps)
}

// SetDemoted demotes the path bid (it reached its data cap): from the next
// batch on it carries flows only when no other path is Up. False restores
// it.
func (r *Router) SetDemoted(bid paths.BID, demoted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.all[bid]; p != nil && p.demoted.Swap(demoted) != demoted {
		r.publishLocked()
	}
}

// SetLinkState reports that the interface under path bid went down or
// came up (from the link monitor). A link going down takes the path out
// at once.
func (r *Router) SetLinkState(bid paths.BID, up bool) {
	r.mu.Lock()
	p := r.all[bid]
	r.mu.Unlock()
	if p == nil {
		return
	}
	p.evMu.Lock()
	p.linkEv = -1
	if up {
		p.linkEv = 1
	}
	p.evMu.Unlock()
	r.poke()
}

// SetSession installs the keys of a new signaling session; the previous
// session's packets are refused from now on. Every path re-confirms itself
// with keepalives at once.
func (r *Router) SetSession(s Session) error {
	ks, err := newKeyState(s, r.keyLife)
	if err != nil {
		return err
	}
	r.keys.Store(&keySet{cur: ks})
	r.log.Info("session installed", "generation", s.Generation, "local_index", s.LocalIndex, "peer_index", s.PeerIndex, "suite", s.Suite)
	r.renew.Store(true)
	r.poke()
	return nil
}

// Rekey installs the next generation of keys of the current session: from
// now on the router sends under s, and it still opens what the home agent
// sends under the previous generation until those keys expire (the home
// agent moves to s when it sees the router's first frame under it).
func (r *Router) Rekey(s Session) error {
	ks, err := newKeyState(s, r.keyLife)
	if err != nil {
		return err
	}
	old := r.keys.Load()
	if old == nil || old.cur == nil {
		return errors.New("tunnel: rekey without a session")
	}
	r.keys.Store(&keySet{cur: ks, prev: old.cur})
	r.log.Debug("rekeyed", "generation", s.Generation, "local_index", s.LocalIndex, "peer_index", s.PeerIndex)
	// Confirm the new keys to the home agent on every path now, so that
	// its downlink moves to them even when no data flows.
	r.probeAll.Store(true)
	r.poke()
	return nil
}

// SetTable installs a compiled policy table: from the next batch on, each
// flow goes where its first matching rule says (the first Up path of the
// rule's BIDs, in order; drop rules drop), and flows no rule matches are
// hashed over the Up paths. Nil removes the table.
func (r *Router) SetTable(t *classifier.Table) {
	if t != nil && t.Len() == 0 {
		t = nil // no rule: the packets need no lookup
	}
	r.table.Store(t)
}

// FlowCacheStats returns the counters of the reader's flow cache.
func (r *Router) FlowCacheStats() classifier.FlowCacheStats { return r.cache.Snapshot() }

// ClearSession drops the keys; traffic is dropped (DropNoSession) until the
// next SetSession.
func (r *Router) ClearSession() { r.keys.Store(nil) }

func (r *Router) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run moves packets until ctx is done or the TUN fails, then closes the TUN
// and every path and waits for all loops. It returns nil on cancellation.
func (r *Router) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		return errors.New("tunnel: Run called twice")
	}
	r.running = true
	r.mu.Unlock()

	ctx, cancel := context.WithCancelCause(ctx)
	var loops sync.WaitGroup
	loops.Go(func() {
		if err := r.readLoop(); err != nil {
			cancel(err)
		}
	})
	loops.Go(func() { r.maintainLoop(ctx) })

	<-ctx.Done()
	r.tun.Close() // unblocks readLoop
	r.mu.Lock()
	r.closed = true
	bids := slices.Collect(maps.Keys(r.all))
	r.mu.Unlock()
	for _, b := range bids {
		r.RemovePath(b)
	}
	cancel(nil)
	loops.Wait()
	r.wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// readLoop is the uplink pipeline: TUN → classify → seal → paths.
func (r *Router) readLoop() error {
	bufs := newBufs(r.batch, r.bufSize)
	sizes := make([]int, r.batch)
	var outs [][][]byte
	var p classifier.Parsed
	for {
		n, stop, err := readTUN(r.tun, bufs, sizes, &r.drops)
		if stop {
			return err
		}
		ps := r.paths.Load()
		if len(outs) < len(ps.paths) {
			outs = make([][][]byte, len(ps.paths))
			for i := range outs {
				outs[i] = make([][]byte, 0, r.batch)
			}
		}
		r.sealBatch(ps, bufs[:n], sizes[:n], outs, &p)
		now := time.Now().UnixNano()
		for i, o := range outs[:len(ps.paths)] {
			if len(o) > 0 {
				ps.paths[i].send(o, now, &r.drops)
				ps.paths[i].lastData.Store(now)
				outs[i] = o[:0]
			}
		}
	}
}

// sealBatch frames and seals each packet of bufs in place and appends the
// datagram to outs[i] for the path ps.paths[i] chosen for its flow.
func (r *Router) sealBatch(ps *pathSet, bufs [][]byte, sizes []int, outs [][][]byte, p *classifier.Parsed) {
	ks := r.keys.Load().current()
	if ks == nil {
		r.drops.add(DropNoSession, len(bufs))
		return
	}
	if !ks.fresh(time.Now().UnixNano()) {
		r.drops.add(DropKeyExpired, len(bufs))
		return
	}
	tbl := r.table.Load()
	r.copies.n = 0
	if len(ps.paths) == 0 {
		r.drops.add(DropNoPath, len(bufs))
		return
	}
	for i, b := range bufs {
		if txOffset+sizes[i]+frame.TagLen > len(b) {
			r.drops.add(DropBadInner, 1) // larger than the TUN's MTU: cannot happen with a sane TUN
			continue
		}
		pkt := b[txOffset : txOffset+sizes[i]]
		if !p.Decode(pkt) {
			r.drops.add(DropBadInner, 1)
			continue
		}
		if linkScoped(p) {
			r.drops.add(DropLinkLocal, 1)
			continue
		}
		fh := p.Hash()
		bid := paths.BID(0)
		typ := frame.TypeData
		if tbl != nil {
			d := r.cache.Lookup(tbl, p, fh)
			if d.Rule >= 0 {
				if d.Mode == classifier.ModeDrop {
					r.drops.add(DropPolicy, 1)
					continue
				}
				bid = ps.choose(d, fh)
				if d.Mode == classifier.ModeRedundant && bid != 0 && r.sendCopies(ks, ps, d, bid, pkt, outs) {
					typ = frame.TypeDataCopy
				}
			}
		}
		if bid == 0 {
			bid = classifier.Pick(fh, ps.bids)
		}
		j := ps.idx[slices.Index(ps.bids, bid)]
		var flags uint8
		if ps.paths[j].suspect.Load() {
			flags = frame.FlagUnanswered // the agent hedges this path's downlink
			if k := ps.hedge(j); k >= 0 && typ == frame.TypeData {
				outs[k] = append(outs[k], r.copies.seal(ks, ps.paths[k].bid, pkt, r.bufSize))
				ps.paths[j].stats.hedged.Add(1)
				typ = frame.TypeDataCopy
			}
		}
		h := frame.Header{Type: typ, Flags: flags, BID: bid, Receiver: ks.PeerIndex}
		h.Counter = ks.bid(bid).counter.Add(1) - 1
		fb := b[txOffset-frame.HeaderLen:]
		h.Put(fb)
		outs[j] = append(outs[j], ks.send.Seal(fb, sizes[i], bid, h.Counter))
	}
}

// sendCopies seals a copy of pkt for each Up path of a redundant decision
// other than primary (which the caller seals from pkt's own buffer) and
// queues it on that path. It reports whether any copy went out; if so the
// primary must be a copy frame too.
func (r *Router) sendCopies(ks *keyState, ps *pathSet, d *classifier.Decision, primary paths.BID, pkt []byte, outs [][][]byte) bool {
	sent := false
	for k := range int(d.N) {
		bid := d.BIDs[k]
		if bid == primary || !slices.Contains(ps.bids, bid) {
			continue
		}
		j := ps.idx[slices.Index(ps.bids, bid)]
		outs[j] = append(outs[j], r.copies.seal(ks, bid, pkt, r.bufSize))
		sent = true
	}
	return sent
}

// hedge returns the index in ps.paths of the path to send a copy on when
// ps.paths[j] is suspect: the first other candidate that is not suspect
// itself; -1 if there is none. A suspect path keeps its flows (moving them
// on a late reply would reorder them), but while it may be dead its
// packets also go, as copy frames, on a path that answers: a TCP sender's
// first retransmission, 200 ms after a blackhole, then arrives without
// waiting for the path to be declared Down (≈ 450 ms in), and the home
// agent delivers whichever copy comes first.
func (ps *pathSet) hedge(j int) int {
	for _, k := range ps.idx {
		if k != j && !ps.paths[k].suspect.Load() {
			return k
		}
	}
	return -1
}

// busyWindow is how recently a path must have sent data to count as busy.
const busyWindow = 200 * time.Millisecond

// flowCacheEntries is the size of the reader's flow cache: 64 k flows,
// about 7 MiB.
const flowCacheEntries = 1 << 16

// choose returns the path a policy decision sends flow h on: for single
// (and, until the data plane stripes packets, stripe and redundant), the
// first of its BIDs that is a candidate (Up), in the policy's order; for
// stripe, a flow-hash pick weighted by the rule's weights among the
// candidates. 0 if none of its BIDs is a candidate: the caller then falls
// back to the default.
func (ps *pathSet) choose(d *classifier.Decision, h uint64) paths.BID {
	if d.Mode == classifier.ModeStripe && d.N > 1 {
		var total uint64
		for k := range int(d.N) {
			if slices.Contains(ps.bids, d.BIDs[k]) {
				total += uint64(max(d.Weights[k], 1))
			}
		}
		if total > 0 {
			x := (h >> 17) % total
			for k := range int(d.N) {
				if !slices.Contains(ps.bids, d.BIDs[k]) {
					continue
				}
				w := uint64(max(d.Weights[k], 1))
				if x < w {
					return d.BIDs[k]
				}
				x -= w
			}
		}
	}
	for k := range int(d.N) {
		if slices.Contains(ps.bids, d.BIDs[k]) {
			return d.BIDs[k]
		}
	}
	return 0
}

// send writes dgs to the home agent over p and counts them.
func (p *path) send(dgs [][]byte, now int64, d *drops) {
	var bytes int
	for _, b := range dgs {
		bytes += len(b)
	}
	p.writeMu.Lock()
	err := p.conn.Write(dgs, p.remote)
	p.writeMu.Unlock()
	if err != nil {
		d.add(DropSendError, len(dgs))
		return
	}
	p.stats.txPackets.Add(uint64(len(dgs)))
	p.stats.txBytes.Add(uint64(bytes))
	p.lastSend.Store(now)
}

// recvLoop is the downlink pipeline of one path: socket → open → TUN.
func (r *Router) recvLoop(p *path) {
	defer close(p.done)
	bs := p.conn.BatchSize()
	bufs := newBufs(bs, paths.MaxDatagram)
	sizes := make([]int, bs)
	eps := make([]netip.AddrPort, bs)
	wbufs := make([][]byte, 0, bs)
	var ip classifier.Parsed
	for {
		n, err := p.conn.Read(bufs, sizes, eps)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			r.drops.add(DropBadFrame, 1)
			if n == 0 {
				time.Sleep(time.Millisecond) // a persistent socket error must not spin
				continue
			}
		}
		wbufs = r.openBatch(p, bufs[:n], sizes[:n], wbufs[:0], &ip)
		if len(wbufs) > 0 {
			if _, err := r.tun.Write(wbufs, rxOffset); err != nil {
				r.drops.add(DropTUNError, len(wbufs))
			}
		}
	}
}

// openBatch authenticates the datagrams of one read and returns the inner
// packets to write to the TUN (appended to out, each at offset rxOffset).
func (r *Router) openBatch(p *path, bufs [][]byte, sizes []int, out [][]byte, ip *classifier.Parsed) [][]byte {
	set := r.keys.Load()
	now := time.Now()
	nowNs := now.UnixNano()
	replies := false
	var rx, rxBytes, ka uint64
	for i, b := range bufs {
		dg := b[:sizes[i]]
		h, err := frame.Parse(dg)
		if err != nil {
			r.drops.add(DropBadFrame, 1)
			continue
		}
		ks := set.forIndex(h.Receiver)
		if ks == nil {
			r.drops.add(DropUnknownReceiver, 1)
			continue
		}
		if !ks.fresh(nowNs) {
			r.drops.add(DropKeyExpired, 1)
			continue
		}
		if h.BID != p.bid {
			r.drops.add(DropBIDMismatch, 1)
			continue
		}
		pt, err := ks.recv.Open(dg, h.BID, h.Counter)
		if err != nil {
			r.drops.add(DropAuth, 1)
			continue
		}
		if !ks.bid(h.BID).accept(h.Counter) {
			r.drops.add(DropReplay, 1)
			continue
		}
		rx++
		rxBytes += uint64(len(dg))
		switch h.Type {
		case frame.TypeKeepaliveReply:
			ka++
			if seq, _, ok := frame.ParseProbe(pt); ok {
				p.evMu.Lock()
				if len(p.acks) < 1024 {
					p.acks = append(p.acks, probeAck{seq, now})
				}
				p.evMu.Unlock()
				replies = true
			}
			continue
		case frame.TypeKeepalive:
			ka++
			continue
		case frame.TypeDataCopy:
			if r.dups.seen(pt, nowNs) {
				r.drops.add(DropDuplicate, 1)
				continue
			}
		}
		if !ip.Decode(pt) {
			r.drops.add(DropBadInner, 1)
			continue
		}
		out = append(out, b[:rxOffset+len(pt)])
	}
	if rx > 0 {
		p.stats.rxPackets.Add(rx)
		p.stats.rxBytes.Add(rxBytes)
		p.stats.keepalivesRx.Add(ka)
		p.lastRecv.Store(now.UnixNano())
	}
	if replies {
		r.poke()
	}
	return out
}

// maintainLoop is the path maintainer: it owns every path's Liveness,
// feeds it the probe replies the receive loops saw and the link events,
// sends the probes it asks for, and republishes the path set when a
// path's state changes. It sleeps until the earliest deadline of any path,
// or until poked.
func (r *Router) maintainLoop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	buf := make([]byte, frame.HeaderLen+frame.ProbeLen+frame.TagLen)
	dg := [][]byte{nil}
	var acks []probeAck
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.kick:
		}
		ks := r.keys.Load().current()
		now := time.Now()
		if ks != nil && !ks.fresh(now.UnixNano()) {
			ks = nil
		}
		probeAll := r.probeAll.Swap(false)
		renew := r.renew.Swap(false)
		next := now.Add(time.Second)
		changed := false
		for _, p := range r.paths.Load().paths {
			p.evMu.Lock()
			acks, p.acks = p.acks, acks[:0]
			link := p.linkEv
			p.linkEv = 0
			p.evMu.Unlock()
			l := p.live
			// A path carrying data is probed faster and declared Down
			// sooner (probe.Config.BusyDownAfter): its flows get no other
			// feedback, and a TCP sender's retransmissions back off.
			l.SetBusy(now.UnixNano()-p.lastData.Load() < int64(busyWindow))
			if renew {
				l.Renew(now)
			}
			switch link {
			case -1:
				changed = l.LinkDown(now) || changed
			case 1:
				l.LinkUp(now)
			}
			for _, a := range acks {
				if _, ok := l.Estimator().OnProbeAck(a.at, uint64(a.seq)); ok {
					l.OnReceive(a.at)
				}
			}
			send, ch := l.Tick(now)
			changed = changed || ch
			if (send || probeAll) && ks != nil {
				p.probeSeq++
				h := frame.Header{Type: frame.TypeKeepalive, BID: p.bid, Receiver: ks.PeerIndex}
				if l.Suspect() || l.State() != paths.StateUp {
					h.Flags = frame.FlagUnanswered
				}
				h.Counter = ks.bid(p.bid).counter.Add(1) - 1
				h.Put(buf)
				frame.PutProbe(buf[frame.HeaderLen:], p.probeSeq, uint32(time.Since(r.epoch)/time.Microsecond))
				dg[0] = ks.send.Seal(buf, frame.ProbeLen, p.bid, h.Counter)
				p.send(dg, now.UnixNano(), &r.drops)
				p.stats.keepalivesTx.Add(1)
				l.Estimator().OnProbeSent(now, uint64(p.probeSeq))
			}
			up, suspect := l.State() == paths.StateUp, l.Suspect()
			if up != p.up.Load() {
				p.up.Store(up)
				p.changes.Add(1)
				changed = true
				r.log.Info("path state", "bid", p.bid, "iface", p.name, "state", l.State())
				if r.onPath != nil {
					r.onPath(p.bid, up, l.Estimator().Snapshot())
				}
			}
			if suspect != p.suspect.Load() {
				p.suspect.Store(suspect)
				r.log.Debug("path suspect", "bid", p.bid, "iface", p.name, "suspect", suspect)
			}
			if len(acks) > 0 || ch {
				st := l.Estimator().Snapshot()
				p.est.Store(&st)
			}
			if nt := l.NextTick(now); nt.Before(next) {
				next = nt
			}
		}
		if changed {
			r.mu.Lock()
			r.publishLocked()
			r.mu.Unlock()
		}
		t.Reset(max(next.Sub(time.Now()), time.Millisecond))
	}
}

// RouterStats is a snapshot of a Router's counters.
type RouterStats struct {
	Paths []PathStats       `json:"paths"`
	Drops map[string]uint64 `json:"drops"`
}

// LastHeard returns when an authenticated frame from the home agent last
// arrived on any path (the zero time if none has).
func (r *Router) LastHeard() time.Time {
	var last int64
	for _, p := range r.paths.Load().paths {
		last = max(last, p.lastRecv.Load())
	}
	if last == 0 {
		return time.Time{}
	}
	return time.Unix(0, last)
}

// Stats returns a snapshot of the counters, paths sorted by BID.
func (r *Router) Stats() RouterStats {
	ps := r.paths.Load()
	st := RouterStats{Drops: r.drops.snapshot()}
	for _, p := range ps.paths {
		e := p.est.Load()
		s := PathStats{BID: uint16(p.bid), Name: p.name, Endpoint: p.remote.String(), Up: p.up.Load(), Suspect: p.suspect.Load(),
			RTTMicros: e.LatestRTT.Microseconds(), RecentMicros: e.RecentRTT.Microseconds(), SRTTMicros: e.SRTT.Microseconds(), RTTVarMicros: e.RTTVar.Microseconds(),
			JitterMicros: e.Jitter.Microseconds(), Loss: e.Loss, Changes: p.changes.Load(), Demoted: p.demoted.Load()}
		p.stats.fill(&s)
		st.Paths = append(st.Paths, s)
	}
	return st
}

// Drops returns the count of packets dropped for reason r.
func (r *Router) Drops(reason DropReason) uint64 { return r.drops[reason].Load() }
