// SPDX-License-Identifier: MIT

package usage

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
	_ "time/tzdata" // Europe/Berlin on any machine
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var zone = time.FixedZone("UTC+2", 2*3600)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, zone)
	if err != nil {
		panic(err)
	}
	return t
}

// open returns a Store on clk in zone, with file (may be "").
func open(t *testing.T, clk *clock, file string) *Store {
	t.Helper()
	s, err := Open(Options{File: file, Now: clk.now, Location: zone})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wantUsage(t *testing.T, m *Meter, day, month uint64) {
	t.Helper()
	if d, mo := m.Usage(); d != day || mo != month {
		t.Errorf("%s: usage day %d month %d, want %d and %d", m.Name(), d, mo, day, month)
	}
}

func TestRollover(t *testing.T) {
	for _, tc := range []struct {
		name       string
		resetDay   int
		from, to   string
		dayRolls   bool
		monthRolls bool
	}{
		{name: "same day", resetDay: 1, from: "2025-11-23 00:00:00", to: "2025-11-23 23:59:59"},
		{name: "midnight", resetDay: 1, from: "2025-11-23 23:59:59", to: "2025-11-24 00:00:00", dayRolls: true},
		{name: "a second early", resetDay: 1, from: "2025-11-23 12:00:00", to: "2025-11-23 23:59:59.999"},
		{name: "month on day 1", resetDay: 1, from: "2025-11-30 23:59:59", to: "2025-12-01 00:00:00", dayRolls: true, monthRolls: true},
		{name: "new year", resetDay: 1, from: "2025-12-31 22:00:00", to: "2026-01-01 00:00:01", dayRolls: true, monthRolls: true},
		{name: "reset day 15", resetDay: 15, from: "2025-11-14 23:59:59", to: "2025-11-15 00:00:00", dayRolls: true, monthRolls: true},
		{name: "not on day 1 with reset day 15", resetDay: 15, from: "2025-11-30 23:00:00", to: "2025-12-01 01:00:00", dayRolls: true},
		{name: "reset day 15 across the year", resetDay: 15, from: "2025-12-20 10:00:00", to: "2026-01-14 23:59:59", dayRolls: true},
		{name: "reset day 15 in January", resetDay: 15, from: "2025-12-20 10:00:00", to: "2026-01-15 00:00:00", dayRolls: true, monthRolls: true},
		{name: "reset day 28 in February", resetDay: 28, from: "2026-02-27 12:00:00", to: "2026-02-28 00:00:00", dayRolls: true, monthRolls: true},
		{name: "reset day 28 in March", resetDay: 28, from: "2026-02-28 12:00:00", to: "2026-03-27 23:00:00", dayRolls: true},
		{name: "a month later", resetDay: 28, from: "2026-02-28 12:00:00", to: "2026-03-28 00:00:00", dayRolls: true, monthRolls: true},
		{name: "a year later", resetDay: 5, from: "2025-03-05 12:00:00", to: "2026-03-04 12:00:00", dayRolls: true, monthRolls: true},
		{name: "reset day 0 means 1", resetDay: 0, from: "2025-11-30 23:59:59", to: "2025-12-01 00:00:00", dayRolls: true, monthRolls: true},
		{name: "reset day 31 means 28", resetDay: 31, from: "2025-11-27 23:59:59", to: "2025-11-28 00:00:00", dayRolls: true, monthRolls: true},
		{name: "clock back a day", resetDay: 1, from: "2025-11-23 12:00:00", to: "2025-11-22 12:00:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, to := at(tc.from), at(tc.to)
			if tc.to == "2025-11-23 23:59:59.999" {
				to = at("2025-11-23 23:59:59").Add(999 * time.Millisecond)
			}
			clk := &clock{t: from}
			s := open(t, clk, "")
			m := s.Meter("wan1", Caps{ResetDay: tc.resetDay})
			m.Add(1000)
			s.Tick()
			wantUsage(t, m, 1000, 1000)
			clk.set(to)
			m.Add(1) // before the Tick: counted in the old windows
			s.Tick()
			day, month := uint64(1001), uint64(1001)
			if tc.dayRolls {
				day = 0
			}
			if tc.monthRolls {
				month = 0
			}
			wantUsage(t, m, day, month)
			rolls := uint64(0)
			if tc.dayRolls || tc.monthRolls {
				rolls = 1
			}
			if got := s.Stats().Snapshot().RolloversTotal; got != rolls {
				t.Errorf("%d rollovers, want %d", got, rolls)
			}
			m.Add(5)
			wantUsage(t, m, day+5, month+5)
		})
	}
}

