// SPDX-License-Identifier: MIT

package linkem

import (
	"sync/atomic"
	"time"
)

// Stats are the counters of one direction. Written by the direction's
// goroutine, read by anyone.
type Stats struct {
	RxFrames, RxBytes     atomic.Uint64 // frames read from the ingress interface
	TxFrames, TxBytes     atomic.Uint64 // frames written to the egress interface
	Duplicated, Reordered atomic.Uint64 // extra copies sent; frames released after a later arrival (RFC 4737)
	KernelDrops           atomic.Uint64 // frames the kernel dropped before we read them (socket full)
	Held                  atomic.Int64  // frames in the delay line now
	QueuedBytes           atomic.Int64  // bytes waiting for tokens now
	drops                 [numDropReasons]atomic.Uint64
}

// Drop counts one frame dropped for r.
func (s *Stats) Drop(r DropReason) { s.drops[r].Add(1) }

// Drops returns the count of frames dropped for r.
func (s *Stats) Drops(r DropReason) uint64 { return s.drops[r].Load() }

// StatsSnapshot is a copy of Stats at one moment, in JSON-friendly form.
type StatsSnapshot struct {
	RxFrames    uint64            `json:"rx_frames"`
	RxBytes     uint64            `json:"rx_bytes"`
	TxFrames    uint64            `json:"tx_frames"`
	TxBytes     uint64            `json:"tx_bytes"`
	Duplicated  uint64            `json:"duplicated"`
	Reordered   uint64            `json:"reordered"`
	KernelDrops uint64            `json:"kernel_drops"`
	Held        int64             `json:"held"`
	QueuedBytes int64             `json:"queued_bytes"`
	Drops       map[string]uint64 `json:"drops"`
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() StatsSnapshot {
	ss := StatsSnapshot{
		RxFrames: s.RxFrames.Load(), RxBytes: s.RxBytes.Load(),
		TxFrames: s.TxFrames.Load(), TxBytes: s.TxBytes.Load(),
		Duplicated: s.Duplicated.Load(), Reordered: s.Reordered.Load(),
		KernelDrops: s.KernelDrops.Load(), Held: s.Held.Load(), QueuedBytes: s.QueuedBytes.Load(),
		Drops: map[string]uint64{},
	}
	for r := DropLoss; r < numDropReasons; r++ {
		ss.Drops[r.String()] = s.drops[r].Load()
	}
	return ss
}

// Dropped returns the total of all drop reasons.
func (ss StatsSnapshot) Dropped() uint64 {
	var n uint64
	for _, v := range ss.Drops {
		n += v
	}
	return n
}

// LineOptions size a Line.
type LineOptions struct {
	// BufSize is the size of each frame buffer, header included (default
	// 2048).
	BufSize int
	// Header is the number of bytes before the Ethernet frame in each
	// buffer (the virtio-net header), not counted as wire bytes.
	Header int
	// MaxHeld bounds the frames in the delay line (default 32768); beyond
	// it frames are dropped as DropDelayLine.
	MaxHeld int
	// Stats receives the counters (nil: a private Stats).
	Stats *Stats
}

// Line is one direction: a Link deciding each frame's fate plus the delay
// line holding frames until their release time, in a heap ordered by
// (release, arrival). It owns a pool of frame buffers, handed out by Buf,
// filled by the caller, and returned through Ingest (held or dropped) and
// Sent. It is owned by one goroutine and allocates only while its pool
// grows.
type Line struct {
	link    *Link
	stats   *Stats
	bufSize int
	hdr     int
	maxHeld int

	bufs [][]byte // slot → buffer
	lens []int    // slot → bytes stored, header included
	free []int32
	heap []held
	seq  uint64
	// maxSeq is the newest arrival released so far: a frame released after
	// it arrived earlier, so it was reordered (RFC 4737).
	maxSeq uint64
}

type held struct {
	rel  time.Duration
	seq  uint64
	slot int32
}

// NewLine returns a Line with parameters p (assumed valid) and random seed.
func NewLine(p Params, seed uint64, o LineOptions) *Line {
	if o.BufSize <= 0 {
		o.BufSize = 2048
	}
	if o.MaxHeld <= 0 {
		o.MaxHeld = 32768
	}
	if o.Stats == nil {
		o.Stats = new(Stats)
	}
	return &Line{link: NewLink(p, seed), stats: o.Stats, bufSize: o.BufSize, hdr: o.Header, maxHeld: o.MaxHeld}
}

// SetParams replaces the parameters (see Link.SetParams).
func (l *Line) SetParams(p Params) { l.link.SetParams(p) }

// Params returns the current parameters.
func (l *Line) Params() Params { return l.link.Params() }

// Stats returns the Line's counters.
func (l *Line) Stats() *Stats { return l.stats }

// Held returns the number of frames in the delay line.
func (l *Line) Held() int { return len(l.heap) }

// Buf returns a free buffer of BufSize bytes and its slot. The caller fills
// it and passes the slot to Ingest.
func (l *Line) Buf() (int32, []byte) {
	if n := len(l.free); n > 0 {
		s := l.free[n-1]
		l.free = l.free[:n-1]
		return s, l.bufs[s][:l.bufSize]
	}
	l.bufs = append(l.bufs, make([]byte, l.bufSize))
	l.lens = append(l.lens, 0)
	s := int32(len(l.bufs) - 1)
	return s, l.bufs[s]
}

// Release returns an unused buffer from Buf to the pool.
func (l *Line) Release(slot int32) { l.free = append(l.free, slot) }

// Ingest takes the frame of n bytes (header included) in slot, which
// arrived at now, and either holds it for release or drops it (returning
// the slot to the pool). n larger than BufSize means the frame was
// truncated; it is dropped as DropOversize.
func (l *Line) Ingest(now time.Duration, slot int32, n int) {
	wire := n - l.hdr
	l.stats.RxFrames.Add(1)
	l.stats.RxBytes.Add(uint64(max(wire, 0)))
	if n > l.bufSize || wire <= 0 {
		l.stats.Drop(DropOversize)
		l.Release(slot)
		return
	}
	copies, rel, reason := l.link.Admit(now, wire)
	if copies == 0 {
		l.stats.Drop(reason)
		l.Release(slot)
		return
	}
	if len(l.heap) >= l.maxHeld {
		l.stats.Drop(DropDelayLine)
		l.Release(slot)
		return
	}
	l.lens[slot] = n
	l.push(rel[0], slot)
	if copies == 2 && len(l.heap) < l.maxHeld {
		s2, b2 := l.Buf()
		copy(b2, l.bufs[slot][:n])
		l.lens[s2] = n
		l.push(rel[1], s2)
		l.stats.Duplicated.Add(1)
	}
}

// Next returns the release time of the earliest held frame, or false if
// none is held.
func (l *Line) Next() (time.Duration, bool) {
	if len(l.heap) == 0 {
		return 0, false
	}
	return l.heap[0].rel, true
}

// Pop removes and returns the earliest held frame if it is due at now. The
// caller sends Frame(slot) and then calls Sent.
func (l *Line) Pop(now time.Duration) (int32, bool) {
	if len(l.heap) == 0 || l.heap[0].rel > now {
		return 0, false
	}
	h := l.heap[0]
	last := len(l.heap) - 1
	l.heap[0] = l.heap[last]
	l.heap = l.heap[:last]
	l.down(0)
	if h.seq < l.maxSeq {
		l.stats.Reordered.Add(1)
	}
	l.maxSeq = max(l.maxSeq, h.seq)
	return h.slot, true
}

// Frame returns the stored bytes of slot, header included.
func (l *Line) Frame(slot int32) []byte { return l.bufs[slot][:l.lens[slot]] }

// Sent records the outcome of sending slot's frame and returns the slot to
// the pool.
func (l *Line) Sent(slot int32, ok bool) {
	if ok {
		l.stats.TxFrames.Add(1)
		l.stats.TxBytes.Add(uint64(l.lens[slot] - l.hdr))
	} else {
		l.stats.Drop(DropSendError)
	}
	l.Release(slot)
}

// UpdateGauges publishes the held-frame and queued-byte gauges.
func (l *Line) UpdateGauges() {
	l.stats.Held.Store(int64(len(l.heap)))
	l.stats.QueuedBytes.Store(int64(l.link.QueuedBytes()))
}

func (l *Line) push(rel time.Duration, slot int32) {
	l.seq++
	l.heap = append(l.heap, held{rel, l.seq, slot})
	l.up(len(l.heap) - 1)
}

func (a held) less(b held) bool { return a.rel < b.rel || (a.rel == b.rel && a.seq < b.seq) }

func (l *Line) up(i int) {
	h := l.heap
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (l *Line) down(i int) {
	h := l.heap
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && h[c+1].less(h[c]) {
			c++
		}
		if !h[c].less(h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}
