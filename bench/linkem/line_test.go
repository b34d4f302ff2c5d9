// SPDX-License-Identifier: MIT

package linkem

import (
	"bytes"
	"testing"
	"time"
)

func ingest(l *Line, now time.Duration, payload []byte) {
	s, b := l.Buf()
	n := copy(b[l.hdr:], payload) + l.hdr
	l.Ingest(now, s, n)
}

func drain(l *Line, now time.Duration) [][]byte {
	var out [][]byte
	for {
		s, ok := l.Pop(now)
		if !ok {
			return out
		}
		out = append(out, bytes.Clone(l.Frame(s)[l.hdr:]))
		l.Sent(s, true)
	}
}

func TestLineDelayOrder(t *testing.T) {
	l := NewLine(mustParams(t, "delay=10ms"), 1, LineOptions{Header: vnetHdrLen})
	for i := range 5 {
		ingest(l, time.Duration(i)*ms, []byte{byte(i), 1, 2, 3})
	}
	if got := drain(l, 9*ms); len(got) != 0 {
		t.Fatalf("released %d frames before their delay", len(got))
	}
	if next, ok := l.Next(); !ok || next != 10*ms {
		t.Fatalf("Next = %v %v, want 10ms", next, ok)
	}
	got := drain(l, 12*ms)
	if len(got) != 3 {
		t.Fatalf("released %d frames at 12ms, want 3", len(got))
	}
	got = append(got, drain(l, time.Second)...)
	for i, f := range got {
		if f[0] != byte(i) || len(f) != 4 {
			t.Errorf("frame %d = %v", i, f)
		}
	}
	ss := l.Stats().Snapshot()
	if ss.RxFrames != 5 || ss.TxFrames != 5 || ss.RxBytes != 20 || ss.TxBytes != 20 || ss.Dropped() != 0 {
		t.Errorf("stats %+v", ss)
	}
}

func TestLineDropsAndDuplicates(t *testing.T) {
	tests := []struct {
		name   string
		spec   string
		opts   LineOptions
		frames int
		size   int
		reason DropReason
		drops  uint64
		tx     uint64
	}{
		{name: "blackhole", spec: "blackhole=on", frames: 10, size: 100, reason: DropBlackhole, drops: 10},
		{name: "delay line full", spec: "delay=1s", opts: LineOptions{MaxHeld: 4}, frames: 10, size: 100, reason: DropDelayLine, drops: 6, tx: 4},
		{name: "oversize", spec: "", opts: LineOptions{BufSize: 200}, frames: 3, size: 500, reason: DropOversize, drops: 3},
		{name: "all duplicated", spec: "dup=100%", frames: 10, size: 100, tx: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLine(mustParams(t, tt.spec), 1, tt.opts)
			for range tt.frames {
				s, _ := l.Buf()
				l.Ingest(0, s, tt.size) // size > BufSize stands for MSG_TRUNC
			}
			drain(l, 2*time.Second)
			ss := l.Stats().Snapshot()
			if tt.drops > 0 && l.Stats().Drops(tt.reason) != tt.drops {
				t.Errorf("drops %v = %d, want %d (%+v)", tt.reason, l.Stats().Drops(tt.reason), tt.drops, ss)
			}
			if ss.TxFrames != tt.tx {
				t.Errorf("tx %d, want %d", ss.TxFrames, tt.tx)
			}
			// Every buffer is back in the pool.
			if len(l.free) != len(l.bufs) {
				t.Errorf("%d of %d buffers free", len(l.free), len(l.bufs))
			}
		})
	}
}

func TestLineReorderCounted(t *testing.T) {
	l := NewLine(mustParams(t, "delay=10ms reorder=50%"), 2, LineOptions{})
	for i := range 1000 {
		ingest(l, time.Duration(i)*100*time.Microsecond, []byte{1})
		drain(l, time.Duration(i)*100*time.Microsecond)
	}
	drain(l, time.Second)
	if r := l.Stats().Reordered.Load(); r < 300 || r > 600 {
		t.Errorf("reordered %d of 1000, want about 500", r)
	}
}

func TestLineAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations differ under -race")
	}
	l := NewLine(mustParams(t, "rate=100mbit delay=5ms jitter=1ms loss=1% dup=1%"), 1, LineOptions{})
	payload := make([]byte, 1400)
	now := time.Duration(0)
	step := func() {
		now += 100 * time.Microsecond
		ingest(l, now, payload)
		for {
			s, ok := l.Pop(now)
			if !ok {
				break
			}
			l.Sent(s, true)
		}
	}
	for range 10000 { // grow the pool, heap and backlog ring
		step()
	}
	if a := testing.AllocsPerRun(1000, step); a != 0 {
		t.Errorf("%v allocations per frame, want 0", a)
	}
}

func BenchmarkLine(b *testing.B) {
	l := NewLine(mustParams(b, "rate=1gbit delay=10ms jitter=1ms loss=1%"), 1, LineOptions{})
	payload := make([]byte, 1500)
	now := time.Duration(0)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		now += 12 * time.Microsecond
		ingest(l, now, payload)
		for {
			s, ok := l.Pop(now)
			if !ok {
				break
			}
			l.Sent(s, true)
		}
	}
}
