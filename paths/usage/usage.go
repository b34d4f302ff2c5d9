// SPDX-License-Identifier: MIT

package usage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Caps are the data caps of one uplink. The zero value has no cap.
type Caps struct {
	// Daily is the most bytes per local calendar day; 0 means no cap.
	Daily uint64
	// Monthly is the most bytes per month, counted from local midnight of
	// ResetDay; 0 means no cap.
	Monthly uint64
	// ResetDay is the day of the month on which the monthly count
	// restarts, 1 to 28 (every month has it). 0 means 1; more than 28
	// means 28. It places the month window even when Monthly is 0.
	ResetDay int
}

// resetDay returns c.ResetDay within 1 to 28.
func (c Caps) resetDay() int { return min(max(c.ResetDay, 1), 28) }

// Options configure a Store. The zero value counts in memory only, on the
// system clock, in local time.
type Options struct {
	// Logger receives the warnings about the file and cap changes; nil
	// discards.
	Logger *slog.Logger
	// File is the usage file, loaded by Open and written by Save. "" keeps
	// the counts in memory only (Save does nothing). Save creates its
	// directory (0700) if it is missing.
	File string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Location is the time zone whose midnights start days and months;
	// nil means time.Local.
	Location *time.Location
}

// maxFile bounds what Open reads; a larger file is not ours.
const maxFile = 1 << 20

// orphanLife is how long a record that no Meter claims is kept: a month
// window is at most 31 days, and then its counts are over anyway.
const orphanLife = 32 * 24 * time.Hour

// Store holds the Meters of the uplinks and their file. It is safe for
// concurrent use.
//
// Lock order: saveMu before mu.
type Store struct {
	// Immutable after Open.
	log   *slog.Logger
	file  string
	now   func() time.Time
	loc   *time.Location
	stats Stats

	saveMu sync.Mutex
	saved  []record // guarded by saveMu: what the file holds, nil if unknown

	mu      sync.Mutex
	meters  []*Meter          // guarded by mu; in the order of creation
	byName  map[string]*Meter // guarded by mu
	orphans map[string]record // guarded by mu: records of the file no Meter has claimed
}

// Open returns a Store with the counts of opts.File, if it exists. A file
// that is not a usage file of this version is renamed to File+".corrupt"
// with a warning, and counting starts from zero; so is anything else at
// that path (a directory, a FIFO). A missing file, or directory, is a
// fresh start. Open fails only if the file exists but cannot be read
// (permissions, I/O).
func Open(opts Options) (*Store, error) {
	s := newStore(opts)
	if s.file == "" {
		return s, nil
	}
	b, err := readFile(s.file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case errors.Is(err, errNotOurs):
	case err != nil:
		return nil, fmt.Errorf("read usage file: %w", err)
	}
	var recs []record
	if err == nil {
		recs, err = decode(b)
	}
	if err != nil {
		s.stats.CorruptFilesTotal.Add(1)
		aside := s.file + ".corrupt"
		if rerr := os.Rename(s.file, aside); rerr != nil {
			s.log.Warn("usage file unreadable; counting from zero", "file", s.file, "err", err, "rename_err", rerr)
		} else {
			s.log.Warn("usage file unreadable; counting from zero", "file", s.file, "err", err, "moved_to", aside)
		}
		return s, nil
	}
	s.load(recs)
	return s, nil
}