// TestRolloverDST: days start at local midnight, also around daylight
// saving time changes (Berlin: 23-hour and 25-hour days).
func TestRolloverDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		start, last  time.Time // last is the day's last nanosecond
		wantDayHours float64
	}{
		{name: "spring", start: time.Date(2026, 3, 29, 0, 0, 0, 0, berlin), wantDayHours: 23},
		{name: "autumn", start: time.Date(2026, 10, 25, 0, 0, 0, 0, berlin), wantDayHours: 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := time.Date(tc.start.Year(), tc.start.Month(), tc.start.Day()+1, 0, 0, 0, 0, berlin)
			if h := next.Sub(tc.start).Hours(); h != tc.wantDayHours {
				t.Fatalf("the day has %v hours", h)
			}
			clk := &clock{t: tc.start}
			s, _ := Open(Options{Now: clk.now, Location: berlin})
			m := s.Meter("wan1", Caps{})
			m.Add(7)
			clk.set(next.Add(-time.Nanosecond))
			s.Tick()
			wantUsage(t, m, 7, 7)
			clk.set(next)
			s.Tick()
			wantUsage(t, m, 0, 7)
		})
	}
}

func TestExceeded(t *testing.T) {
	clk := &clock{t: at("2025-11-23 10:00:00")}
	s := open(t, clk, "")
	daily := s.Meter("daily", Caps{Daily: 1000})
	monthly := s.Meter("monthly", Caps{Monthly: 1500})
	free := s.Meter("free", Caps{})
	if got := s.Tick(); got != nil {
		t.Fatalf("first Tick reported %v", got)
	}

	daily.Add(999)
	monthly.Add(999)
	free.Add(1 << 40)
	if got := s.Tick(); got != nil || daily.Exceeded() {
		t.Fatalf("below the cap: %v, exceeded %v", got, daily.Exceeded())
	}
	daily.Add(1)
	if daily.Exceeded() {
		t.Error("exceeded before the Tick")
	}
	if got := s.Tick(); !slices.Equal(got, []string{"daily"}) || !daily.Exceeded() {
		t.Fatalf("at the cap: Tick %v, exceeded %v", got, daily.Exceeded())
	}
	if got := s.Tick(); got != nil {
		t.Fatalf("Tick reported %v again", got)
	}
	if free.Exceeded() || monthly.Exceeded() {
		t.Error("exceeded without reaching a cap")
	}

	// The next day: the daily cap clears; the monthly one is reached
	// across days.
	clk.set(at("2025-11-24 00:00:00"))
	monthly.Add(501)
	if got := s.Tick(); !slices.Equal(got, []string{"daily", "monthly"}) || daily.Exceeded() || !monthly.Exceeded() {
		t.Fatalf("next day: Tick %v, daily %v, monthly %v", got, daily.Exceeded(), monthly.Exceeded())
	}
	clk.set(at("2025-11-30 23:00:00"))
	if got := s.Tick(); got != nil || !monthly.Exceeded() {
		t.Fatalf("later that month: Tick %v, monthly %v", got, monthly.Exceeded())
	}
	clk.set(at("2025-12-01 00:00:00"))
	if got := s.Tick(); !slices.Equal(got, []string{"monthly"}) || monthly.Exceeded() {
		t.Fatalf("next month: Tick %v, monthly %v", got, monthly.Exceeded())
	}

	// New caps apply at once, and the next Tick reports the change.
	free.Add(10)
	if m := s.Meter("free", Caps{Daily: 10}); m != free || !free.Exceeded() {
		t.Fatalf("caps lowered: same meter %v, exceeded %v", m == free, free.Exceeded())
	}
	if got := s.Tick(); !slices.Equal(got, []string{"free"}) {
		t.Fatalf("caps lowered: Tick %v", got)
	}
	if got := s.Stats().Snapshot().CapChangesTotal; got != 5 {
		t.Errorf("%d cap changes, want 5", got)
	}
}

