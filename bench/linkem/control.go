// SPDX-License-Identifier: MIT

package linkem

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// Controlled is what the control socket drives: an Emulator.
type Controlled interface {
	Updater
	Stats(d Dir) *Stats
	Elapsed() time.Duration
}

// StatsReply is the answer to the "stats" command.
type StatsReply struct {
	ElapsedMS int64         `json:"elapsed_ms"`
	AtoB      StatsSnapshot `json:"a2b"`
	BtoA      StatsSnapshot `json:"b2a"`
}

// ServeControl serves the line protocol on a unix socket at path until ctx
// ends. One command per line, one reply line each:
//
//	set <a2b|b2a|both> key=value...   → ok | error: <why>
//	params                            → {"a2b":"<spec>","b2a":"<spec>"}
//	stats                             → StatsReply as JSON
//
// A stale socket file at path is replaced.
func ServeControl(ctx context.Context, path string, c Controlled) error {
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	defer func() {
		mu.Lock()
		for cn := range conns {
			cn.Close()
		}
		mu.Unlock()
		wg.Wait()
		os.Remove(path)
	}()
	for {
		cn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("control socket: %w", err)
		}
		mu.Lock()
		conns[cn] = true
		mu.Unlock()
		wg.Go(func() {
			defer func() {
				mu.Lock()
				delete(conns, cn)
				mu.Unlock()
				cn.Close()
			}()
			sc := bufio.NewScanner(cn)
			for sc.Scan() {
				reply := handleControl(c, sc.Text())
				if _, err := fmt.Fprintln(cn, reply); err != nil {
					return
				}
			}
		})
	}
}

func handleControl(c Controlled, line string) string {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "error: empty command"
	}
	switch f[0] {
	case "set":
		if len(f) < 3 {
			return "error: want set <a2b|b2a|both> key=value..."
		}
		d, err := ParseDir(f[1])
		if err != nil {
			return "error: " + err.Error()
		}
		if err := c.Update(d, strings.Join(f[2:], " ")); err != nil {
			return "error: " + err.Error()
		}
		return "ok"
	case "params":
		pa, pb := c.Params(AtoB), c.Params(BtoA)
		b, _ := json.Marshal(map[string]string{"a2b": pa.String(), "b2a": pb.String()})
		return string(b)
	case "stats":
		b, _ := json.Marshal(StatsReply{
			ElapsedMS: c.Elapsed().Milliseconds(),
			AtoB:      c.Stats(AtoB).Snapshot(), BtoA: c.Stats(BtoA).Snapshot(),
		})
		return string(b)
	}
	return fmt.Sprintf("error: unknown command %q (set, params, stats)", f[0])
}

// Command sends one command to the control socket at path and returns the
// reply line; a reply starting with "error: " becomes an error.
func Command(path, cmd string) (string, error) {
	cn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return "", fmt.Errorf("control %s: %w", path, err)
	}
	defer cn.Close()
	cn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintln(cn, cmd); err != nil {
		return "", fmt.Errorf("control %s: %w", path, err)
	}
	r := bufio.NewReader(cn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("control %s: %w", path, err)
	}
	line = strings.TrimSpace(line)
	if msg, ok := strings.CutPrefix(line, "error: "); ok {
		return "", fmt.Errorf("control %s: %s", path, msg)
	}
	return line, nil
}

// QueryStats asks the control socket at path for the counters.
func QueryStats(path string) (StatsReply, error) {
	var s StatsReply
	line, err := Command(path, "stats")
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		return s, fmt.Errorf("control %s: stats: %w", path, err)
	}
	return s, nil
}