func newStore(opts Options) *Store {
	s := &Store{
		log:     opts.Logger,
		file:    opts.File,
		now:     opts.Now,
		loc:     opts.Location,
		byName:  map[string]*Meter{},
		orphans: map[string]record{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "usage")
	if s.now == nil {
		s.now = time.Now
	}
	if s.loc == nil {
		s.loc = time.Local
	}
	return s
}

// load takes the records of a decoded file, before any Meter exists.
func (s *Store) load(recs []record) {
	for _, r := range recs {
		s.orphans[r.Name] = r
	}
	s.saved = recs
}

var errNotOurs = errors.New("not a regular file of at most 1 MiB")

// readFile reads the usage file; errNotOurs if it cannot be one. A path
// through a file that is not a directory counts as missing.
func readFile(name string) ([]byte, error) {
	// Stat before opening: opening a FIFO would block.
	fi, err := os.Stat(name)
	if errors.Is(err, syscall.ENOTDIR) {
		return nil, fs.ErrNotExist
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotOurs
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFile {
		return nil, errNotOurs
	}
	return b, nil
}

// Stats returns the Store's counters.
func (s *Store) Stats() *Stats { return &s.stats }

// Meter returns the Meter of the uplink name, creating it (with the counts
// the file had for name, if any) on the first call; later calls with the
// same name return the same Meter and set its caps. Exceeded is current
// on return; Tick reports a Meter that starts out exceeded as changed.
func (s *Store) Meter(name string, caps Caps) *Meter {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	m, ok := s.byName[name]
	if !ok {
		m = &Meter{name: name, store: s}
		if r, ok := s.orphans[name]; ok {
			delete(s.orphans, name)
			m.restoreLocked(r)
		} else {
			m.dayStart = s.dayStart(now)
			m.monthStart = s.monthStart(now, caps.resetDay())
		}
		s.byName[name] = m
		s.meters = append(s.meters, m)
	}
	m.caps = caps
	m.rollLocked(now)
	m.exceeded.Store(m.overLocked())
	return m
}

// Tick rolls the day and month windows over that have ended, recomputes
// each Meter's Exceeded, and returns the names of the Meters whose
// Exceeded differs from what the previous Tick reported (a new Meter
// counts as reported not exceeded), in the order of their creation; nil
// if none. The daemon calls it about every 250 ms: Exceeded lags the
// count by at most one Tick.
func (s *Store) Tick() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var changed []string
	for _, m := range s.meters {
		if m.rollLocked(now) {
			s.stats.RolloversTotal.Add(1)
		}
		over := m.overLocked()
		m.exceeded.Store(over)
		if over != m.reported {
			m.reported = over
			changed = append(changed, m.name)
			s.stats.CapChangesTotal.Add(1)
			day, month := m.usageLocked()
			if over {
				s.log.Info("data cap reached", "uplink", m.name, "day_bytes", day, "month_bytes", month, "cap_daily", m.caps.Daily, "cap_monthly", m.caps.Monthly)
			} else {
				s.log.Info("data cap clear", "uplink", m.name, "day_bytes", day, "month_bytes", month)
			}
		}
	}
	return changed
}

// Save writes the counts to the file, if they changed since the file was
// loaded or last saved: to a temporary file in the same directory, synced,
// renamed over the file (mode 0600), and the directory synced. Records of
// uplinks that no Meter claimed are kept until their month is over. With
// no File, Save does nothing.
func (s *Store) Save() error {
	if s.file == "" {
		return nil
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	recs := s.records()
	if slices.EqualFunc(recs, s.saved, record.equal) && s.saved != nil {
		return nil
	}
	b, err := encode(recs)
	if err == nil {
		err = writeFile(s.file, b)
	}
	if err != nil {
		s.stats.SaveErrorsTotal.Add(1)
		return fmt.Errorf("save usage: %w", err)
	}
	s.stats.SavesTotal.Add(1)
	s.saved = recs
	return nil
}

// records returns what the file should hold, sorted by name.
func (s *Store) records() []record {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	recs := make([]record, 0, len(s.meters)+len(s.orphans))
	for _, m := range s.meters {
		day, month := m.usageLocked()
		recs = append(recs, record{Name: m.name, DayStart: m.dayStart, MonthStart: m.monthStart, BytesToday: day, BytesMonth: month})
	}
	for name, r := range s.orphans {
		if now.Sub(r.MonthStart) > orphanLife {
			delete(s.orphans, name)
			continue
		}
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b record) int { return strings.Compare(a.Name, b.Name) })
	return recs
}

// dayStart returns the start of t's day: the local midnight before t.
func (s *Store) dayStart(t time.Time) time.Time {
	y, m, d := t.In(s.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, s.loc)
}

// monthStart returns the start of t's month window: the last local
// midnight on day resetDay at or before t.
func (s *Store) monthStart(t time.Time, resetDay int) time.Time {
	y, m, d := t.In(s.loc).Date()
	if d < resetDay {
		m-- // time.Date normalizes month 0 to December of the year before
	}
	return time.Date(y, m, resetDay, 0, 0, 0, 0, s.loc)
}

// Meter counts the bytes of one uplink. The zero value is not usable; get
// Meters from Store.Meter. A nil *Meter counts nothing and is never
// exceeded.
type Meter struct {
	// Atomic. total is apart from exceeded, which readers poll, so that
	// Add does not slow them down.
	total    atomic.Uint64 // bytes added, from the loaded month's count on
	_        [56]byte
	exceeded atomic.Bool // as of the last Tick (or Meter call)

	// Immutable.
	name  string
	store *Store

	// Guarded by store.mu. The count of a window is total minus its base.
	caps       Caps
	dayStart   time.Time
	monthStart time.Time
	dayBase    uint64
	monthBase  uint64
	reported   bool // Exceeded as the last Tick reported it
}

// Add counts n bytes, sent or received. It is one atomic add: no lock, no
// allocation.
func (m *Meter) Add(n uint64) {
	if m != nil {
		m.total.Add(n)
	}
}

// Usage returns the bytes counted in the current day and month windows,
// as of the last Tick's rollover.
func (m *Meter) Usage() (day, month uint64) {
	if m == nil {
		return 0, 0
	}
	m.store.mu.Lock()
	defer m.store.mu.Unlock()
	return m.usageLocked()
}

// Exceeded reports whether the daily or the monthly cap was reached, as of
// the last Tick: one atomic load.
func (m *Meter) Exceeded() bool { return m != nil && m.exceeded.Load() }

// Name returns the uplink's name ("" for a nil Meter).
func (m *Meter) Name() string {
	if m == nil {
		return ""
	}
	return m.name
}

func (m *Meter) usageLocked() (day, month uint64) {
	t := m.total.Load()
	return t - m.dayBase, t - m.monthBase
}

// overLocked reports whether a cap is reached.
func (m *Meter) overLocked() bool {
	day, month := m.usageLocked()
	return m.caps.Daily > 0 && day >= m.caps.Daily || m.caps.Monthly > 0 && month >= m.caps.Monthly
}

// restoreLocked sets m's windows and counts from the file's record.
func (m *Meter) restoreLocked(r record) {
	month := max(r.BytesMonth, r.BytesToday) // the day is part of the month
	m.total.Store(month)
	m.monthBase = 0
	m.dayBase = month - r.BytesToday
	m.dayStart, m.monthStart = r.DayStart, r.MonthStart
}

// rollLocked starts the windows anew whose successors have begun by now,
// and reports whether any did. A window whose start lies after now (the
// clock went back) stays.
func (m *Meter) rollLocked(now time.Time) bool {
	s := m.store
	t := m.total.Load()
	rolled := false
	if ds := s.dayStart(now); ds.After(m.dayStart) {
		m.dayStart, m.dayBase = ds, t
		rolled = true
	}
	if ms := s.monthStart(now, m.caps.resetDay()); ms.After(m.monthStart) {
		m.monthStart, m.monthBase = ms, t
		rolled = true
	}
	// The month window holds the day's (it starts at a midnight no later),
	// so its count is at least the day's, also when the reset day moved.
	if !m.monthStart.After(m.dayStart) && m.monthBase > m.dayBase {
		m.monthBase = m.dayBase
	}
	return rolled
}

// writeFile replaces name with data atomically and durably.
func writeFile(name string, data []byte) (err error) {
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil // the file is in place; only its durability is unsure
	}
	defer d.Close()
	d.Sync()
	return nil
}

// Stats are the counters of a Store. Read them with Snapshot.
type Stats struct {
	SavesTotal        atomic.Uint64 // files written
	SaveErrorsTotal   atomic.Uint64 // Saves that failed
	RolloversTotal    atomic.Uint64 // Tick calls that started a Meter's day or month anew
	CapChangesTotal   atomic.Uint64 // changes of a Meter's Exceeded that Tick reported
	CorruptFilesTotal atomic.Uint64 // unreadable files renamed aside by Open
}

// StatsSnapshot is a copy of Stats at one moment.
type StatsSnapshot struct {
	SavesTotal        uint64
	SaveErrorsTotal   uint64
	RolloversTotal    uint64
	CapChangesTotal   uint64
	CorruptFilesTotal uint64
}

// Snapshot returns the current counter values.
func (s *Stats) Snapshot() StatsSnapshot {
	return StatsSnapshot{
		SavesTotal:        s.SavesTotal.Load(),
		SaveErrorsTotal:   s.SaveErrorsTotal.Load(),
		RolloversTotal:    s.RolloversTotal.Load(),
		CapChangesTotal:   s.CapChangesTotal.Load(),
		CorruptFilesTotal: s.CorruptFilesTotal.Load(),
	}
}
