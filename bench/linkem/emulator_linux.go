// SPDX-License-Identifier: MIT

package linkem

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Dir names a direction of the emulated link.
type Dir uint8

// Directions.
const (
	AtoB Dir = iota // frames read on A, written to B
	BtoA            // frames read on B, written to A
	Both            // both directions (for Set/Update only)
)

func (d Dir) String() string {
	switch d {
	case AtoB:
		return "a2b"
	case BtoA:
		return "b2a"
	case Both:
		return "both"
	}
	return "dir?"
}

// ParseDir parses "a2b", "b2a" or "both".
func ParseDir(s string) (Dir, error) {
	switch s {
	case "a2b":
		return AtoB, nil
	case "b2a":
		return BtoA, nil
	case "both":
		return Both, nil
	}
	return 0, fmt.Errorf("direction %q: want a2b, b2a or both", s)
}

func (d Dir) dirs() []Dir {
	if d == Both {
		return []Dir{AtoB, BtoA}
	}
	return []Dir{d}
}

// DefaultSlack is the default Options.Slack.
const DefaultSlack = 250 * time.Microsecond

// Options configure an Emulator.
type Options struct {
	// A and B are the interfaces, in the network namespace of the thread
	// that calls Open.
	A, B string
	// AtoB and BtoA are the initial parameters of each direction.
	AtoB, BtoA Params
	// Seed seeds the random choices (direction BtoA uses Seed+1); 0 is 1.
	Seed uint64
	// MaxHeld bounds the frames held per direction (default 32768).
	MaxHeld int
	// Slack lets a wake-up release, with the frame that is due, every
	// frame due within Slack after it (default 250 µs; negative: 0). Waking
	// up costs far more than forwarding on a VM, so at high rates this
	// batches releases; the first frame of a batch leaves on time and the
	// others at most Slack early. The token bucket's schedule, and so the
	// long-term rate, is unaffected.
	Slack time.Duration
	// Logger receives lifecycle messages (nil: discard).
	Logger *slog.Logger
}

// Emulator forwards frames between two interfaces, impairing each
// direction. Its methods are safe for concurrent use; Run may be called
// once.
type Emulator struct {
	log   *slog.Logger
	socks [2]*packetSock
	start time.Time // time origin; immutable after Open

	dirs  [2]*direction
	slack time.Duration

	closeOnce sync.Once
	closed    atomic.Bool
	started   atomic.Bool // Run was called, or Close made sure it never will be
}

// direction is the state of one direction; line is owned by its loop.
type direction struct {
	d      Dir
	in     *packetSock
	out    *packetSock
	params atomic.Pointer[Params]
	wake   int // eventfd: parameters changed or closing
	stats  Stats
	line   *Line
}

// Open opens packet sockets on both interfaces (in the calling thread's
// network namespace; they stay there) and validates the parameters. Run
// starts forwarding.
func Open(o Options) (*Emulator, error) {
	for _, p := range []*Params{&o.AtoB, &o.BtoA} {
		if err := p.Validate(); err != nil {
			return nil, err
		}
	}
	if o.A == "" || o.B == "" || o.A == o.B {
		return nil, errors.New("linkem: need two distinct interfaces")
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	switch {
	case o.Slack == 0:
		o.Slack = DefaultSlack
	case o.Slack < 0:
		o.Slack = 0
	}
	e := &Emulator{log: o.Logger, start: time.Now(), slack: o.Slack}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if e.socks[0], err = openPacket(o.A); err != nil {
		return nil, err
	}
	if e.socks[1], err = openPacket(o.B); err != nil {
		e.socks[0].close()
		return nil, err
	}
	ps := [2]Params{o.AtoB, o.BtoA}
	for i := range 2 {
		in, out := e.socks[i], e.socks[1-i]
		d := &direction{d: Dir(i), in: in, out: out}
		d.params.Store(&ps[i])
		// The buffer holds the virtio header and an Ethernet frame of the
		// larger MTU plus a VLAN tag; anything longer is truncated and
		// dropped as oversize.
		bufSize := vnetHdrLen + 14 + 4 + max(in.mtu, out.mtu)
		d.line = NewLine(ps[i], o.Seed+uint64(i), LineOptions{BufSize: bufSize, Header: vnetHdrLen, MaxHeld: o.MaxHeld, Stats: &d.stats})
		fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
		if err != nil {
			e.closeFDs()
			return nil, fmt.Errorf("linkem: eventfd: %w", err)
		}
		d.wake = fd
		e.dirs[i] = d
	}
	return e, nil
}

// Run forwards frames until ctx is done or Close is called. It returns nil
// then, or the first fatal error.
//
// Each direction's goroutine keeps its scheduler P while it waits (see
// rawPpoll), so Run raises GOMAXPROCS to at least NumCPU+2: the rest of
// the process keeps as many Ps as there are CPUs.
func (e *Emulator) Run(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("linkem: Run called twice or after Close")
	}
	if n := runtime.NumCPU() + 2; runtime.GOMAXPROCS(0) < n {
		runtime.GOMAXPROCS(n)
	}
	e.log.Info("linkem running", "a", e.socks[0].name, "b", e.socks[1].name,
		"a2b", e.Params(AtoB).String(), "b2a", e.Params(BtoA).String())
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, d := range e.dirs {
		wg.Go(func() { errs[i] = e.loop(d) })
	}
	stop := context.AfterFunc(ctx, func() { e.Close() })
	defer stop()
	wg.Wait()
	e.closeFDs()
	return errors.Join(errs...)
}

