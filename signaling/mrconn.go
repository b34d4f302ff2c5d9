// SPDX-License-Identifier: MIT

package signaling

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/quic-go/quic-go"

	"monami/paths"
	"monami/signaling/msg"
)

// Timers of an established session on the MR's side.
const (
	// buRetransmitMin and buRetransmitMax bound the retransmission of an
	// unacknowledged binding update (RFC 6275 §11.8: initial 1 s,
	// doubling, at most 32 s).
	buRetransmitMin = time.Second
	buRetransmitMax = 32 * time.Second
	// rekeyInterval is how often new data-plane keys are made; rekeyTimeout
	// how long a key update may stay unanswered before the connection is
	// made anew (which brings fresh keys too).
	rekeyInterval = 120 * time.Second
	rekeyTimeout  = 10 * time.Second
	// reportInterval is how often each side sends a path report.
	reportInterval = 2 * time.Second
	// migrateTimeout bounds the validation of a new path for the
	// connection.
	migrateTimeout = time.Second
	// maxFlowsPerUpdate bounds the flow binding options of one update
	// (each at most 257 bytes: all fit in a message); more changes go in
	// the next update.
	maxFlowsPerUpdate = 200
)

// inMsg is one message read from the stream.
type inMsg struct {
	typ  msg.Type
	body []byte
}

// readMessages reads the stream into ch until it fails, then sends the
// error on errc. The bodies are copies.
func readMessages(str *quic.Stream, ch chan<- inMsg, errc chan<- error, done <-chan struct{}) {
	buf := make([]byte, 4096)
	for {
		typ, body, err := msg.ReadMessage(str, buf)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errStreamClosed
			}
			errc <- err
			return
		}
		if typ == typeHeartbeat {
			continue // it did its work by arriving; at 1000 MRs waking the loop for it costs
		}
		select {
		case ch <- inMsg{typ, slices.Clone(body)}:
		case <-done:
			return
		}
	}
}

// pendingBU is the binding update awaiting its acknowledgement.
type pendingBU struct {
	bu   *msg.BindingUpdate
	sent time.Time
	rto  time.Duration
}

// clientConn is one established session on the MR: the state of the
// bindings the HA holds and the timers that keep them. Owned by the
// goroutine of run.
type clientConn struct {
	c    *Client
	conn *quic.Conn
	str  *quic.Stream
	out  *sender
	sess Session

	registered   map[paths.BID]netip.Addr           // acknowledged BIDs → care-of address
	flows        map[uint16]msg.FlowIdentification  // flow bindings the HA accepted or refused
	sentFlows    map[uint16]*msg.FlowIdentification // flows of the pending update (nil = delete)
	pending      *pendingBU
	lifetime     time.Duration // granted
	refreshAt    time.Time
	rekeyAt      time.Time
	rekey        *msg.KeyUpdate // awaiting its acknowledgement
	rekeySent    time.Time
	reportAt     time.Time
	beatAt       time.Time
	transports   []*quic.Transport // added by migrations; closed at the end
	migrateAt    time.Time         // retry of a failed migration; zero if none
	migrateTries int
}

func newClientConn(c *Client, conn *quic.Conn, str *quic.Stream, sess Session, bu *msg.BindingUpdate, ba *msg.BindingAck) *clientConn {
	now := time.Now()
	cc := &clientConn{c: c, conn: conn, str: str, sess: sess,
		registered: map[paths.BID]netip.Addr{},
		flows:      map[uint16]msg.FlowIdentification{},
		rekeyAt:    now.Add(c.opts.RekeyInterval),
		reportAt:   now,
		beatAt:     now.Add(heartbeatInterval),
	}
	cc.acked(now, &pendingBU{bu: bu}, ba)
	return cc
}

func (cc *clientConn) closeTransports() {
	for _, tr := range cc.transports {
		tr.Close()
		tr.Conn.Close()
	}
}

// run holds the session until the connection fails or ctx ends.
func (cc *clientConn) run(ctx context.Context) error {
	c := cc.c
	in := make(chan inMsg, 16)
	errc := make(chan error, 1)
	done := make(chan struct{})
	cc.out = newSender(cc.str)
	defer func() {
		close(done)
		cc.conn.CloseWithError(codeClose, "")
		cc.out.close() // a blocked write returns once the connection is closed
		<-errc         // the reader ends when the connection does
	}()
	go readMessages(cc.str, in, errc, done) // owned: waited for above

	t := time.NewTimer(0)
	defer t.Stop()
	// Flow bindings and path changes wanted before the session came up go
	// out now.
	poke(c.kick)
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-cc.conn.Context().Done():
			return context.Cause(cc.conn.Context())
		case err := <-errc:
			errc <- err // for the deferred wait
			return err
		case err := <-cc.out.errc:
			return err
		case m := <-in:
			if err := cc.handle(m); err != nil {
				cc.conn.CloseWithError(codeProtocol, err.Error())
				return err
			}
		case <-c.kick:
		case <-c.report:
			cc.reportAt = time.Now()
		case <-c.migrate:
			cc.migrateTries = 0
			cc.migrate(ctx)
		case <-t.C:
		}
		if err := cc.tick(ctx, time.Now()); err != nil {
			return err
		}
		t.Reset(max(time.Until(cc.nextDeadline()), time.Millisecond))
	}
}

