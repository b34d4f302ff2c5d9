// SPDX-License-Identifier: MIT

package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Defaults of ServerOptions and fixed server limits.
const (
	DefaultMaxBody      = 1 << 20
	DefaultWriteTimeout = 10 * time.Second

	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
	// shutdownGrace is how long in-flight requests get to finish when Serve
	// stops, before their connections are closed.
	shutdownGrace = 2 * time.Second
)

// ServerOptions configures the control server. Backend is required; the
// zero value of every other field means its default.
type ServerOptions struct {
	// Logger receives lifecycle events and request errors; nil discards
	// them.
	Logger *slog.Logger
	// Backend serves the requests. Required.
	Backend Backend
	// Hub is the source of GET /v1/events and of the Seq returned with the
	// path and peer lists. Nil means a private hub nobody publishes on.
	Hub *Hub
	// MaxBody is the largest request body accepted, in bytes; 0 means
	// DefaultMaxBody (1 MiB).
	MaxBody int64
	// WriteTimeout bounds the writing of each response, and of each event
	// on a stream; 0 means DefaultWriteTimeout (10 s).
	WriteTimeout time.Duration
}

// ServerStats are the server's counters.
type ServerStats struct {
	// RequestsTotal counts requests received.
	RequestsTotal uint64 `json:"requests_total"`
	// ClientErrorsTotal counts requests answered with a 4xx status.
	ClientErrorsTotal uint64 `json:"client_errors_total"`
	// ServerErrorsTotal counts requests answered with a 5xx status.
	ServerErrorsTotal uint64 `json:"server_errors_total"`
	// StreamsTotal counts event streams opened.
	StreamsTotal uint64 `json:"streams_total"`
	// StreamWriteFailuresTotal counts event streams ended because a write
	// failed or timed out (a stuck or vanished client).
	StreamWriteFailuresTotal uint64 `json:"stream_write_failures_total"`
	// UnidentifiedTotal counts connections whose peer credentials could
	// not be read; their requests are refused (403).
	UnidentifiedTotal uint64 `json:"unidentified_total"`
}

// Server is the control API server. Create it with [NewServer]; its
// methods are safe for concurrent use. See the package doc for the
// endpoints.
type Server struct {
	// immutable after NewServer
	log          *slog.Logger
	backend      Backend
	hub          *Hub
	maxBody      int64
	writeTimeout time.Duration

	// atomic
	requests, clientErrors, serverErrors  atomic.Uint64
	streams, streamFailures, unidentified atomic.Uint64

	// mu guards the count of running handlers, so that Serve returns only
	// after the last one.
	mu       sync.Mutex
	idle     *sync.Cond // signalled when active drops to 0
	active   int
	stopping bool
}

// NewServer checks opts and returns a server.
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.Backend == nil {
		return nil, errors.New("control server: no backend")
	}
	s := &Server{
		log:          opts.Logger,
		backend:      opts.Backend,
		hub:          opts.Hub,
		maxBody:      opts.MaxBody,
		writeTimeout: opts.WriteTimeout,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "control")
	if s.hub == nil {
		s.hub = NewHub()
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBody
	}
	if s.writeTimeout <= 0 {
		s.writeTimeout = DefaultWriteTimeout
	}
	s.idle = sync.NewCond(&s.mu)
	return s, nil
}

// Serve is NewServer(opts) followed by its Serve(ctx, ln).
func Serve(ctx context.Context, ln *net.UnixListener, opts ServerOptions) error {
	s, err := NewServer(opts)
	if err != nil {
		ln.Close()
		return err
	}
	return s.Serve(ctx, ln)
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() ServerStats {
	return ServerStats{
		RequestsTotal:            s.requests.Load(),
		ClientErrorsTotal:        s.clientErrors.Load(),
		ServerErrorsTotal:        s.serverErrors.Load(),
		StreamsTotal:             s.streams.Load(),
		StreamWriteFailuresTotal: s.streamFailures.Load(),
		UnidentifiedTotal:        s.unidentified.Load(),
	}
}

// credKey is the context key of a connection's peerCred.
type credKey struct{}

// peerCred is the identity of a connection's peer, read once when it is
// accepted.
type peerCred struct {
	uid uint32
	err error
}

// readPeerCred reads SO_PEERCRED from a unix connection.
func readPeerCred(c net.Conn) peerCred {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return peerCred{err: fmt.Errorf("not a unix connection: %T", c)}
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return peerCred{err: err}
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return peerCred{err: err}
	}
	if cerr != nil {
		return peerCred{err: cerr}
	}
	return peerCred{uid: cred.Uid}
}

