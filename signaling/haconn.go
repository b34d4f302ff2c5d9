// SPDX-License-Identifier: MIT

package signaling

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/quic-go/quic-go"

	"monami/paths"
	"monami/signaling/msg"
)

// Limits of the HA's binding cache per MR: a hostile or broken MR gets
// refusals, never unbounded state.
const (
	maxBIDsPerMR  = 64
	maxFlowsPerMR = 4096
)

// Binding is one registered path of an MR in the HA's binding cache.
type Binding struct {
	BID paths.BID
	// CareOf is the care-of address the MR registered for it, if any.
	CareOf netip.Addr
	// Expires is when the binding lapses unless refreshed.
	Expires time.Time
}

// serverConn is one established session on the HA: the MR's binding cache
// entry (its registered paths and flow bindings) and the timers that
// expire them. Owned by the goroutine of run.
type serverConn struct {
	s    *Server
	ss   *serverSession
	peer *Peer
	conn *quic.Conn
	str  *quic.Stream
	out  *sender

	reqs    chan policyCall       // from Server.Policy
	pending map[uint32]policyCall // requests sent, by ID
	nextReq uint32

	lastSeq  uint16
	bindings map[paths.BID]Binding
	flows    map[uint16]msg.FlowIdentification
	reportAt time.Time
}

// run holds the session until the connection fails or ctx ends.
func (sc *serverConn) run(ctx context.Context) error {
	in := make(chan inMsg, 16)
	errc := make(chan error, 1)
	done := make(chan struct{})
	sc.out = newSender(sc.str)
	defer func() {
		for _, call := range sc.pending {
			call.done <- policyResult{err: ErrNoSession}
		}
		close(done)
		sc.conn.CloseWithError(codeClose, "")
		sc.out.close() // a blocked write returns once the connection is closed
		<-errc
	}()
	go readMessages(sc.str, in, errc, done) // owned: waited for above

	sc.bindingsChanged()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-sc.conn.Context().Done():
			return context.Cause(sc.conn.Context())
		case err := <-errc:
			errc <- err
			return err
		case err := <-sc.out.errc:
			return err
		case call := <-sc.reqs:
			sc.nextReq++
			call.req.ID = sc.nextReq
			if err := sc.write(&call.req); err != nil {
				call.done <- policyResult{err: err}
				return err
			}
			sc.pending[call.req.ID] = call
		case m := <-in:
			if err := sc.handle(m); err != nil {
				sc.s.malformed.Add(1)
				sc.conn.CloseWithError(codeProtocol, err.Error())
				return err
			}
		case <-t.C:
		}
		// Messages that arrived meanwhile go first: after a stall, a
		// refresh waiting here must not lose the race with its binding's
		// expiry.
		for more := true; more; {
			select {
			case m := <-in:
				if err := sc.handle(m); err != nil {
					sc.s.malformed.Add(1)
					sc.conn.CloseWithError(codeProtocol, err.Error())
					return err
				}
			default:
				more = false
			}
		}
		now := time.Now()
		if err := sc.tick(now); err != nil {
			return err
		}
		t.Reset(max(sc.nextDeadline().Sub(time.Now()), time.Millisecond))
	}
}

func (sc *serverConn) nextDeadline() time.Time {
	d := sc.reportAt
	for _, b := range sc.bindings {
		if e := b.Expires.Add(expiryGrace); e.Before(d) {
			d = e
		}
	}
	return d
}

// expiryGrace is how long past its lifetime a binding is kept: a refresh
// sent at 2/3 of the lifetime but delayed (a stalled home agent, a lost
// and retransmitted update) still finds it.
const expiryGrace = time.Second

// tick expires lapsed bindings and sends the periodic path report.
func (sc *serverConn) tick(now time.Time) error {
	expired := false
	for b, bd := range sc.bindings {
		if !now.Before(bd.Expires.Add(expiryGrace)) {
			delete(sc.bindings, b)
			expired = true
			sc.s.log.Info("binding expired", "peer", sc.peer.Name, "bid", b)
		}
	}
	if expired {
		sc.bindingsChanged()
	}
	if !now.Before(sc.reportAt) {
		sc.reportAt = now.Add(sc.s.reportInterval)
		if f := sc.s.opts.PathReport; f != nil {
			if ps := f(sc.peer.Name); len(ps) > 0 {
				if len(ps) > msg.MaxPathEntries {
					ps = ps[:msg.MaxPathEntries]
				}
				return sc.write(&msg.PathReport{Paths: ps})
			}
		}
	}
	return nil
}

func (sc *serverConn) write(m msg.Message) error { return sc.out.send(m, false) }

