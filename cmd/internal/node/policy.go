// SPDX-License-Identifier: MIT

package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"monami/classifier"
	"monami/paths"
	"monami/signaling/control"
	"monami/signaling/msg"
)

// resolveEvery is how often the policies are resolved again against the
// paths' measured characteristics (a path event resolves at once): a
// voice flow whose path's delay grows past its limit moves within about
// two probe intervals.
const resolveEvery = 250 * time.Millisecond

// policies is the mobile router's policy data set: the policy files of the
// configuration and the submissions of local requesters, resolved against
// the current paths into the data plane's table and the HA's flow bindings
// (paper modules C, D, F, G and X).
type policies struct {
	m    *MobileRouter
	hub  *control.Hub
	kick chan struct{}

	rmu sync.Mutex // serialises resolve (the loop, requesters, reloads)

	mu    sync.Mutex
	files []classifier.PolicySet // from cfg.Policy.Files
	subs  map[string]*submission // by ID
	res   *classifier.Resolution
	fids  map[string]uint16 // flow binding FIDs by rule key, stable across resolutions
	taken map[uint16]bool   // the values of fids
	nextF uint16
	sig   string            // signature of the last rules, to publish changes
	table *classifier.Table // installed in the data plane; guarded by rmu
	errs  string            // the last errors logged

	prefer []classifier.Criterion // policy.default_prefer: for policies that state no preference
}

// submission is one policy text a requester added.
type submission struct {
	id        string
	requester control.Requester
	name      string
	added     time.Time
	expires   time.Time
	rules     []classifier.Rule
}

func newPolicies(m *MobileRouter) (*policies, error) {
	p := &policies{m: m, hub: control.NewHub(), kick: make(chan struct{}, 1),
		subs: map[string]*submission{}, fids: map[string]uint16{}, taken: map[uint16]bool{}}
	for _, s := range m.cfg.Policy.DefaultPrefer {
		var c classifier.Criterion
		if err := c.UnmarshalText([]byte(s)); err != nil {
			return nil, fmt.Errorf("policy.default_prefer: %w", err)
		}
		p.prefer = append(p.prefer, c)
	}
	return p, nil
}

// loadFiles reads and parses every policy file; it changes nothing if any
// has an error, and returns them all.
func (p *policies) loadFiles() error {
	var sets []classifier.PolicySet
	var errs []error
	for _, f := range p.m.cfg.Policy.Files {
		src, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rules, err := classifier.ParsePolicies(f, src)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sets = append(sets, classifier.PolicySet{Requester: "file:" + f, Rules: rules})
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	p.mu.Lock()
	p.files = sets
	p.mu.Unlock()
	p.poke()
	return nil
}

func (p *policies) poke() { poke(p.kick) }

// run resolves on every poke and every resolveEvery until ctx ends.
func (p *policies) run(ctx context.Context) {
	t := time.NewTicker(resolveEvery)
	defer t.Stop()
	for {
		p.resolve()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.kick:
		}
	}
}

// pathInfos is module B's view of the paths for resolution.
func (m *MobileRouter) pathInfos() []classifier.PathInfo {
	st := m.engine.Stats()
	var out []classifier.PathInfo
	for _, u := range m.uplinkList() {
		u.mu.Lock()
		open := u.open
		u.mu.Unlock()
		if !open {
			continue
		}
		pi := classifier.PathInfo{BID: u.cfg.BID, Name: u.cfg.Name, CostPerGB: u.cfg.Cost, Metered: u.cfg.Metered,
			Tags: u.cfg.Tags, CapReached: u.meter.Exceeded(), Capacity: m.capacity(u.cfg.BID)}
		for _, ps := range st.Paths {
			if paths.BID(ps.BID) != u.cfg.BID {
				continue
			}
			pi.Up = ps.Up && m.usable(u.cfg.BID)
			// A delay limit must see a lasting rise at once; SRTT alone
			// lags it by several probes.
			pi.RTT = time.Duration(max(ps.SRTTMicros, ps.RecentMicros)) * time.Microsecond
			pi.Jitter = time.Duration(ps.JitterMicros) * time.Microsecond
			pi.Loss = ps.Loss
		}
		out = append(out, pi)
	}
	return out
}

