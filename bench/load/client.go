// SPDX-License-Identifier: MIT

package load

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// TCPOptions configure RunTCP.
type TCPOptions struct {
	Addr     string        // server address
	Streams  int           // parallel connections (default 1)
	Duration time.Duration // how long each stream sends (default 5 s)
	MPTCP    bool          // dial with MPTCP
	Bucket   time.Duration // timeline bucket (default 10 ms)
	Omit     time.Duration // excluded from SteadyMbps at the start (default 1 s, at most Duration/2)
	Seed     uint64        // pattern seed of stream 0 (stream i uses Seed+i)
	NoHash   bool          // skip SHA-256 on both ends
	Wait     time.Duration // keep retrying the dial this long (default 10 s)
	// CC sets the TCP congestion control of the streams (TCP_CONGESTION;
	// "" keeps the system default).
	CC string
	// ReportWait bounds the wait for the server's report after sending
	// (default 60 s); a stream whose path died for good fails after it.
	ReportWait time.Duration
}

// StreamResult is one connection's outcome.
type StreamResult struct {
	Sent     int64  `json:"sent"`
	Received int64  `json:"received"`
	HashOK   bool   `json:"hash_ok"`
	Error    string `json:"error,omitempty"`
}

// TCPResult is the outcome of RunTCP. Rates are goodput: payload bytes the
// server received.
type TCPResult struct {
	Streams    []StreamResult `json:"streams"`
	Bytes      int64          `json:"bytes"`       // received, all streams
	Seconds    float64        `json:"seconds"`     // client start to last byte received
	Mbps       float64        `json:"mbit_per_s"`  // Bytes over Seconds
	SteadyMbps float64        `json:"steady_mbps"` // over [Omit, Duration]
	HashOK     bool           `json:"hash_ok"`     // every stream arrived byte-exact (or NoHash)
	BucketMS   float64        `json:"bucket_ms"`
	StartUnix  int64          `json:"start_unix_ns"` // start of bucket 0 (the client's start)
	Timeline   []int64        `json:"timeline"`      // bytes received per bucket, all streams
	// MaxStallMS is the longest run of empty buckets between the first
	// received byte and the end of sending: the outage a flow saw.
	MaxStallMS float64 `json:"max_stall_ms"`
}

func (o *TCPOptions) defaults() {
	if o.Streams <= 0 {
		o.Streams = 1
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Bucket <= 0 {
		o.Bucket = 10 * time.Millisecond
	}
	if o.Omit <= 0 {
		o.Omit = time.Second
	}
	o.Omit = min(o.Omit, o.Duration/2)
	if o.Wait <= 0 {
		o.Wait = 10 * time.Second
	}
	if o.ReportWait <= 0 {
		o.ReportWait = 60 * time.Second
	}
}

// Dial connects to addr, retrying refused or unreachable attempts until
// wait has passed (a tunnel may still be coming up). cc, if set, is the
// connection's congestion control.
func Dial(ctx context.Context, network, addr string, mptcp bool, cc string, wait time.Duration) (net.Conn, error) {
	var d net.Dialer
	d.SetMultipathTCP(mptcp)
	d.Control = congestion(cc)
	d.Timeout = 2 * time.Second
	deadline := time.Now().Add(wait)
	for {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return nil, fmt.Errorf("load: dial %s: %w", addr, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// RunTCP sends o.Streams parallel byte-exact streams to a Serve server.
func RunTCP(ctx context.Context, o TCPOptions) (TCPResult, error) {
	o.defaults()
	conns := make([]net.Conn, o.Streams)
	for i := range conns {
		c, err := Dial(ctx, "tcp", o.Addr, o.MPTCP, o.CC, o.Wait)
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return TCPResult{}, err
		}
		conns[i] = c
	}
	// The clock starts when every stream is connected.
	start := time.Now()
	res := TCPResult{Streams: make([]StreamResult, o.Streams), BucketMS: float64(o.Bucket) / float64(time.Millisecond), StartUnix: start.UnixNano()}
	reports := make([]Report, o.Streams)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			defer c.Close()
			res.Streams[i], reports[i] = stream(ctx, c, o, o.Seed+uint64(i), start.Add(o.Duration))
		})
	}
	wg.Wait()
	res.HashOK = true
	for _, s := range res.Streams {
		res.Bytes += s.Received
		res.HashOK = res.HashOK && s.HashOK
	}
	res.Summarize(reports, o.Bucket, o.Omit, o.Duration)
	var errs []error
	for i, s := range res.Streams {
		if s.Error != "" {
			errs = append(errs, fmt.Errorf("stream %d: %s", i, s.Error))
		}
	}
	return res, errors.Join(errs...)
}