// Serve serves the control API on ln until ctx ends, then closes ln (which
// removes the socket file) and every connection, and returns nil once every
// handler has returned; in-flight requests get a short grace period. It
// returns an error if accepting fails. Serve must be called at most once.
func (s *Server) Serve(ctx context.Context, ln *net.UnixListener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      s.writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		// Request contexts derive from ctx, so that event streams end
		// when Serve is stopped.
		BaseContext: func(net.Listener) context.Context { return ctx },
		ConnContext: func(cctx context.Context, c net.Conn) context.Context {
			pc := readPeerCred(c)
			if pc.err != nil {
				s.unidentified.Add(1)
				s.log.Warn("control peer unidentified", "err", pc.err)
			}
			return context.WithValue(cctx, credKey{}, pc)
		},
	}
	s.log.Info("control api listening", "socket", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }() // owned: always received below

	var serveErr error
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		if err := hs.Shutdown(sctx); err != nil {
			hs.Close()
		}
		cancel()
		<-errc
	case err := <-errc:
		hs.Close()
		serveErr = fmt.Errorf("control api: %w", err)
	}
	s.mu.Lock()
	s.stopping = true
	for s.active > 0 {
		s.idle.Wait()
	}
	s.mu.Unlock()
	s.log.Info("control api stopped")
	return serveErr
}

// enter registers a running handler; it reports false if Serve is ending.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	s.active++
	return true
}

func (s *Server) leave() {
	s.mu.Lock()
	s.active--
	if s.active == 0 {
		s.idle.Broadcast()
	}
	s.mu.Unlock()
}

// ServeHTTP routes one request. It is exported only to satisfy
// http.Handler; use Serve.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if !s.enter() {
		s.fail(w, http.StatusServiceUnavailable, errors.New("control api is stopping"))
		return
	}
	defer s.leave()

	pc, ok := r.Context().Value(credKey{}).(peerCred)
	if !ok || pc.err != nil {
		s.fail(w, http.StatusForbidden, errors.New("cannot identify the caller"))
		return
	}
	req := LocalRequester(pc.uid)

	p := r.URL.Path
	switch {
	case p == "/v1/policies":
		switch r.Method {
		case http.MethodGet:
			s.listPolicies(w, r, req)
		case http.MethodPost:
			s.addPolicy(w, r, req)
		default:
			s.notAllowed(w, "GET, POST")
		}
	case strings.HasPrefix(p, "/v1/policies/"):
		if r.Method != http.MethodDelete {
			s.notAllowed(w, "DELETE")
			return
		}
		s.removePolicy(w, req, strings.TrimPrefix(p, "/v1/policies/"))
	case p == "/v1/rules":
		if s.only(w, r, http.MethodGet) {
			s.rules(w, r)
		}
	case p == "/v1/paths":
		if s.only(w, r, http.MethodGet) {
			seq := s.hub.Seq() // before the list: see the package doc
			s.reply(w, http.StatusOK, pathsReply{Seq: seq, Paths: nonNil(s.backend.Paths())})
		}
	case p == "/v1/peer":
		if s.only(w, r, http.MethodGet) {
			seq := s.hub.Seq()
			s.reply(w, http.StatusOK, peerReply{Seq: seq, Addrs: nonNil(s.backend.PeerAddrs())})
		}
	case p == "/v1/events":
		if s.only(w, r, http.MethodGet) {
			s.events(w, r)
		}
	case p == "/v1/reload":
		if s.only(w, r, http.MethodPost) {
			if err := s.backend.Reload(); err != nil {
				s.fail(w, statusOf(err, true), err)
				return
			}
			s.reply(w, http.StatusNoContent, nil)
		}
	default:
		s.fail(w, http.StatusNotFound, errors.New("no such endpoint"))
	}
}