// sets returns every requester's policy set, files first.
func (p *policies) setsLocked(now time.Time) []classifier.PolicySet {
	sets := slices.Clone(p.files)
	ids := make([]string, 0, len(p.subs))
	for id, s := range p.subs {
		if !s.expires.IsZero() && !now.Before(s.expires) {
			delete(p.subs, id)
			continue
		}
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return p.subs[a].added.Compare(p.subs[b].added) })
	for _, id := range ids {
		s := p.subs[id]
		sets = append(sets, classifier.PolicySet{Requester: s.requester.Name + "#" + id, Rules: s.rules})
	}
	return sets
}

// resolve runs modules C and D over the current paths and installs the
// result: the local rules as the data plane's table, the peer rules as
// flow bindings for the HA.
func (p *policies) resolve() {
	p.rmu.Lock()
	defer p.rmu.Unlock()
	m := p.m
	now := time.Now()
	ps := m.pathInfos()
	p.mu.Lock()
	res := classifier.ResolveWith(p.prefer, p.setsLocked(now), ps, now, p.res)
	p.res = res
	p.mu.Unlock()

	local, peer := res.Local(), res.Peer()
	sig, _ := json.Marshal(struct{ L, P []classifier.FilterRule }{local, peer})
	var errs []string
	for _, e := range res.Errors {
		errs = append(errs, e.Error())
	}
	joined := strings.Join(errs, "\n")
	p.mu.Lock()
	changed := string(sig) != p.sig
	p.sig = string(sig)
	logErrs := joined != p.errs
	p.errs = joined
	p.mu.Unlock()
	// The table and the flow bindings change only when the rules do: a new
	// table empties the flow cache.
	if changed {
		// After a path event only BIDs change: Update reuses the index.
		tbl, err := p.table.Update(local)
		if err != nil {
			m.log.Error("compile policy table", "err", err)
			p.mu.Lock()
			p.sig = "" // try again next time
			p.mu.Unlock()
			return
		}
		p.table = tbl
		m.engine.SetTable(tbl)
		m.client.SetFlowBindings(p.flowBindings(peer))
	}
	if changed {
		m.log.Info("filter rules", "local", len(local), "peer", len(peer))
		p.hub.Publish(control.Event{Kind: control.KindRulesChanged, Detail: fmt.Sprintf("%d local, %d peer rules", len(local), len(peer))})
	}
	if logErrs && joined != "" {
		m.log.Warn("policies not satisfied", "errors", joined)
	}
}

// flowBindings turns peer rules into flow bindings: one per combination
// of a rule's selector fields (an RFC 6088 selector has one range per
// field), with a FID stable for the same rule and combination, priority
// in rule order. Drop rules have no path and are not sent.
func (p *policies) flowBindings(rules []classifier.FilterRule) []msg.FlowIdentification {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []msg.FlowIdentification
	used := map[uint16]bool{}
	keys := map[string]bool{}
	for i, r := range rules {
		if len(r.BIDs) == 0 {
			continue
		}
		for k, ts := range trafficSelectors(&r.Selector) {
			key := fmt.Sprintf("%s|%d", r.Ref, k)
			keys[key] = true
			fid, ok := p.fids[key]
			if !ok {
				if len(p.taken) >= 0xfff0 {
					break // no FID left: the rest is not sent
				}
				for p.nextF++; p.nextF == 0 || p.taken[p.nextF]; p.nextF++ {
				}
				fid = p.nextF
				p.fids[key], p.taken[fid] = fid, true
			}
			if used[fid] {
				continue
			}
			used[fid] = true
			bids := r.BIDs
			if len(bids) > classifier.MaxBIDs {
				bids = bids[:classifier.MaxBIDs]
			}
			out = append(out, msg.FlowIdentification{FID: fid, Priority: uint16(min(i, 0xffff)), BIDs: slices.Clone(bids), Selector: ts,
				Mode: flowMode(r.Mode), Weights: flowWeights(&r, len(bids))})
		}
	}
	// Forget the FIDs of rules that are gone.
	for key, fid := range p.fids {
		if !keys[key] {
			delete(p.fids, key)
			delete(p.taken, fid)
		}
	}
	return out
}

