// SPDX-License-Identifier: MIT

package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client limits.
const (
	dialTimeout = 5 * time.Second
	// maxReply bounds a JSON reply; maxRules a rules body; maxErrorBody an
	// error body; maxEventLine one line of the event stream.
	maxReply     = 16 << 20
	maxRules     = 64 << 20
	maxErrorBody = 1 << 20
	maxEventLine = 1 << 20
)

// Client talks to a control server over its unix socket. It connects on
// demand and reuses connections; it is safe for concurrent use. Every
// method's ctx bounds the whole request (for Events, the whole stream).
type Client struct {
	tr *http.Transport
	hc *http.Client
}

// Dial returns a client of the control socket at path. It does not connect
// until the first request.
func Dial(path string) *Client {
	d := &net.Dialer{Timeout: dialTimeout}
	return newClient(func(ctx context.Context) (net.Conn, error) {
		return d.DialContext(ctx, "unix", path)
	})
}

// newClient returns a client whose connections come from dial.
func newClient(dial func(context.Context) (net.Conn, error)) *Client {
	tr := &http.Transport{
		DialContext:        func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
		MaxIdleConns:       4,
		IdleConnTimeout:    30 * time.Second,
		DisableCompression: true,
	}
	return &Client{tr: tr, hc: &http.Client{Transport: tr}}
}

// Close closes the client's idle connections. The client stays usable.
func (c *Client) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}

// AddPolicy submits the policy text doc with lifetime (0: no expiry; at
// most MaxLifetime).
func (c *Client) AddPolicy(ctx context.Context, doc []byte, lifetime time.Duration) (PolicyInfo, error) {
	body, err := json.Marshal(addRequest{Policy: string(doc), Lifetime: formatLifetime(lifetime)})
	if err != nil {
		return PolicyInfo{}, fmt.Errorf("encode request: %w", err)
	}
	var info PolicyInfo
	err = c.do(ctx, http.MethodPost, "/v1/policies", body, http.StatusCreated, &info)
	return info, err
}

// ListPolicies lists the caller's policies, or everyone's if all (root
// only).
func (c *Client) ListPolicies(ctx context.Context, all bool) ([]PolicyInfo, error) {
	p := "/v1/policies"
	if all {
		p += "?all=1"
	}
	var r policiesReply
	err := c.do(ctx, http.MethodGet, p, nil, http.StatusOK, &r)
	return r.Policies, err
}

// RemovePolicy withdraws the policy id.
func (c *Client) RemovePolicy(ctx context.Context, id string) error {
	if !validID(id) {
		return fmt.Errorf("%w: invalid policy id %q", ErrBadRequest, truncate(id, 64))
	}
	return c.do(ctx, http.MethodDelete, "/v1/policies/"+url.PathEscape(id), nil, http.StatusNoContent, nil)
}

// Rules returns the compiled filter rules in format (FormatJSON, FormatNft,
// FormatIptables; "" is FormatJSON) and their content type.
func (c *Client) Rules(ctx context.Context, format string) ([]byte, string, error) {
	resp, err := c.send(ctx, http.MethodGet, "/v1/rules?format="+url.QueryEscape(format), nil)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", readAPIError(resp)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRules+1))
	if err != nil {
		return nil, "", fmt.Errorf("read rules: %w", err)
	}
	if len(body) > maxRules {
		return nil, "", fmt.Errorf("read rules: over %d bytes", maxRules)
	}
	return body, resp.Header.Get("Content-Type"), nil
}

// Paths returns the paths, and the Seq of the last event the list
// reflects (see the package doc).
func (c *Client) Paths(ctx context.Context) ([]PathView, uint64, error) {
	var r pathsReply
	err := c.do(ctx, http.MethodGet, "/v1/paths", nil, http.StatusOK, &r)
	return r.Paths, r.Seq, err
}

// PeerAddrs returns the peer's addresses, and the Seq of the last event the
// list reflects.
func (c *Client) PeerAddrs(ctx context.Context) ([]PeerAddr, uint64, error) {
	var r peerReply
	err := c.do(ctx, http.MethodGet, "/v1/peer", nil, http.StatusOK, &r)
	return r.Addrs, r.Seq, err
}

// Reload asks the daemon to re-read its policy configuration.
func (c *Client) Reload(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/reload", nil, http.StatusNoContent, nil)
}

// Events opens the event stream. It returns once the server has
// subscribed, so that no event published afterwards is missed. The stream
// lasts until ctx ends, the server goes, or Close.
func (c *Client) Events(ctx context.Context) (*EventStream, error) {
	resp, err := c.send(ctx, http.MethodGet, "/v1/events", nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, readAPIError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4096), maxEventLine)
	return &EventStream{body: resp.Body, sc: sc}, nil
}

// EventStream reads events from GET /v1/events. Next must be called from
// one goroutine at a time; Close may be called from any, and unblocks
// Next.
type EventStream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
}

// Next returns the next event, blocking until it arrives. At the end of
// the stream it returns io.EOF.
func (s *EventStream) Next() (Event, error) {
	for s.sc.Scan() {
		line := s.sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		return decodeEvent(line)
	}
	if err := s.sc.Err(); err != nil {
		return Event{}, fmt.Errorf("event stream: %w", err)
	}
	return Event{}, io.EOF
}

// Close ends the stream.
func (s *EventStream) Close() error { return s.body.Close() }

// decodeEvent parses one line of the event stream. Unknown fields are
// ignored (newer servers may add some).
func decodeEvent(line []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(line, &ev); err != nil {
		return Event{}, fmt.Errorf("event stream: decode event: %w", err)
	}
	if ev.Kind == "" {
		return Event{}, errors.New("event stream: event without a kind")
	}
	return ev, nil
}

// send does one request; the caller closes the response body.
func (c *Client) send(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://monami"+path, rd)
	if err != nil {
		return nil, fmt.Errorf("control %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is always http://monami/..., say nothing
		}
		return nil, fmt.Errorf("control %s %s: %w", method, path, err)
	}
	return resp, nil
}

// do does one request, expecting status want and decoding the JSON reply
// into out (if not nil).
func (c *Client) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return readAPIError(resp)
	}
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxReply)).Decode(out); err != nil {
		return fmt.Errorf("control %s %s: decode reply: %w", method, path, err)
	}
	return nil
}

// readAPIError reads an error response.
func readAPIError(resp *http.Response) *APIError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return decodeAPIError(resp.StatusCode, b)
}

// decodeAPIError turns an error response into an *APIError: from its JSON
// body, or, if the body is not one, from the status and the body's first
// line.
func decodeAPIError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err == nil && oneLine(eb.Error) != "" {
		e.Message = oneLine(eb.Error)
		for _, m := range eb.Errors {
			if m = oneLine(m); m != "" {
				e.Errors = append(e.Errors, m)
			}
		}
	} else {
		e.Message = strconv.Itoa(status) + " " + http.StatusText(status)
		first, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
		if first = strings.TrimSpace(first); first != "" {
			e.Message += ": " + truncate(first, 200)
		}
	}
	if len(e.Errors) == 0 {
		e.Errors = []string{e.Message}
	}
	return e
}