// maxMigrateTries bounds the attempts at moving the connection after one
// Migrate, a second apart.
const maxMigrateTries = 5

// migrate tries to move the connection now; a failure (no other uplink,
// or its path does not validate) keeps the connection where it is (its
// uplink may come back, and if it does not the idle timeout ends it and
// Run reconnects over whatever works) and tries again a second later.
func (cc *clientConn) migrate(ctx context.Context) {
	c := cc.c
	cc.migrateAt = time.Time{}
	if err := cc.migrateNow(ctx); err != nil {
		c.migrationFailures.Add(1)
		cc.migrateTries++
		if cc.migrateTries < maxMigrateTries {
			cc.migrateAt = time.Now().Add(time.Second)
		}
		c.log.Warn("signaling migration failed", "err", err, "try", cc.migrateTries)
	}
}

// nextDeadline is the earliest timer of the session.
func (cc *clientConn) nextDeadline() time.Time {
	d := cc.beatAt
	if !cc.migrateAt.IsZero() && cc.migrateAt.Before(d) {
		d = cc.migrateAt
	}
	for _, x := range []time.Time{cc.refreshAt, cc.rekeyAt, cc.reportAt} {
		if x.Before(d) {
			d = x
		}
	}
	if cc.pending != nil {
		if x := cc.pending.sent.Add(cc.pending.rto); x.Before(d) {
			d = x
		}
	}
	if cc.rekey != nil {
		if x := cc.rekeySent.Add(rekeyTimeout); x.Before(d) {
			d = x
		}
	}
	return d
}

// tick runs the timers that are due and sends what the wanted state needs.
func (cc *clientConn) tick(ctx context.Context, now time.Time) error {
	c := cc.c
	if !cc.migrateAt.IsZero() && !now.Before(cc.migrateAt) {
		cc.migrate(ctx)
	}
	if !now.Before(cc.beatAt) {
		if h := c.opts.HeardFrom; h == nil || now.Sub(h()) >= heartbeatInterval {
			if err := cc.out.send(heartbeat, true); err != nil {
				return err
			}
			c.heartbeats.Add(1)
		}
		cc.beatAt = now.Add(heartbeatInterval)
	}
	if !now.Before(cc.reportAt) {
		if c.opts.PathReport != nil {
			if ps := c.opts.PathReport(); len(ps) > 0 {
				if len(ps) > msg.MaxPathEntries {
					ps = ps[:msg.MaxPathEntries]
				}
				if err := cc.write(&msg.PathReport{Paths: ps}); err != nil {
					return err
				}
			}
		}
		cc.reportAt = now.Add(c.opts.ReportInterval)
	}
	if cc.rekey != nil && now.Sub(cc.rekeySent) >= rekeyTimeout {
		return errors.New("key update not acknowledged")
	}
	if cc.rekey == nil && !now.Before(cc.rekeyAt) {
		ku := &msg.KeyUpdate{Generation: cc.sess.Generation + 1, Index: randomIndex()}
		if err := cc.write(ku); err != nil {
			return err
		}
		cc.rekey, cc.rekeySent = ku, now
	}
	if p := cc.pending; p != nil {
		if now.Sub(p.sent) < p.rto {
			return nil
		}
		// No acknowledgement: send it again, under a new sequence number.
		c.retransmits.Add(1)
		c.seq++
		p.bu.Sequence = c.seq
		p.sent, p.rto = now, min(2*p.rto, buRetransmitMax)
		return cc.write(p.bu)
	}
	bu := cc.nextUpdate(now)
	if bu == nil {
		return nil
	}
	c.seq++
	bu.Sequence = c.seq
	c.updates.Add(1)
	cc.pending = &pendingBU{bu: bu, sent: now, rto: buRetransmitMin}
	return cc.write(bu)
}