// flowWeights are the weights of a stripe rule's first n BIDs for its flow
// bindings, in steps of 1/16 of their total (each at least one step), so
// that the small moves of the capacity estimates do not turn into a stream
// of binding updates; nil for equal shares or another mode.
func flowWeights(r *classifier.FilterRule, n int) []uint16 {
	if r.Mode != classifier.ModeStripe || len(r.Weights) < n || n < 2 {
		return nil
	}
	var total uint64
	for _, w := range r.Weights[:n] {
		total += uint64(w)
	}
	if total == 0 {
		return nil
	}
	out := make([]uint16, n)
	equal := true
	for k, w := range r.Weights[:n] {
		out[k] = uint16(max(1, (uint64(w)*16+total/2)/total))
		equal = equal && out[k] == out[0]
	}
	if equal {
		return nil
	}
	return out
}

// counts returns the current resolution's local and peer rules and errors.
func (p *policies) counts() (local, peer, errs int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.res == nil {
		return 0, 0, 0
	}
	return len(p.res.Local()), len(p.res.Peer()), len(p.res.Errors)
}

// flowMode is how a rule's mode travels in a flow binding.
func flowMode(m classifier.Mode) msg.FlowMode {
	switch m {
	case classifier.ModeStripe:
		return msg.FlowModeSpread
	case classifier.ModeRedundant:
		return msg.FlowModeRedundant
	}
	return msg.FlowModeFailover
}

// backend implements control.Backend for the mobile router.
type backend struct{ p *policies }

func (b backend) AddPolicy(r control.Requester, doc []byte, lifetime time.Duration) (control.PolicyInfo, error) {
	p := b.p
	now := time.Now()
	rules, err := classifier.ParsePoliciesAt(r.Name, doc, now)
	if err != nil {
		return control.PolicyInfo{}, err
	}
	if len(rules) == 0 {
		return control.PolicyInfo{}, fmt.Errorf("%w: the policy text has no [[rule]]", control.ErrBadRequest)
	}
	var idb [6]byte
	rand.Read(idb[:])
	s := &submission{id: hex.EncodeToString(idb[:]), requester: r, name: rules[0].Name, added: now, rules: rules}
	if lifetime > 0 {
		s.expires = now.Add(lifetime)
		for i := range s.rules {
			for j := range s.rules[i].Policies {
				if e := &s.rules[i].Policies[j].Expires; e.IsZero() || e.After(s.expires) {
					*e = s.expires
				}
			}
		}
	}
	p.mu.Lock()
	p.subs[s.id] = s
	p.mu.Unlock()
	p.resolve()
	return p.info(s), nil
}

// info describes s with the feedback of the last resolution.
func (p *policies) info(s *submission) control.PolicyInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	pi := control.PolicyInfo{ID: s.id, Requester: s.requester.Name, Name: s.name, Added: s.added, Expires: s.expires}
	req := s.requester.Name + "#" + s.id
	if p.res == nil {
		return pi
	}
	for _, r := range p.res.Rules {
		if r.Ref.Requester == req {
			pi.Rules++
		}
	}
	for _, e := range p.res.Errors {
		if e.Ref.Requester == req {
			pi.Errors = append(pi.Errors, e.Error())
		}
	}
	for _, w := range p.res.Warnings {
		if w.Removed.Requester == req || w.Kept.Requester == req {
			pi.Warnings = append(pi.Warnings, w.String())
		}
	}
	return pi
}