// Close stops Run, which then releases the sockets; if Run was never
// called, Close releases them itself. It is safe to call more than once.
func (e *Emulator) Close() error {
	e.closeOnce.Do(func() {
		e.closed.Store(true)
		if e.started.CompareAndSwap(false, true) {
			e.closeFDs()
			return
		}
		for _, d := range e.dirs {
			if d != nil {
				kick(d.wake)
			}
		}
	})
	return nil
}

func (e *Emulator) closeFDs() {
	for i, s := range e.socks {
		if s != nil {
			s.close()
			e.socks[i] = nil
		}
	}
	for _, d := range e.dirs {
		if d != nil && d.wake > 0 {
			unix.Close(d.wake)
			d.wake = -1
		}
	}
}

func kick(fd int) {
	var one = [8]byte{1}
	unix.Write(fd, one[:])
}

// Set replaces the parameters of direction d (or both).
func (e *Emulator) Set(d Dir, p Params) error {
	if err := p.Validate(); err != nil {
		return err
	}
	for _, x := range d.dirs() {
		q := p
		e.dirs[x].params.Store(&q)
		kick(e.dirs[x].wake)
	}
	return nil
}

// Update applies key=value assignments (see Params.Apply) to the current
// parameters of direction d (or both).
func (e *Emulator) Update(d Dir, spec string) error {
	var ps []Params
	for _, x := range d.dirs() {
		p := e.Params(x)
		if err := p.Apply(spec); err != nil {
			return err
		}
		ps = append(ps, p)
	}
	for i, x := range d.dirs() {
		e.dirs[x].params.Store(&ps[i])
		kick(e.dirs[x].wake)
	}
	return nil
}

// Params returns the current parameters of direction d (AtoB or BtoA).
func (e *Emulator) Params(d Dir) Params { return *e.dirs[d&1].params.Load() }

// Stats returns the counters of direction d (AtoB or BtoA).
func (e *Emulator) Stats(d Dir) *Stats { return &e.dirs[d&1].stats }

// Start returns the emulator's time origin (set by Open): release times,
// Elapsed and scripted events count from it.
func (e *Emulator) Start() time.Time { return e.start }

// Elapsed returns the time since Start.
func (e *Emulator) Elapsed() time.Duration { return time.Since(e.start) }

// loop is one direction's goroutine: it owns d.line and runs on a locked OS
// thread with 1 µs timer slack, so ppoll wakes within microseconds of the
// next release.
func (e *Emulator) loop(d *direction) error {
	runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
	unix.Prctl(unix.PR_SET_TIMERSLACK, 1000, 0, 0, 0)

	var rx, tx mmsg
	var slots [batch]int32
	var txSlots [batch]int32
	// cur starts nil so the first pass applies whatever is current: Set may
	// have run before this goroutine started.
	var cur *Params
	line := d.line
	fds := []unix.PollFd{{Fd: int32(d.in.fd), Events: unix.POLLIN}, {Fd: int32(d.wake), Events: unix.POLLIN}}
	var evbuf [8]byte
	lastStats := time.Duration(0)
	const idle = 100 * time.Millisecond

	for {
		if e.closed.Load() {
			return nil
		}
		if p := d.params.Load(); p != cur {
			cur = p
			line.SetParams(*p)
		}
		now := time.Since(e.start)

		// Release what is due.
		for {
			n := 0
			for n < batch {
				s, ok := line.Pop(now + e.slack)
				if !ok {
					break
				}
				txSlots[n] = s
				tx.set(n, line.Frame(s))
				n++
			}
			if n == 0 {
				break
			}
			for off := 0; off < n; {
				m, err := d.out.send(&tx, off, n-off)
				for i := off; i < off+m; i++ {
					line.Sent(txSlots[i], true)
				}
				off += m
				if err != nil {
					if !transient(err) {
						e.log.Warn("linkem send", "dir", d.d, "err", err)
					}
					line.Sent(txSlots[off], false) // skip the frame that failed
					off++
				}
			}
			if n < batch {
				break
			}
		}
		if now-lastStats > idle {
			d.stats.KernelDrops.Add(d.in.kernelDrops())
			line.UpdateGauges()
			lastStats = now
		}

		timeout := idle
		if next, ok := line.Next(); ok {
			timeout = min(max(next-time.Since(e.start), 0), idle)
		}
		ts := unix.NsecToTimespec(int64(timeout))
		if err := rawPpoll(fds, &ts); err != nil {
			if !errors.Is(err, unix.EINTR) {
				return fmt.Errorf("linkem %s: ppoll: %w", d.d, err)
			}
			// Most likely the scheduler's preemption signal: the wait
			// hides this goroutine from it, so yield now, or a GC
			// stop-the-world waits (and both directions stall) until a
			// signal happens to land outside the syscall.
			runtime.Gosched()
			continue
		}
		if fds[1].Revents&unix.POLLIN != 0 {
			unix.Read(d.wake, evbuf[:])
		}
		if fds[0].Revents&(unix.POLLIN|unix.POLLERR) == 0 {
			continue
		}
		// Read everything waiting, a batch at a time, but not forever: a
		// flood must not starve the releases.
		for range 16 {
			for i := range batch {
				s, b := line.Buf()
				slots[i] = s
				rx.set(i, b)
			}
			n, err := d.in.recv(&rx, batch)
			now = time.Since(e.start)
			for i := range n {
				line.Ingest(now, slots[i], int(rx.hdrs[i].Len))
			}
			for i := n; i < batch; i++ {
				line.Release(slots[i])
			}
			if err != nil {
				if !transient(err) {
					e.log.Warn("linkem recv", "dir", d.d, "err", err)
					time.Sleep(time.Millisecond) // never spin on a persistent error
				}
				break
			}
			if n < batch {
				break
			}
		}
	}
}