// stream sends on one connection until end, then collects the report.
func stream(ctx context.Context, c net.Conn, o TCPOptions, seed uint64, end time.Time) (StreamResult, Report) {
	var sr StreamResult
	var rep Report
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if _, err := c.Write(Header{Seed: seed, Bucket: o.Bucket, NoHash: o.NoHash}.Append(nil)); err != nil {
		sr.Error = err.Error()
		return sr, rep
	}
	var h hash.Hash
	if !o.NoHash {
		h = sha256.New()
	}
	p := NewPattern(seed)
	buf := make([]byte, 128<<10)
	c.SetWriteDeadline(end)
	for time.Now().Before(end) {
		p.Read(buf)
		n, err := c.Write(buf)
		if h != nil {
			h.Write(buf[:n])
		}
		sr.Sent += int64(n)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			sr.Error = err.Error()
			return sr, rep
		}
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	// The report comes once the server has read everything in flight; a
	// stalled tunnel may take a while.
	c.SetDeadline(time.Now().Add(o.ReportWait))
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		sr.Error = "report: " + err.Error()
		return sr, rep
	}
	if err := json.Unmarshal(line, &rep); err != nil {
		sr.Error = "report: " + err.Error()
		return sr, rep
	}
	sr.Received = rep.Bytes
	if rep.Error != "" {
		sr.Error = "server: " + rep.Error
	}
	sr.HashOK = rep.Bytes == sr.Sent
	if h != nil {
		sr.HashOK = sr.HashOK && rep.SHA256 == hex.EncodeToString(h.Sum(nil))
	}
	return sr, rep
}

// congestion returns a socket Control function that sets TCP_CONGESTION
// to cc (nil for "").
func congestion(cc string) func(network, address string, c syscall.RawConn) error {
	if cc == "" {
		return nil
	}
	return func(network, _ string, c syscall.RawConn) error {
		if !strings.HasPrefix(network, "tcp") {
			return nil
		}
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, cc)
		})
		if err == nil && serr != nil {
			err = fmt.Errorf("load: congestion control %q: %w", cc, serr)
		}
		return err
	}
}

// Summarize fills Timeline, Seconds, Mbps, SteadyMbps and MaxStallMS from
// the receiver's reports (aligned on StartUnix, which must be set) for a
// transfer that sent for dur; Bytes is the sum of the reports' bytes.
func (res *TCPResult) Summarize(reports []Report, bucket, omit, dur time.Duration) {
	res.BucketMS = float64(bucket) / float64(time.Millisecond)
	res.Timeline = Merge(reports, res.StartUnix, bucket)
	var last, bytes int64
	for _, r := range reports {
		last = max(last, r.LastUnixNS)
		bytes += r.Bytes
	}
	res.Bytes = bytes
	if last > res.StartUnix {
		res.Seconds = float64(last-res.StartUnix) / 1e9
		res.Mbps = float64(res.Bytes) * 8 / res.Seconds / 1e6
	}
	res.SteadyMbps = windowMbps(res.Timeline, bucket, omit, dur)
	res.MaxStallMS = float64(maxStall(res.Timeline, int(dur/bucket))) * res.BucketMS
}

// Merge adds the reports' timelines, each re-aligned so that bucket 0
// starts at startUnix (ns), into one timeline of bucket-sized buckets.
// Reports with other bucket sizes are skipped.
func Merge(reports []Report, startUnix int64, bucket time.Duration) []int64 {
	var tl []int64
	for _, r := range reports {
		if r.BucketUS != bucket.Microseconds() {
			continue
		}
		off := int((r.StartUnixNS - startUnix) / bucket.Nanoseconds())
		for j, b := range r.Buckets {
			k := max(j+off, 0)
			for len(tl) <= k {
				tl = append(tl, 0)
			}
			tl[k] += b
		}
	}
	return tl
}

// windowMbps is the goodput over [from, to) of a timeline.
func windowMbps(tl []int64, bucket, from, to time.Duration) float64 {
	a, z := int(from/bucket), int(to/bucket)
	if z <= a {
		return 0
	}
	var sum int64
	for i := a; i < z && i < len(tl); i++ {
		sum += tl[i]
	}
	return float64(sum) * 8 / (to - from).Seconds() / 1e6
}

// maxStall is the longest run of empty buckets after the first nonempty
// one and before bucket end.
func maxStall(tl []int64, end int) int {
	first := slices.IndexFunc(tl, func(v int64) bool { return v > 0 })
	if first < 0 {
		return 0
	}
	best, run := 0, 0
	for i := first; i < end; i++ {
		if i < len(tl) && tl[i] > 0 {
			run = 0
			continue
		}
		run++
		best = max(best, run)
	}
	return best
}

// Percentiles summarise a distribution in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p float64) float64 {
		return float64(s[min(int(p*float64(len(s))), len(s)-1)]) / 1e6
	}
	return Percentiles{P50: at(0.5), P95: at(0.95), P99: at(0.99), Max: float64(s[len(s)-1]) / 1e6}
}

// VoiceOptions configure RunVoice.
type VoiceOptions struct {
	Addr     string        // server address
	PPS      int           // packets per second (default 50)
	Size     int           // UDP payload bytes (default 200, at least ProbeLen)
	Duration time.Duration // default 10 s
	Wait     time.Duration // wait this long for a first echo before starting (default 10 s)
	Session  uint32        // identifies the flow at the server (default: random-ish)
}