// nextUpdate returns the binding update the wanted state needs now, or nil:
// first removals of paths no longer wanted (lifetime 0), then a bulk
// registration of every wanted path with the flow binding changes, also
// when the refresh is due.
func (cc *clientConn) nextUpdate(now time.Time) *msg.BindingUpdate {
	c := cc.c
	c.mu.Lock()
	want := slices.Clone(c.wantBID)
	wantFlows := c.wantFlo
	c.mu.Unlock()

	var gone []msg.BIDOption
	for b := range cc.registered {
		if !slices.ContainsFunc(want, func(o msg.BIDOption) bool { return o.BID == b }) {
			gone = append(gone, msg.BIDOption{BID: b})
		}
	}
	if len(gone) > 0 {
		slices.SortFunc(gone, func(a, b msg.BIDOption) int { return int(a.BID) - int(b.BID) })
		return &msg.BindingUpdate{Flags: msg.BUAck | msg.BUHome | msg.BUMobileRouter, BIDs: gone}
	}
	changed := false
	for _, o := range want {
		if coa, ok := cc.registered[o.BID]; !ok || coa != o.CareOf {
			changed = true
		}
	}
	cc.sentFlows = map[uint16]*msg.FlowIdentification{}
	var flows []msg.FlowIdentification
	for fid, f := range wantFlows {
		if len(flows) == maxFlowsPerUpdate {
			break
		}
		old, ok := cc.flows[fid]
		switch {
		case !ok:
			f.Action = msg.FlowActionAdd
		case !sameFlow(&old, &f):
			f.Action = msg.FlowActionModify
		default:
			continue
		}
		flows = append(flows, f)
		cc.sentFlows[fid] = &f
	}
	for fid := range cc.flows {
		if len(flows) == maxFlowsPerUpdate {
			break
		}
		if _, ok := wantFlows[fid]; !ok {
			flows = append(flows, msg.FlowIdentification{FID: fid, Action: msg.FlowActionDelete})
			cc.sentFlows[fid] = nil
		}
	}
	refresh := !cc.refreshAt.IsZero() && !now.Before(cc.refreshAt)
	if !changed && len(flows) == 0 && !refresh {
		return nil
	}
	if len(want) == 0 {
		// Nothing to register: flow changes wait for a path.
		cc.refreshAt = time.Time{}
		return nil
	}
	slices.SortFunc(flows, func(a, b msg.FlowIdentification) int { return int(a.FID) - int(b.FID) })
	return &msg.BindingUpdate{
		Flags:    msg.BUAck | msg.BUHome | msg.BUMobileRouter,
		Lifetime: msg.LifetimeUnits(c.opts.Lifetime),
		BIDs:     want,
		Flows:    flows,
	}
}

// sameFlow reports whether two flow bindings bind the same selector to the
// same BIDs, in the same mode and weights, with the same priority.
func sameFlow(a, b *msg.FlowIdentification) bool {
	if a.Priority != b.Priority || a.Mode != b.Mode || !slices.Equal(a.BIDs, b.BIDs) || !slices.Equal(a.Weights, b.Weights) {
		return false
	}
	if (a.Selector == nil) != (b.Selector == nil) {
		return false
	}
	if a.Selector == nil {
		return true
	}
	return string(a.Selector.Append(nil)) == string(b.Selector.Append(nil))
}

// handle processes one message from the HA.
func (cc *clientConn) handle(m inMsg) error {
	c := cc.c
	switch m.typ {
	case msg.TypeBindingAck:
		ba, err := msg.ParseBindingAck(m.body)
		if err != nil {
			return err
		}
		p := cc.pending
		if p == nil {
			return nil
		}
		if ba.Status == msg.StatusSequenceOutOfWindow {
			// The HA remembers a later number (it carries it): continue
			// after it; the next tick sends the update again.
			cc.pending = nil
			c.seq = ba.Sequence
			c.log.Info("binding update out of window; resynchronised", "sequence", ba.Sequence)
			return nil
		}
		if ba.Sequence != p.bu.Sequence {
			return nil // the answer to an update sent again since
		}
		cc.pending = nil
		switch {
		case !ba.Status.Accepted():
			cc.report(msg.ErrorReport{Status: uint8(ba.Status), Kind: msg.ErrorKindBinding, Reason: "binding update rejected: " + ba.Status.String()})
			return &StatusError{Status: ba.Status, BIDs: ba.BIDs}
		}
		cc.acked(time.Now(), p, &ba)
	case msg.TypeKeyUpdateAck:
		ack, err := msg.ParseKeyUpdateAck(m.body)
		if err != nil {
			return err
		}
		ku := cc.rekey
		if ku == nil || ack.Generation != ku.Generation || ack.Index == 0 {
			return fmt.Errorf("unexpected key update ack for generation %d", ack.Generation)
		}
		cs := cc.conn.ConnectionState().TLS
		up, down, err := deriveKeys(&cs, ku.Generation, ku.Index, ack.Index)
		if err != nil {
			return err
		}
		cc.sess.Generation, cc.sess.LocalIndex, cc.sess.PeerIndex = ku.Generation, ku.Index, ack.Index
		cc.sess.SendKey, cc.sess.RecvKey = up, down
		cc.rekey = nil
		cc.rekeyAt = time.Now().Add(c.opts.RekeyInterval)
		c.rekeys.Add(1)
		if c.opts.OnRekey != nil {
			c.opts.OnRekey(cc.sess)
		}
	case msg.TypePathReport:
		pr, err := msg.ParsePathReport(m.body)
		if err != nil {
			return err
		}
		if c.opts.OnPeerReport != nil {
			c.opts.OnPeerReport(pr.Paths)
		}
	case msg.TypeErrorReport:
		er, err := msg.ParseErrorReport(m.body)
		if err != nil {
			return err
		}
		cc.report(er)
	case msg.TypePolicyRequest:
		req, err := msg.ParsePolicyRequest(m.body)
		if err != nil {
			return err
		}
		resp := msg.PolicyResponse{Status: 501, Body: []byte(`{"error":"this router takes no remote policies"}`)}
		if c.opts.OnPolicyRequest != nil {
			resp = c.opts.OnPolicyRequest(req)
		}
		resp.ID = req.ID
		if resp.Validate() != nil {
			resp = msg.PolicyResponse{ID: req.ID, Status: 500, Body: []byte(`{"error":"answer too long"}`)}
		}
		return cc.write(&resp)
	}
	return nil // heartbeats and unknown types are skipped
}