// handle processes one message from the MR. An error closes the
// connection.
func (sc *serverConn) handle(m inMsg) error {
	s := sc.s
	switch m.typ {
	case msg.TypeBindingUpdate:
		bu, err := msg.ParseBindingUpdate(m.body)
		if err != nil {
			return err
		}
		if bu.Session != nil {
			return fmt.Errorf("session option outside session set-up")
		}
		ba := sc.update(&bu)
		if !ba.Status.Accepted() {
			s.bindingsRejected.Add(1)
		}
		return sc.write(ba)
	case msg.TypeKeyUpdate:
		ku, err := msg.ParseKeyUpdate(m.body)
		if err != nil {
			return err
		}
		idx, err := s.rekey(sc.ss, ku)
		if err != nil {
			return err
		}
		return sc.write(&msg.KeyUpdateAck{Generation: ku.Generation, Index: idx})
	case msg.TypePathReport:
		pr, err := msg.ParsePathReport(m.body)
		if err != nil {
			return err
		}
		if f := s.opts.OnPathReport; f != nil {
			f(sc.peer.Name, pr.Paths)
		}
	case msg.TypePolicyResponse:
		resp, err := msg.ParsePolicyResponse(m.body)
		if err != nil {
			return err
		}
		if call, ok := sc.pending[resp.ID]; ok {
			delete(sc.pending, resp.ID)
			call.done <- policyResult{resp: resp}
		}
	}
	return nil // heartbeats and unknown types are skipped
}

// inWindow reports whether seq is newer than last (RFC 6275 §9.5.1: modulo
// 2^16, less than 2^15 ahead).
func inWindow(seq, last uint16) bool {
	d := seq - last
	return d != 0 && d < 1<<15
}

// update applies a binding update of an established session and returns
// the acknowledgement: registration, refresh or (lifetime 0) removal of
// the BIDs it lists, and the flow bindings it adds, modifies or deletes.
func (sc *serverConn) update(bu *msg.BindingUpdate) *msg.BindingAck {
	s := sc.s
	ba := &msg.BindingAck{Flags: msg.BAMobileRouter, Sequence: bu.Sequence, Lifetime: 0}
	if !inWindow(bu.Sequence, sc.lastSeq) {
		ba.Status = msg.StatusSequenceOutOfWindow
		ba.Sequence = sc.lastSeq
		return ba
	}
	for _, p := range bu.Prefixes {
		if !prefixAllowed(sc.peer.Prefixes, p) {
			ba.Status = msg.StatusNotAuthorizedForPrefix
			return ba
		}
	}
	ba.BIDs = make([]msg.BIDOption, len(bu.BIDs))
	seen := map[paths.BID]bool{}
	for i, o := range bu.BIDs {
		ba.BIDs[i].BID = o.BID
		if o.BID == 0 || seen[o.BID] {
			ba.BIDs[i].Status = msg.StatusMCoAMalformed
			ba.Status = msg.StatusMCoAMalformed
		}
		seen[o.BID] = true
	}
	if !ba.Status.Accepted() {
		return ba
	}
	sc.lastSeq = bu.Sequence
	now := time.Now()
	if bu.Lifetime == 0 {
		// Removal of the listed BIDs, or of all if none is listed.
		if len(bu.BIDs) == 0 {
			clear(sc.bindings)
		}
		for _, o := range bu.BIDs {
			delete(sc.bindings, o.BID)
		}
		sc.bindingsChanged()
		return ba
	}
	life := min(msg.LifetimeDuration(bu.Lifetime), s.maxLifetime)
	ba.Lifetime = msg.LifetimeUnits(life)
	for i, o := range bu.BIDs {
		if _, ok := sc.bindings[o.BID]; !ok && len(sc.bindings) >= maxBIDsPerMR {
			ba.BIDs[i].Status = msg.StatusInsufficientResources
			continue
		}
		sc.bindings[o.BID] = Binding{BID: o.BID, CareOf: o.CareOf, Expires: now.Add(life)}
	}
	// A refresh with the Overwrite flag on any BID replaces the set.
	if slices.ContainsFunc(bu.BIDs, func(o msg.BIDOption) bool { return o.Flags&msg.BIDOverwrite != 0 }) {
		for b := range sc.bindings {
			if !seen[b] {
				delete(sc.bindings, b)
			}
		}
	}
	sc.bindingsChanged()
	if len(bu.Flows) > 0 {
		ba.Flows = sc.applyFlows(bu.Flows)
	}
	return ba
}