// VoiceResult is the outcome of RunVoice.
type VoiceResult struct {
	Sent           int         `json:"sent"`
	Received       int         `json:"received"`        // echoes back at the client
	ServerReceived int         `json:"server_received"` // probes the server saw
	LossPct        float64     `json:"loss_pct"`        // round trip
	FwdLossPct     float64     `json:"fwd_loss_pct"`    // client → server
	RTT            Percentiles `json:"rtt"`
	OneWay         Percentiles `json:"one_way"` // client → server
	JitterMS       float64     `json:"jitter_ms"`
	// MaxGapMS is the longest span of send times whose probes all went
	// unanswered (plus one interval): the outage a call would hear.
	MaxGapMS float64 `json:"max_gap_ms"`
	// Timeline holds, per probe in send order, its RTT in ms (-1: lost).
	Timeline []float64 `json:"timeline_rtt_ms"`
}

// RunVoice sends a constant-rate UDP probe flow to a Serve server and
// measures its echoes.
func RunVoice(ctx context.Context, o VoiceOptions) (VoiceResult, error) {
	if o.PPS <= 0 {
		o.PPS = 50
	}
	o.Size = max(o.Size, ProbeLen)
	if o.Size == ProbeLen && o.Size < 200 {
		o.Size = 200
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Wait <= 0 {
		o.Wait = 10 * time.Second
	}
	if o.Session == 0 {
		o.Session = uint32(Mono()) | 1
	}
	c, err := net.Dial("udp", o.Addr)
	if err != nil {
		return VoiceResult{}, fmt.Errorf("load: voice: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	buf := make([]byte, max(o.Size, 2048))
	// Wait for the path: probes of session ^0 until one comes back.
	deadline := time.Now().Add(o.Wait)
	for {
		Probe{Session: ^o.Session}.Put(buf)
		c.Write(buf[:o.Size])
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil {
			if p, err := ParseProbe(buf[:n]); err == nil && p.Session == ^o.Session {
				break
			}
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return VoiceResult{}, fmt.Errorf("load: voice: no echo from %s within %v", o.Addr, o.Wait)
		}
	}
	interval := time.Second / time.Duration(o.PPS)
	total := int(o.Duration / interval)
	sent := make([]int64, total)
	rtt := make([]time.Duration, total)
	owd := make([]time.Duration, total)
	got := make([]bool, total)
	var serverCount uint32
	var wg sync.WaitGroup
	wg.Go(func() {
		rb := make([]byte, 65536)
		c.SetReadDeadline(time.Now().Add(o.Duration + 5*time.Second))
		n := 0
		for n < total {
			n, err := c.Read(rb)
			if err != nil {
				return
			}
			now := Mono()
			p, err := ParseProbe(rb[:n])
			if err != nil || p.Session != o.Session || int(p.Seq) >= total || got[p.Seq] {
				continue
			}
			got[p.Seq] = true
			n++
			rtt[p.Seq] = time.Duration(now - p.Sent)
			owd[p.Seq] = time.Duration(p.Received - p.Sent)
			serverCount = max(serverCount, p.Count)
		}
	})
	t0 := time.Now()
	sb := make([]byte, o.Size)
	for i := range total {
		if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		sent[i] = Mono()
		Probe{Session: o.Session, Seq: uint32(i), Sent: sent[i]}.Put(sb)
		c.Write(sb)
		if ctx.Err() != nil {
			break
		}
	}
	// Echoes still in flight get one second.
	c.SetReadDeadline(time.Now().Add(time.Second))
	wg.Wait()
	var res VoiceResult
	res.Sent = total
	var rtts, owds []time.Duration
	var jitter float64
	prev := -1
	gapStart := -1
	for i := range total {
		if !got[i] {
			res.Timeline = append(res.Timeline, -1)
			if gapStart < 0 {
				gapStart = i
			}
			continue
		}
		if gapStart >= 0 {
			res.MaxGapMS = max(res.MaxGapMS, float64(time.Duration(sent[i]-sent[gapStart])+interval)/1e6)
			gapStart = -1
		}
		res.Timeline = append(res.Timeline, float64(rtt[i])/1e6)
		res.Received++
		rtts = append(rtts, rtt[i])
		owds = append(owds, owd[i])
		if prev >= 0 {
			// RFC 3550 §6.4.1 interarrival jitter on the forward path.
			d := float64(owd[i]-owd[prev]) / 1e6
			if d < 0 {
				d = -d
			}
			jitter += (d - jitter) / 16
		}
		prev = i
	}
	if gapStart >= 0 {
		res.MaxGapMS = max(res.MaxGapMS, float64(time.Duration(sent[total-1]-sent[gapStart])+interval)/1e6)
	}
	res.ServerReceived = int(serverCount)
	if total > 0 {
		res.LossPct = 100 * float64(total-res.Received) / float64(total)
		res.FwdLossPct = 100 * float64(total-min(res.ServerReceived, total)) / float64(total)
	}
	res.RTT = percentiles(rtts)
	res.OneWay = percentiles(owds)
	res.JitterMS = jitter
	return res, nil
}