// TestExceededTicker: with Tick every 250 ms, the change is reported
// within 250 ms of the cap being crossed (on the bubble's fake clock).
func TestExceededTicker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := Open(Options{Location: time.UTC}) // time.Now: the bubble's clock
		m := s.Meter("cell", Caps{Daily: 1 << 20})
		var crossed time.Time
		go func() { // traffic: 64 KiB every 100 ms, 1 MiB after 1.6 s
			for range 16 {
				time.Sleep(100 * time.Millisecond)
				m.Add(64 << 10)
			}
			crossed = time.Now()
		}()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			<-tick.C
			if got := s.Tick(); got != nil {
				synctest.Wait()
				if lag := time.Since(crossed); crossed.IsZero() || lag > 250*time.Millisecond {
					t.Fatalf("reported %v after %v (crossed at %v)", got, lag, crossed)
				}
				break
			}
		}
		// At midnight (the bubble starts at 2000-01-01 00:00 UTC) the day
		// starts anew and the cap clears.
		for {
			<-tick.C
			if got := s.Tick(); got != nil {
				if now := time.Now().UTC(); now.Hour() != 0 || now.Minute() != 0 || now.Second() != 0 || m.Exceeded() {
					t.Fatalf("cleared at %v, exceeded %v", now, m.Exceeded())
				}
				break
			}
		}
	})
}

func TestSaveOpen(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "state", "usage.json")
	clk := &clock{t: at("2025-11-23 10:00:00")}
	s := open(t, clk, file)
	wan := s.Meter("wan1", Caps{ResetDay: 15})
	cell := s.Meter("cell", Caps{Daily: 100})
	wan.Add(12345)
	cell.Add(100)
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(file)); di.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", di.Mode().Perm())
	}
	first, _ := os.ReadFile(file)

	// Unchanged: not written again.
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().Snapshot().SavesTotal; n != 1 {
		t.Errorf("%d saves, want 1", n)
	}

	// A restart the same day keeps both counts; an exceeded cap is
	// exceeded at once, and the first Tick reports it.
	clk.set(at("2025-11-23 18:00:00"))
	s2 := open(t, clk, file)
	cell2 := s2.Meter("cell", Caps{Daily: 100})
	wantUsage(t, cell2, 100, 100)
	if !cell2.Exceeded() {
		t.Error("restored over its cap but not exceeded")
	}
	if got := s2.Tick(); !slices.Equal(got, []string{"cell"}) {
		t.Errorf("first Tick after the restart: %v", got)
	}
	// Unclaimed records are kept by Save.
	if err := s2.Save(); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(file); !bytes.Equal(again, first) {
		t.Errorf("the file changed:\n%s\nwas\n%s", again, first)
	}

	// A restart the next day starts the day at zero and keeps the month;
	// on the reset day the month starts at zero too.
	clk.set(at("2025-11-24 09:00:00"))
	s3 := open(t, clk, file)
	wan3 := s3.Meter("wan1", Caps{ResetDay: 15})
	wantUsage(t, wan3, 0, 12345)
	wan3.Add(5)
	if err := s3.Save(); err != nil {
		t.Fatal(err)
	}
	clk.set(at("2025-12-15 00:00:01"))
	s4 := open(t, clk, file)
	wantUsage(t, s4.Meter("wan1", Caps{ResetDay: 15}), 0, 0)
	// cell's record was last written on Nov 23: 32 days later it is
	// dropped.
	if err := s4.Save(); err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, file)
	if len(recs) != 1 || recs[0].Name != "wan1" {
		t.Errorf("records %+v, want wan1 only", recs)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "state", "*.tmp*")); len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

