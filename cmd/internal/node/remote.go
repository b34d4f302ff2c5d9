// SPDX-License-Identifier: MIT

package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"monami/signaling"
	"monami/signaling/control"
	"monami/signaling/msg"
)

// remoteTimeout bounds one remote policy operation.
const remoteTimeout = 10 * time.Second

// apiError is the JSON of a refused operation, as the control API writes it.
type apiError struct {
	Error  string   `json:"error"`
	Errors []string `json:"errors,omitempty"`
}

// answerPolicy is the mobile router's side of a remote requester's policy
// operation (the HA forwards it): the same operations as the control
// socket, for the requester "peer:<home agent>".
func (m *MobileRouter) answerPolicy(req msg.PolicyRequest) msg.PolicyResponse {
	b := backend{m.pol}
	r := control.Requester{Name: "peer:" + m.cfg.HomeAgent.Signaling.String()}
	reply := func(status uint16, v any) msg.PolicyResponse {
		body, _ := json.Marshal(v)
		return msg.PolicyResponse{Status: status, Body: body}
	}
	fail := func(err error) msg.PolicyResponse {
		st := uint16(400)
		switch {
		case errors.Is(err, control.ErrNotFound):
			st = 404
		case errors.Is(err, control.ErrForbidden):
			st = 403
		}
		e := apiError{Error: err.Error()}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				e.Errors = append(e.Errors, x.Error())
			}
		}
		return reply(st, e)
	}
	switch req.Op {
	case msg.PolicyAdd:
		lt := time.Duration(req.Lifetime) * time.Second
		if lt > control.MaxLifetime {
			return fail(fmt.Errorf("%w: lifetime over %v", control.ErrBadRequest, control.MaxLifetime))
		}
		info, err := b.AddPolicy(r, []byte(req.Arg), lt)
		if err != nil {
			return fail(err)
		}
		return reply(201, info)
	case msg.PolicyList:
		l, _ := b.ListPolicies(r, false)
		return reply(200, l)
	case msg.PolicyRemove:
		if err := b.RemovePolicy(r, req.Arg); err != nil {
			return fail(err)
		}
		return msg.PolicyResponse{Status: 204}
	case msg.PolicyRules:
		body, _, err := b.Rules(req.Arg)
		if err != nil {
			return fail(err)
		}
		return msg.PolicyResponse{Status: 200, Body: body}
	}
	return fail(fmt.Errorf("%w: operation %d", control.ErrBadRequest, req.Op))
}

// haBackend is a home agent's control socket for one mobile router's
// remote requesters: policy operations travel to the router over the
// signaling session; paths and peer addresses are the home agent's view.
type haBackend struct {
	h  *HomeAgent
	mr string
}

func (b haBackend) call(req msg.PolicyRequest) (msg.PolicyResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	resp, err := b.h.server.Policy(ctx, b.mr, req)
	if errors.Is(err, signaling.ErrNoSession) {
		return resp, fmt.Errorf("mobile router %s is not connected", b.mr)
	}
	if err != nil {
		return resp, err
	}
	if resp.Status >= 300 {
		var e apiError
		json.Unmarshal(resp.Body, &e)
		if e.Error == "" {
			e.Error = fmt.Sprintf("mobile router %s answered %d", b.mr, resp.Status)
		}
		var errs []error
		for _, s := range e.Errors {
			errs = append(errs, errors.New(s))
		}
		base := errors.New(e.Error)
		switch resp.Status {
		case 404:
			base = fmt.Errorf("%w: %s", control.ErrNotFound, e.Error)
		case 403:
			base = fmt.Errorf("%w: %s", control.ErrForbidden, e.Error)
		}
		if len(errs) > 0 && resp.Status == 400 {
			return resp, errors.Join(errs...)
		}
		return resp, base
	}
	return resp, nil
}

func (b haBackend) AddPolicy(_ control.Requester, doc []byte, lifetime time.Duration) (control.PolicyInfo, error) {
	resp, err := b.call(msg.PolicyRequest{Op: msg.PolicyAdd, Lifetime: uint32(lifetime / time.Second), Arg: string(doc)})
	if err != nil {
		return control.PolicyInfo{}, err
	}
	var info control.PolicyInfo
	return info, json.Unmarshal(resp.Body, &info)
}

func (b haBackend) ListPolicies(control.Requester, bool) ([]control.PolicyInfo, error) {
	resp, err := b.call(msg.PolicyRequest{Op: msg.PolicyList})
	if err != nil {
		return nil, err
	}
	var l []control.PolicyInfo
	return l, json.Unmarshal(resp.Body, &l)
}

func (b haBackend) RemovePolicy(_ control.Requester, id string) error {
	_, err := b.call(msg.PolicyRequest{Op: msg.PolicyRemove, Arg: id})
	return err
}

func (b haBackend) Rules(format string) ([]byte, string, error) {
	resp, err := b.call(msg.PolicyRequest{Op: msg.PolicyRules, Arg: format})
	if err != nil {
		return nil, "", err
	}
	ct := "text/plain; charset=utf-8"
	if format == control.FormatJSON || format == "" {
		ct = "application/json"
	}
	return resp.Body, ct, nil
}

func (b haBackend) Paths() []control.PathView {
	var out []control.PathView
	for _, p := range b.h.engine.PeerPaths(b.mr) {
		v := control.PathView{BID: p.BID, Name: b.mr, State: "down", Remote: p.Endpoint}
		if p.Up {
			v.State = "up"
		}
		out = append(out, v)
	}
	return out
}

func (b haBackend) PeerAddrs() []control.PeerAddr {
	b.h.mu.Lock()
	defer b.h.mu.Unlock()
	var out []control.PeerAddr
	for _, bd := range b.h.bindings[b.mr] {
		if bd.CareOf.IsValid() {
			out = append(out, control.PeerAddr{Addr: bd.CareOf.String(), Kind: "care-of BID " + bd.BID.String()})
		}
	}
	return out
}

func (b haBackend) Reload() error {
	return fmt.Errorf("%w: the home agent keeps no policies of its own; reload the router", control.ErrBadRequest)
}

// serveControls runs the per-router control sockets of the home agent.
func (h *HomeAgent) serveControls(ctx context.Context) {
	done := make(chan struct{}, len(h.ctls))
	for mr, ln := range h.ctls {
		go func() { // owned: waited for below
			defer func() { done <- struct{}{} }()
			if err := control.Serve(ctx, ln, control.ServerOptions{Logger: h.log.With("mr", mr), Backend: haBackend{h, mr}}); err != nil {
				h.log.Error("control socket", "mr", mr, "err", err)
			}
		}()
	}
	for range h.ctls {
		<-done
	}
}
