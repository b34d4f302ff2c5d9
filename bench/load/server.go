// SPDX-License-Identifier: MIT

package load

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// ServeOptions configure Serve.
type ServeOptions struct {
	// Addr is the TCP and UDP listen address, e.g. ":5300".
	Addr string
	// MPTCP makes the TCP listener accept MPTCP (plain TCP still works).
	MPTCP bool
	// CC sets the congestion control of accepted connections ("" keeps the
	// system default).
	CC string
	// Logger receives per-connection summaries (nil: discard).
	Logger *slog.Logger
	// Reports, if set, receives every stream's Report as a JSON line when
	// the stream ends, also when Run stops mid-stream: the receiver's
	// account of a flow whose connection stalled for good.
	Reports io.Writer
}

// Report is the receiver's account of one TCP stream, sent back to the
// client as one JSON line after the client's EOF.
type Report struct {
	Seed        uint64  `json:"seed"`
	Bytes       int64   `json:"bytes"`
	SHA256      string  `json:"sha256,omitempty"`
	StartUnixNS int64   `json:"start_unix_ns"` // start of bucket 0
	FirstUnixNS int64   `json:"first_unix_ns"` // first data byte
	LastUnixNS  int64   `json:"last_unix_ns"`  // last data byte
	BucketUS    int64   `json:"bucket_us"`
	Buckets     []int64 `json:"buckets"` // bytes received per bucket
	Error       string  `json:"error,omitempty"`
}

// maxBuckets bounds a timeline (10 minutes of 10 ms buckets).
const maxBuckets = 60000

// Server is a bound TCP sink and UDP echo.
type Server struct {
	log     *slog.Logger
	ln      net.Listener
	pc      *net.UDPConn
	reports io.Writer
	repMu   sync.Mutex // serializes writes to reports
}

// Listen binds the TCP listener and, on the same port, the UDP socket. A
// zero port picks a free one.
func Listen(ctx context.Context, o ServeOptions) (*Server, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var lc net.ListenConfig
	lc.SetMultipathTCP(o.MPTCP)
	lc.Control = congestion(o.CC)
	ln, err := lc.Listen(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("load: listen: %w", err)
	}
	udpAddr := ln.Addr().(*net.TCPAddr).AddrPort()
	host, _, _ := net.SplitHostPort(o.Addr)
	pc, err := lc.ListenPacket(ctx, "udp", net.JoinHostPort(host, fmt.Sprint(udpAddr.Port())))
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("load: listen: %w", err)
	}
	uc := pc.(*net.UDPConn)
	uc.SetReadBuffer(4 << 20)
	return &Server{log: log, ln: ln, pc: uc, reports: o.Reports}, nil
}

// Addr returns the bound TCP (and UDP) address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve is Listen followed by Run.
func Serve(ctx context.Context, o ServeOptions) error {
	s, err := Listen(ctx, o)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// Run answers streams and probes until ctx ends; it then closes the
// sockets and waits for every connection's goroutine.
func (s *Server) Run(ctx context.Context) error {
	ln, pc := s.ln, s.pc
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		pc.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	wg.Go(func() { echoLoop(pc) })
	for {
		c, err := ln.Accept()
		if err != nil {
			ln.Close()
			pc.Close()
			mu.Lock()
			for c := range conns {
				c.Close()
			}
			mu.Unlock()
			wg.Wait()
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("load: accept: %w", err)
		}
		mu.Lock()
		conns[c] = true
		mu.Unlock()
		wg.Go(func() {
			r := sink(c)
			s.log.Info("stream", "from", c.RemoteAddr(), "bytes", r.Bytes, "err", r.Error)
			if s.reports != nil {
				b, _ := json.Marshal(r)
				s.repMu.Lock()
				s.reports.Write(append(b, '\n'))
				s.repMu.Unlock()
			}
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
		})
	}
}

// sink receives one stream and answers with its Report.
func sink(c net.Conn) Report {
	var r Report
	hb := make([]byte, HeaderLen)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(c, hb); err != nil {
		r.Error = "header: " + err.Error()
		return r
	}
	h, err := ParseHeader(hb)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	c.SetReadDeadline(time.Time{})
	r.Seed = h.Seed
	start := time.Now()
	r.StartUnixNS = start.UnixNano()
	r.BucketUS = h.Bucket.Microseconds()
	hash := sha256.New()
	buf := make([]byte, 256<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			now := time.Now()
			if r.Bytes == 0 {
				r.FirstUnixNS = now.UnixNano()
			}
			r.LastUnixNS = now.UnixNano()
			r.Bytes += int64(n)
			if !h.NoHash {
				hash.Write(buf[:n])
			}
			if i := int(now.Sub(start) / h.Bucket); i < maxBuckets {
				for len(r.Buckets) <= i {
					r.Buckets = append(r.Buckets, 0)
				}
				r.Buckets[i] += int64(n)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			r.Error = err.Error()
			break
		}
	}
	if !h.NoHash {
		r.SHA256 = hex.EncodeToString(hash.Sum(nil))
	}
	b, _ := json.Marshal(r)
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	c.Write(append(b, '\n'))
	return r
}

// echoLoop answers voice probes: it stamps the receive time and the
// session's packet count, and sends the probe back.
func echoLoop(c *net.UDPConn) {
	buf := make([]byte, 65536)
	counts := map[uint32]uint32{}
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p, err := ParseProbe(buf[:n])
		if err != nil {
			continue
		}
		if len(counts) > 10000 {
			clear(counts)
		}
		counts[p.Session]++
		p.Received = Mono()
		p.Count = counts[p.Session]
		p.Put(buf[:n])
		c.WriteToUDPAddrPort(buf[:n], from)
	}
}