// acked applies the acknowledgement ba of the update p.
func (cc *clientConn) acked(now time.Time, p *pendingBU, ba *msg.BindingAck) {
	bu := p.bu
	status := map[paths.BID]msg.Status{}
	for _, o := range ba.BIDs {
		status[o.BID] = o.Status
	}
	for _, o := range bu.BIDs {
		st, listed := status[o.BID]
		if listed && !st.Accepted() {
			cc.report(msg.ErrorReport{Status: uint8(st), Kind: msg.ErrorKindBinding, Index: uint16(o.BID), Reason: st.String()})
			delete(cc.registered, o.BID)
			continue
		}
		if bu.Lifetime == 0 {
			delete(cc.registered, o.BID)
		} else {
			cc.registered[o.BID] = o.CareOf
		}
	}
	if bu.Lifetime != 0 {
		cc.lifetime = msg.LifetimeDuration(ba.Lifetime)
		cc.refreshAt = now.Add(cc.lifetime * 2 / 3)
		fstatus := map[uint16]msg.FlowStatus{}
		for _, f := range ba.Flows {
			fstatus[f.FID] = f.Status
		}
		for fid, f := range cc.sentFlows {
			if st := fstatus[fid]; !st.Accepted() {
				cc.report(msg.ErrorReport{Status: uint8(st), Kind: msg.ErrorKindFlow, Index: fid, Reason: st.String()})
			}
			// Refused flows are remembered as sent too: sending them again
			// unchanged would be refused again. A change sends them anew.
			if f == nil {
				delete(cc.flows, fid)
			} else {
				cc.flows[fid] = *f
			}
		}
		cc.sentFlows = nil
	}
}

func (cc *clientConn) report(er msg.ErrorReport) {
	cc.c.log.Warn("home agent refused", "kind", er.Kind.String(), "index", er.Index, "status", er.StatusString(), "reason", er.Reason)
	if cc.c.opts.OnError != nil {
		cc.c.opts.OnError(er)
	}
}

func (cc *clientConn) write(m msg.Message) error { return cc.out.send(m, false) }

// migrateNow moves the connection onto a new socket from Listen (QUIC
// connection migration: the HA validates the new path, then the
// connection switches to it).
func (cc *clientConn) migrateNow(ctx context.Context) error {
	c := cc.c
	if c.opts.Listen == nil {
		return errors.New("no Listen to open another socket")
	}
	pc, err := c.opts.Listen()
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	tr := &quic.Transport{Conn: tolerant(pc, nil)}
	cc.transports = append(cc.transports, tr)
	p, err := cc.conn.AddPath(tr)
	if err != nil {
		return fmt.Errorf("add path: %w", err)
	}
	// The probe ends early if the connection dies meanwhile.
	pctx, cancel := context.WithTimeout(ctx, migrateTimeout)
	defer cancel()
	stop := context.AfterFunc(cc.conn.Context(), cancel)
	defer stop()
	if err := p.Probe(pctx); err != nil {
		p.Close()
		return fmt.Errorf("probe: %w", err)
	}
	if err := p.Switch(); err != nil {
		p.Close()
		return fmt.Errorf("switch: %w", err)
	}
	c.migrations.Add(1)
	c.log.Info("signaling moved", "local", localAddr(pc))
	return nil
}

func localAddr(pc net.PacketConn) string {
	if a := pc.LocalAddr(); a != nil {
		return a.String()
	}
	return ""
}