// applyFlows applies flow binding changes and returns their statuses
// (RFC 6089 §4.2): 130 malformed, 131 a BID not registered, 132 an
// unknown FID to modify or delete, 128 beyond the HA's limit.
func (sc *serverConn) applyFlows(fs []msg.FlowIdentification) []msg.FlowIdentification {
	out := make([]msg.FlowIdentification, len(fs))
	seen := map[uint16]bool{}
	changed := false
	for i, f := range fs {
		out[i] = msg.FlowIdentification{FID: f.FID}
		st := msg.FlowStatusSuccess
		_, exists := sc.flows[f.FID]
		switch {
		case f.FID == 0 || seen[f.FID]:
			st = msg.FlowStatusMalformed
		case f.Action == msg.FlowActionDelete || f.Action == msg.FlowActionRevoke:
			if !exists {
				st = msg.FlowStatusFIDNotFound
			}
		case f.Action == msg.FlowActionModify && !exists:
			st = msg.FlowStatusFIDNotFound
		case f.Selector == nil || len(f.BIDs) == 0:
			st = msg.FlowStatusMalformed
		case !exists && len(sc.flows) >= maxFlowsPerMR:
			st = msg.FlowStatusAdminProhibited
		default:
			for _, b := range f.BIDs {
				if _, ok := sc.bindings[b]; !ok {
					st = msg.FlowStatusBIDNotFound
				}
			}
		}
		seen[f.FID] = true
		out[i].Status = st
		if !st.Accepted() {
			continue
		}
		changed = true
		if f.Action == msg.FlowActionDelete || f.Action == msg.FlowActionRevoke {
			delete(sc.flows, f.FID)
			continue
		}
		f.Action, f.Status = msg.FlowActionNone, 0
		sc.flows[f.FID] = f
	}
	if changed {
		if cb := sc.s.opts.OnFlows; cb != nil {
			flows := make([]msg.FlowIdentification, 0, len(sc.flows))
			for _, f := range sc.flows {
				flows = append(flows, f)
			}
			slices.SortFunc(flows, func(a, b msg.FlowIdentification) int { return int(a.FID) - int(b.FID) })
			sc.ifCurrent(func() { cb(sc.peer.Name, flows) })
		}
	}
	return out
}

// bindingsChanged tells the data plane the MR's current paths.
func (sc *serverConn) bindingsChanged() {
	cb := sc.s.opts.OnBindings
	if cb == nil {
		return
	}
	bs := make([]Binding, 0, len(sc.bindings))
	for _, b := range sc.bindings {
		bs = append(bs, b)
	}
	slices.SortFunc(bs, func(a, b Binding) int { return int(a.BID) - int(b.BID) })
	sc.ifCurrent(func() { cb(sc.peer.Name, bs) })
}

// ifCurrent runs fn, with the server's lock held, if this session has not
// ended (a newer session of the same MR replaces it): the data plane hears
// of one session's bindings at a time.
func (sc *serverConn) ifCurrent(fn func()) {
	sc.s.mu.Lock()
	defer sc.s.mu.Unlock()
	if !sc.ss.ended {
		fn()
	}
}

// policyCall is one Server.Policy waiting for its answer.
type policyCall struct {
	req  msg.PolicyRequest
	done chan policyResult // buffered
}

type policyResult struct {
	resp msg.PolicyResponse
	err  error
}

// ErrNoSession is returned for a mobile router without a live session.
var ErrNoSession = errors.New("no signaling session with that mobile router")

// Policy sends a remote requester's policy operation to the mobile router
// peer over its signaling session and returns the router's answer (R2,
// R7: policies from remote requesters travel over the authenticated
// channel). req.ID is assigned here. It waits until the answer comes, the
// session ends, or ctx ends.
func (s *Server) Policy(ctx context.Context, peer string, req msg.PolicyRequest) (msg.PolicyResponse, error) {
	if err := req.Validate(); err != nil {
		return msg.PolicyResponse{}, err
	}
	s.mu.Lock()
	ss := s.byPeer[peer]
	s.mu.Unlock()
	if ss == nil || ss.sc == nil {
		return msg.PolicyResponse{}, ErrNoSession
	}
	call := policyCall{req: req, done: make(chan policyResult, 1)}
	select {
	case ss.sc.reqs <- call:
	case <-ctx.Done():
		return msg.PolicyResponse{}, ctx.Err()
	case <-ss.conn.Context().Done():
		return msg.PolicyResponse{}, ErrNoSession
	}
	select {
	case r := <-call.done:
		return r.resp, r.err
	case <-ctx.Done():
		return msg.PolicyResponse{}, ctx.Err()
	}
}
