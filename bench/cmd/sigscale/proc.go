// SPDX-License-Identifier: MIT

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// procStats are one process's resource figures at one moment.
type procStats struct {
	// UnixNano is when they were taken.
	UnixNano int64 `json:"unix_ns"`
	// RSSBytes is VmRSS of /proc/self/status.
	RSSBytes uint64 `json:"rss_bytes"`
	// HeapAllocBytes, HeapInuseBytes and StackInuseBytes are from
	// runtime.MemStats.
	HeapAllocBytes  uint64 `json:"heap_alloc_bytes"`
	HeapInuseBytes  uint64 `json:"heap_inuse_bytes"`
	StackInuseBytes uint64 `json:"stack_inuse_bytes"`
	Goroutines      int    `json:"goroutines"`
	// CPUUserNs and CPUSysNs are getrusage(RUSAGE_SELF).
	CPUUserNs int64 `json:"cpu_user_ns"`
	CPUSysNs  int64 `json:"cpu_sys_ns"`
}

// cpu is the process's user plus system CPU time.
func (p procStats) cpu() time.Duration { return time.Duration(p.CPUUserNs + p.CPUSysNs) }

func (p procStats) at() time.Time { return time.Unix(0, p.UnixNano) }

// readProc takes the process's figures now.
func readProc() (procStats, error) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p := procStats{
		UnixNano:        time.Now().UnixNano(),
		HeapAllocBytes:  ms.HeapAlloc,
		HeapInuseBytes:  ms.HeapInuse,
		StackInuseBytes: ms.StackInuse,
		Goroutines:      runtime.NumGoroutine(),
	}
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return p, fmt.Errorf("getrusage: %w", err)
	}
	p.CPUUserNs, p.CPUSysNs = ru.Utime.Nano(), ru.Stime.Nano()
	rss, err := vmRSS()
	if err != nil {
		return p, err
	}
	p.RSSBytes = rss
	return p, nil
}

// vmRSS returns the resident set size of this process.
func vmRSS() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("VmRSS line %q", bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS: %w", err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no VmRSS in /proc/self/status")
}

// machineCPU is the machine's busy CPU time (all cores) at one moment.
type machineCPU struct {
	at   time.Time
	busy time.Duration
}

// userHZ is the unit of /proc/stat: USER_HZ, 100 on Linux.
const userHZ = 100

// readMachineCPU reads the first line of /proc/stat: busy is everything
// but idle and iowait.
func readMachineCPU() (machineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 8 || string(f[0]) != "cpu" {
		return machineCPU{}, fmt.Errorf("/proc/stat: first line %q", line)
	}
	var ticks uint64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest and guest_nice are in user and nice already
			break
		}
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return machineCPU{}, fmt.Errorf("/proc/stat: %w", err)
		}
		ticks += n
	}
	return machineCPU{at: time.Now(), busy: time.Duration(ticks) * time.Second / userHZ}, nil
}

// raiseNoFile makes sure the process may open n files, raising the hard
// limit too if it must (which needs root).
func raiseNoFile(n uint64) error {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if rl.Cur >= n {
		return nil
	}
	rl.Cur = n
	rl.Max = max(rl.Max, n)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE to %d (run as root or raise ulimit -n): %w", n, err)
	}
	return nil
}

// lineWriter writes JSON lines for the parent, one at a time.
type lineWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newLineWriter(w io.Writer) *lineWriter { return &lineWriter{enc: json.NewEncoder(w)} }

func (w *lineWriter) write(v any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.enc.Encode(v)
}

// readCommands sends each line of r to cmds and closes it at EOF or when
// done is closed.
func readCommands(r io.Reader, cmds chan<- string, done <-chan struct{}) {
	defer close(cmds)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		select {
		case cmds <- sc.Text():
		case <-done:
			return
		}
	}
}