func readRecords(t *testing.T, file string) []record {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestRestore: the windows of a file apply as they stand relative to now.
func TestRestore(t *testing.T) {
	for _, tc := range []struct {
		name              string
		rec               record
		now               string
		resetDay          int
		wantDay, wantMon  uint64
		wantDayStart      string
		wantMonthStartDay int
	}{
		{name: "current", rec: record{DayStart: at("2025-11-23 00:00:00"), MonthStart: at("2025-11-01 00:00:00"), BytesToday: 10, BytesMonth: 30},
			now: "2025-11-23 23:00:00", resetDay: 1, wantDay: 10, wantMon: 30, wantDayStart: "2025-11-23 00:00:00", wantMonthStartDay: 1},
		{name: "next day", rec: record{DayStart: at("2025-11-23 00:00:00"), MonthStart: at("2025-11-01 00:00:00"), BytesToday: 10, BytesMonth: 30},
			now: "2025-11-24 00:00:00", resetDay: 1, wantDay: 0, wantMon: 30, wantDayStart: "2025-11-24 00:00:00", wantMonthStartDay: 1},
		{name: "next month", rec: record{DayStart: at("2025-11-30 00:00:00"), MonthStart: at("2025-11-01 00:00:00"), BytesToday: 10, BytesMonth: 30},
			now: "2025-12-01 00:00:00", resetDay: 1, wantDay: 0, wantMon: 0, wantDayStart: "2025-12-01 00:00:00", wantMonthStartDay: 1},
		{name: "clock behind the file", rec: record{DayStart: at("2025-11-23 00:00:00"), MonthStart: at("2025-11-01 00:00:00"), BytesToday: 10, BytesMonth: 30},
			now: "1970-01-01 00:00:00", resetDay: 1, wantDay: 10, wantMon: 30, wantDayStart: "2025-11-23 00:00:00", wantMonthStartDay: 1},
		{name: "day larger than month", rec: record{DayStart: at("2025-11-23 00:00:00"), MonthStart: at("2025-11-01 00:00:00"), BytesToday: 50, BytesMonth: 30},
			now: "2025-11-23 12:00:00", resetDay: 1, wantDay: 50, wantMon: 50, wantDayStart: "2025-11-23 00:00:00", wantMonthStartDay: 1},
		{name: "reset day moved later", rec: record{DayStart: at("2025-11-23 00:00:00"), MonthStart: at("2025-11-01 00:00:00"), BytesToday: 10, BytesMonth: 30},
			now: "2025-11-23 12:00:00", resetDay: 20, wantDay: 10, wantMon: 10, wantDayStart: "2025-11-23 00:00:00", wantMonthStartDay: 20},
		{name: "reset day moved earlier", rec: record{DayStart: at("2025-11-23 00:00:00"), MonthStart: at("2025-11-20 00:00:00"), BytesToday: 10, BytesMonth: 30},
			now: "2025-11-23 12:00:00", resetDay: 1, wantDay: 10, wantMon: 30, wantDayStart: "2025-11-23 00:00:00", wantMonthStartDay: 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: at(tc.now)}
			s := newStore(Options{Now: clk.now, Location: zone})
			tc.rec.Name = "wan1"
			s.load([]record{tc.rec})
			m := s.Meter("wan1", Caps{ResetDay: tc.resetDay})
			wantUsage(t, m, tc.wantDay, tc.wantMon)
			if !m.dayStart.Equal(at(tc.wantDayStart)) || m.monthStart.Day() != tc.wantMonthStartDay {
				t.Errorf("day from %v, month from %v", m.dayStart, m.monthStart)
			}
		})
	}
}