func (b backend) ListPolicies(r control.Requester, all bool) ([]control.PolicyInfo, error) {
	p := b.p
	p.mu.Lock()
	var subs []*submission
	for _, s := range p.subs {
		if all || s.requester.Name == r.Name {
			subs = append(subs, s)
		}
	}
	p.mu.Unlock()
	slices.SortFunc(subs, func(a, b *submission) int { return a.added.Compare(b.added) })
	out := []control.PolicyInfo{}
	for _, s := range subs {
		out = append(out, p.info(s))
	}
	return out, nil
}

func (b backend) RemovePolicy(r control.Requester, id string) error {
	p := b.p
	p.mu.Lock()
	s := p.subs[id]
	switch {
	case s == nil:
		p.mu.Unlock()
		return control.ErrNotFound
	case s.requester.Name != r.Name && !r.Privileged():
		p.mu.Unlock()
		return control.ErrForbidden
	}
	delete(p.subs, id)
	p.mu.Unlock()
	p.resolve()
	return nil
}

func (b backend) Rules(format string) ([]byte, string, error) {
	p := b.p
	p.mu.Lock()
	res := p.res
	p.mu.Unlock()
	var rules []classifier.FilterRule
	if res != nil {
		rules = res.Rules
	}
	var buf bytes.Buffer
	switch format {
	case control.FormatJSON, "":
		if rules == nil {
			rules = []classifier.FilterRule{}
		}
		out := struct {
			Rules    []classifier.FilterRule  `json:"rules"`
			Errors   []classifier.PolicyError `json:"errors,omitempty"`
			Warnings []classifier.Warning     `json:"warnings,omitempty"`
		}{Rules: rules}
		if res != nil {
			out.Errors, out.Warnings = res.Errors, res.Warnings
		}
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return nil, "", err
		}
		return buf.Bytes(), "application/json", nil
	case control.FormatNft:
		if err := classifier.WriteNft(&buf, localRules(rules)); err != nil {
			return nil, "", err
		}
	case control.FormatIptables:
		if err := classifier.WriteIptables(&buf, localRules(rules)); err != nil {
			return nil, "", err
		}
	default:
		return nil, "", fmt.Errorf("%w: format %q; want json, nft or iptables", control.ErrBadRequest, format)
	}
	return buf.Bytes(), "text/plain; charset=utf-8", nil
}

// localRules are the rules this router enforces itself.
func localRules(rs []classifier.FilterRule) []classifier.FilterRule {
	var out []classifier.FilterRule
	for _, r := range rs {
		if r.Target != classifier.TargetPeer {
			out = append(out, r)
		}
	}
	return out
}

func (b backend) Paths() []control.PathView {
	m := b.p.m
	var out []control.PathView
	for _, pi := range m.pathInfos() {
		out = append(out, m.pathView(pi))
	}
	return out
}

func (m *MobileRouter) pathView(pi classifier.PathInfo) control.PathView {
	v := control.PathView{BID: uint16(pi.BID), Name: pi.Name, State: "down",
		RTTMillis: float64(pi.RTT.Microseconds()) / 1000, JitterMillis: float64(pi.Jitter.Microseconds()) / 1000,
		Loss: pi.Loss, CapacityBps: pi.Capacity, CostPerGB: pi.CostPerGB, Metered: pi.Metered, CapReached: pi.CapReached, Tags: pi.Tags}
	if pi.Up {
		v.State = "up"
	}
	for _, u := range m.uplinkList() {
		if u.cfg.BID == pi.BID {
			u.mu.Lock()
			v.Interface, v.Local = u.cfg.Interface, u.source.String()
			u.mu.Unlock()
		}
	}
	for _, ps := range m.engine.Stats().Paths {
		if paths.BID(ps.BID) == pi.BID {
			v.Remote = ps.Endpoint
		}
	}
	return v
}

func (b backend) PeerAddrs() []control.PeerAddr {
	cfg := b.p.m.cfg.HomeAgent
	out := []control.PeerAddr{{Addr: cfg.Signaling.String(), Kind: "signaling"}}
	for _, d := range cfg.Data {
		out = append(out, control.PeerAddr{Addr: d.String(), Kind: "data"})
	}
	return out
}

func (b backend) Reload() error { return b.p.loadFiles() }