// Reply bodies.
type (
	policiesReply struct {
		Policies []PolicyInfo `json:"policies"`
	}
	pathsReply struct {
		Seq   uint64     `json:"seq"`
		Paths []PathView `json:"paths"`
	}
	peerReply struct {
		Seq   uint64     `json:"seq"`
		Addrs []PeerAddr `json:"addrs"`
	}
)

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) addPolicy(w http.ResponseWriter, r *http.Request, req Requester) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.fail(w, http.StatusRequestEntityTooLarge,
				fmt.Errorf("%w: body over %d bytes", ErrBadRequest, s.maxBody))
			return
		}
		s.fail(w, http.StatusBadRequest, fmt.Errorf("%w: read body: %w", ErrBadRequest, err))
		return
	}
	doc, lifetime, err := decodeAddRequest(body)
	if err != nil {
		s.fail(w, http.StatusBadRequest, err)
		return
	}
	info, err := s.backend.AddPolicy(req, doc, lifetime)
	if err != nil {
		s.fail(w, statusOf(err, true), err)
		return
	}
	s.log.Info("control policy added", "rule", info.ID, "requester", req.Name, "rules", info.Rules)
	s.reply(w, http.StatusCreated, info)
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request, req Requester) {
	all, err := parseBool("all", r.URL.Query().Get("all"))
	if err != nil {
		s.fail(w, http.StatusBadRequest, err)
		return
	}
	if all && !req.Privileged() {
		s.fail(w, http.StatusForbidden, fmt.Errorf("%w: only root may list every requester's policies", ErrForbidden))
		return
	}
	ps, err := s.backend.ListPolicies(req, all)
	if err != nil {
		s.fail(w, statusOf(err, false), err)
		return
	}
	s.reply(w, http.StatusOK, policiesReply{Policies: nonNil(ps)})
}

func (s *Server) removePolicy(w http.ResponseWriter, req Requester, id string) {
	if !validID(id) {
		s.fail(w, http.StatusBadRequest, fmt.Errorf("%w: invalid policy id", ErrBadRequest))
		return
	}
	if err := s.backend.RemovePolicy(req, id); err != nil {
		s.fail(w, statusOf(err, false), err)
		return
	}
	s.log.Info("control policy removed", "rule", id, "requester", req.Name)
	s.reply(w, http.StatusNoContent, nil)
}

func (s *Server) rules(w http.ResponseWriter, r *http.Request) {
	format, err := parseFormat(r.URL.Query().Get("format"))
	if err != nil {
		s.fail(w, http.StatusBadRequest, err)
		return
	}
	body, ctype, err := s.backend.Rules(format)
	if err != nil {
		s.fail(w, statusOf(err, false), err)
		return
	}
	if ctype == "" {
		ctype = "text/plain; charset=utf-8"
		if format == FormatJSON {
			ctype = "application/json"
		}
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// events streams the hub's events as NDJSON until the client goes, Serve
// stops, or a write fails or times out.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	sub := s.hub.Subscribe(0)
	defer sub.Close()
	s.streams.Add(1)
	rc := http.NewResponseController(w)
	// The stream outlives the server's read and write timeouts: no read
	// deadline (the connection's background read notices the client
	// going), and a write deadline per event instead.
	if err := rc.SetReadDeadline(time.Time{}); err != nil {
		s.fail(w, http.StatusInternalServerError, fmt.Errorf("event stream: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Cache-Control", "no-store")
	rc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		s.streamFailures.Add(1)
		return
	}
	enc := json.NewEncoder(w)
	for {
		ev, err := sub.Next(r.Context())
		if err != nil {
			return // the client went, or Serve is stopping
		}
		rc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
		if err := enc.Encode(ev); err != nil {
			s.streamWriteFailed(err)
			return
		}
		if err := rc.Flush(); err != nil {
			s.streamWriteFailed(err)
			return
		}
	}
}

func (s *Server) streamWriteFailed(err error) {
	s.streamFailures.Add(1)
	s.log.Debug("control event stream ended", "err", err)
}

// only answers 405 unless r's method is m.
func (s *Server) only(w http.ResponseWriter, r *http.Request, m string) bool {
	if r.Method == m {
		return true
	}
	s.notAllowed(w, m)
	return false
}

func (s *Server) notAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	s.fail(w, http.StatusMethodNotAllowed, errors.New("method not allowed"))
}

// reply writes v as JSON with status (no body if v is nil).
func (s *Server) reply(w http.ResponseWriter, status int, v any) {
	if v == nil {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(v)
	if err != nil { // our own types: cannot happen
		s.fail(w, http.StatusInternalServerError, fmt.Errorf("encode reply: %w", err))
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// fail writes err as an error body with status and counts it.
func (s *Server) fail(w http.ResponseWriter, status int, err error) {
	switch {
	case status >= 500:
		s.serverErrors.Add(1)
		s.log.Warn("control request failed", "status", status, "err", err)
	case status >= 400:
		s.clientErrors.Add(1)
		s.log.Debug("control request refused", "status", status, "err", err)
	}
	b, _ := json.Marshal(newErrorBody(err))
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