func TestCorruptFile(t *testing.T) {
	valid := `{"version": 1, "uplinks": [{"name": "wan1", "day_start": "2025-11-23T00:00:00+02:00", "month_start": "2025-11-01T00:00:00+02:00", "bytes_today": 1, "bytes_month": 2}]}`
	for _, tc := range []struct {
		name    string
		content []byte
		dir     bool
	}{
		{name: "garbage", content: []byte("\x00\x01 not json")},
		{name: "truncated", content: []byte(valid[:len(valid)/2])},
		{name: "empty", content: nil},
		{name: "foreign JSON", content: []byte(`{"servers": ["a", "b"]}`)},
		{name: "foreign JSON with a version", content: []byte(`{"version": 1, "servers": ["a"]}`)},
		{name: "future version", content: []byte(`{"version": 2, "uplinks": [], "more": true}`)},
		{name: "no uplinks", content: []byte(`{"version": 1}`)},
		{name: "two records of one uplink", content: []byte(`{"version": 1, "uplinks": [` + valid[28:len(valid)-2] + `, ` + valid[28:len(valid)-2] + `]}`)},
		{name: "no window", content: []byte(`{"version": 1, "uplinks": [{"name": "wan1", "bytes_today": 1}]}`)},
		{name: "no name", content: []byte(`{"version": 1, "uplinks": [{"day_start": "2025-11-23T00:00:00Z", "month_start": "2025-11-01T00:00:00Z"}]}`)},
		{name: "negative count", content: []byte(strings.Replace(valid, `"bytes_today": 1`, `"bytes_today": -1`, 1))},
		{name: "trailing data", content: []byte(valid + "{}")},
		{name: "too large", content: append([]byte(valid), bytes.Repeat([]byte(" "), maxFile)...)},
		{name: "a directory", dir: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "usage.json")
			if tc.dir {
				if err := os.Mkdir(file, 0o700); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(file, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			clk := &clock{t: at("2025-11-23 10:00:00")}
			s := open(t, clk, file)
			if n := s.Stats().Snapshot().CorruptFilesTotal; n != 1 {
				t.Errorf("%d corrupt files, want 1", n)
			}
			if !tc.dir {
				if aside, err := os.ReadFile(file + ".corrupt"); err != nil || !bytes.Equal(aside, tc.content) {
					t.Errorf("not moved aside intact: %v", err)
				}
			}
			m := s.Meter("wan1", Caps{})
			wantUsage(t, m, 0, 0)
			m.Add(3)
			if err := s.Save(); err != nil {
				t.Fatal(err)
			}
			if recs := readRecords(t, file); len(recs) != 1 || recs[0].BytesToday != 3 {
				t.Errorf("saved %+v", recs)
			}
		})
	}
	// The valid file itself is read.
	file := filepath.Join(t.TempDir(), "usage.json")
	os.WriteFile(file, []byte(valid), 0o600)
	clk := &clock{t: at("2025-11-23 10:00:00")}
	s := open(t, clk, file)
	wantUsage(t, s.Meter("wan1", Caps{}), 1, 2)
	if n := s.Stats().Snapshot().CorruptFilesTotal; n != 0 {
		t.Errorf("%d corrupt files", n)
	}
}

func TestOpenMissing(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o600)
	for _, tc := range []struct{ name, file string }{
		{name: "missing file", file: filepath.Join(t.TempDir(), "usage.json")},
		{name: "missing directory", file: filepath.Join(t.TempDir(), "none", "usage.json")},
		{name: "a file in the way", file: filepath.Join(blocker, "usage.json")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(Options{File: tc.file})
			if err != nil {
				t.Fatal(err)
			}
			if n := s.Stats().Snapshot().CorruptFilesTotal; n != 0 {
				t.Errorf("%d corrupt files", n)
			}
		})
	}
}

func TestOpenFIFO(t *testing.T) {
	file := filepath.Join(t.TempDir(), "usage.json")
	if err := syscall.Mkfifo(file, 0o600); err != nil {
		t.Skip("no FIFO:", err)
	}
	s, err := Open(Options{File: file}) // must not block
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().Snapshot().CorruptFilesTotal; n != 1 {
		t.Errorf("%d corrupt files, want 1", n)
	}
	if fi, err := os.Stat(file + ".corrupt"); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was not moved aside: %v", err)
	}
}

func TestOpenUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	file := filepath.Join(t.TempDir(), "usage.json")
	os.WriteFile(file, []byte("{}"), 0o000)
	if _, err := Open(Options{File: file}); err == nil {
		t.Error("opened an unreadable file")
	}
}

func TestSaveError(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o600)
	clk := &clock{t: at("2025-11-23 10:00:00")}
	s := open(t, clk, filepath.Join(blocker, "usage.json"))
	s.Meter("wan1", Caps{}).Add(1)
	if err := s.Save(); err == nil {
		t.Fatal("saved below a regular file")
	}
	if n := s.Stats().Snapshot().SaveErrorsTotal; n != 1 {
		t.Errorf("%d save errors, want 1", n)
	}
	// In memory only: Save does nothing.
	if err := open(t, clk, "").Save(); err != nil {
		t.Error(err)
	}
}

func TestConcurrentAdd(t *testing.T) {
	clk := &clock{t: at("2025-11-23 10:00:00")}
	s := open(t, clk, filepath.Join(t.TempDir(), "usage.json"))
	m := s.Meter("wan1", Caps{Daily: 1 << 62})
	const goroutines, adds = 8, 20000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range adds {
				m.Add(uint64(g + 1))
			}
		})
	}
	done := make(chan struct{})
	var reader sync.WaitGroup
	reader.Go(func() { // the control loop and readers, meanwhile
		for {
			select {
			case <-done:
				return
			default:
			}
			s.Tick()
			m.Usage()
			m.Exceeded()
			if err := s.Save(); err != nil {
				t.Error(err)
				return
			}
			s.Meter("wan1", Caps{Daily: 1 << 62})
		}
	})
	wg.Wait()
	close(done)
	reader.Wait()
	want := uint64(adds * goroutines * (goroutines + 1) / 2)
	wantUsage(t, m, want, want)
}

func TestAddAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	clk := &clock{t: at("2025-11-23 10:00:00")}
	m := open(t, clk, "").Meter("wan1", Caps{Daily: 1})
	if n := testing.AllocsPerRun(1000, func() {
		m.Add(1500)
		_ = m.Exceeded()
	}); n != 0 {
		t.Errorf("Add and Exceeded allocate %v times", n)
	}
	var nilMeter *Meter
	if n := testing.AllocsPerRun(100, func() { nilMeter.Add(1) }); n != 0 {
		t.Errorf("nil Add allocates %v times", n)
	}
}

func TestNilMeter(t *testing.T) {
	var m *Meter
	m.Add(5)
	if d, mo := m.Usage(); d != 0 || mo != 0 || m.Exceeded() || m.Name() != "" {
		t.Error("a nil Meter counted")
	}
}

func TestMeterIdentity(t *testing.T) {
	clk := &clock{t: at("2025-11-23 10:00:00")}
	s := open(t, clk, "")
	a := s.Meter("wan1", Caps{})
	if s.Meter("wan1", Caps{Daily: 5}) != a || s.Meter("wan2", Caps{}) == a {
		t.Error("Meter identity by name")
	}
}

func BenchmarkAdd(b *testing.B) {
	s, _ := Open(Options{})
	m := s.Meter("wan1", Caps{Daily: 1 << 40})
	b.ReportAllocs()
	for b.Loop() {
		m.Add(1500)
	}
}

func BenchmarkExceeded(b *testing.B) {
	s, _ := Open(Options{})
	m := s.Meter("wan1", Caps{Daily: 1 << 40})
	b.ReportAllocs()
	for b.Loop() {
		if m.Exceeded() {
			b.Fatal("exceeded")
		}
	}
}

// BenchmarkTick: the control loop's cost per Tick with 8 uplinks.
func BenchmarkTick(b *testing.B) {
	s, _ := Open(Options{Location: time.UTC})
	for i := range 8 {
		s.Meter(string(rune('a'+i)), Caps{Daily: 1 << 40, ResetDay: i + 1})
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Tick()
	}
}
