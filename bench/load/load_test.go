// SPDX-License-Identifier: MIT

package load

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"
)

func startServer(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Listen(ctx, ServeOptions{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.Run(ctx); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return s.Addr().String()
}

func TestRunTCP(t *testing.T) {
	addr := startServer(t)
	tests := []struct {
		name string
		o    TCPOptions
	}{
		{name: "one stream", o: TCPOptions{Streams: 1, Duration: 500 * time.Millisecond}},
		{name: "three streams", o: TCPOptions{Streams: 3, Duration: 500 * time.Millisecond, Seed: 9}},
		{name: "no hash", o: TCPOptions{Duration: 300 * time.Millisecond, NoHash: true}},
		{name: "congestion control", o: TCPOptions{Duration: 300 * time.Millisecond, CC: "reno"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Addr = addr
			r, err := RunTCP(t.Context(), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if !r.HashOK || r.Bytes == 0 || len(r.Streams) != max(tt.o.Streams, 1) {
				t.Fatalf("result %+v", r)
			}
			var sum int64
			for _, b := range r.Timeline {
				sum += b
			}
			if sum != r.Bytes {
				t.Errorf("timeline sums to %d, received %d", sum, r.Bytes)
			}
			if r.SteadyMbps <= 0 || r.Mbps <= 0 {
				t.Errorf("rates %v %v", r.SteadyMbps, r.Mbps)
			}
			t.Logf("%.0f Mbit/s (steady %.0f), %d buckets, stall %.0f ms", r.Mbps, r.SteadyMbps, len(r.Timeline), r.MaxStallMS)
		})
	}
}

func TestUnknownCongestionControl(t *testing.T) {
	addr := startServer(t)
	_, err := RunTCP(t.Context(), TCPOptions{Addr: addr, Duration: 100 * time.Millisecond, CC: "nosuchcc", Wait: 100 * time.Millisecond})
	if err == nil {
		t.Fatal("unknown congestion control accepted")
	}
}

// TestHashMismatch: a server that drops a byte is caught.
func TestHashMismatch(t *testing.T) {
	var r Report
	// Simulate by running sink on a pipe fed with a corrupted stream.
	a, b := netPipe(t)
	go func() {
		a.Write(Header{Seed: 1, Bucket: 10 * time.Millisecond}.Append(nil))
		buf := make([]byte, 1000)
		NewPattern(1).Read(buf)
		buf[500] ^= 1
		a.Write(buf)
		a.(interface{ CloseWrite() error }).CloseWrite()
		io.Copy(io.Discard, a)
	}()
	r = sink(b)
	want := make([]byte, 1000)
	NewPattern(1).Read(want)
	if r.Bytes != 1000 || r.SHA256 == sha(want) {
		t.Errorf("corruption not visible in the report: %+v", r)
	}
}

func TestRunVoice(t *testing.T) {
	addr := startServer(t)
	r, err := RunVoice(t.Context(), VoiceOptions{Addr: addr, PPS: 200, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 200 || r.Received != 200 || r.ServerReceived != 200 || r.LossPct != 0 {
		t.Errorf("result %+v", r)
	}
	if r.RTT.P50 <= 0 || r.RTT.P50 > 50 || r.OneWay.P50 > r.RTT.P50 {
		t.Errorf("delays %+v %+v", r.RTT, r.OneWay)
	}
}

func TestMaxStall(t *testing.T) {
	tests := []struct {
		name string
		tl   []int64
		end  int
		want int
	}{
		{name: "none", tl: []int64{1, 1, 1}, end: 3, want: 0},
		{name: "leading zeros ignored", tl: []int64{0, 0, 1, 1}, end: 4, want: 0},
		{name: "middle", tl: []int64{1, 0, 0, 0, 1}, end: 5, want: 3},
		{name: "tail until end", tl: []int64{1, 1}, end: 5, want: 3},
		{name: "empty", tl: nil, end: 5, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := maxStall(tt.tl, tt.end); got != tt.want {
				t.Errorf("maxStall = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestPattern(t *testing.T) {
	a, b := NewPattern(3), NewPattern(3)
	x := make([]byte, patternLen+100)
	a.Read(x[:7])
	a.Read(x[7:])
	y := make([]byte, len(x))
	b.Read(y)
	if !bytes.Equal(x, y) {
		t.Error("pattern depends on read sizes")
	}
	if bytes.Equal(x[:100], x[patternLen:patternLen+100]) == false {
		t.Error("pattern does not repeat with its period")
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add(Header{Seed: 1, Bucket: 10 * time.Millisecond}.Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			return
		}
		h2, err := ParseHeader(h.Append(nil))
		if err != nil || h2 != h {
			t.Fatalf("round trip %+v → %+v, %v", h, h2, err)
		}
	})
}

func FuzzParseProbe(f *testing.F) {
	b := make([]byte, 200)
	Probe{Session: 1, Seq: 2, Sent: 3, Received: 4, Count: 5}.Put(b)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProbe(b)
		if err != nil {
			return
		}
		c := make([]byte, ProbeLen)
		p.Put(c)
		p2, err := ParseProbe(c)
		if err != nil || p2 != p {
			t.Fatalf("round trip %+v → %+v, %v", p, p2, err)
		}
	})
}
