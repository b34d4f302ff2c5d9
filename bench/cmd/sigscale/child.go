// SPDX-License-Identifier: MIT

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// stopGrace is how long a child may take to stop after its stdin closes
// before it is killed.
const stopGrace = 15 * time.Second

// errKilled: a child did not stop within its grace time and was killed.
var errKilled = errors.New("killed")

// child is one re-executed role: commands go to its stdin, JSON lines come
// from its stdout.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan []byte   // stdout, a line at a time; closed at EOF
	done  chan struct{} // closed when the stdout reader has ended
	err   error         // of Wait, once stopped
}

// startChild starts this executable with args. Its stderr is the parent's.
// It is in its own process group (a ^C reaches only the parent, which
// stops it) and gets SIGKILL if the parent dies.
func startChild(name string, args []string, stderr io.Writer) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, stdin: stdin, lines: make(chan []byte, 16), done: make(chan struct{})}
	go c.readLoop(stdout) // owned: stop waits for done
	return c, nil
}

func (c *child) readLoop(stdout io.Reader) {
	defer close(c.done)
	defer close(c.lines)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		c.lines <- append([]byte(nil), sc.Bytes()...)
	}
	// Drain: nobody may be reading any more.
}

// next decodes into v the next line whose "type" is typ, skipping others;
// it fails if the child ends, ctx ends, or timeout passes first.
func (c *child) next(ctx context.Context, typ string, v any, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
			return fmt.Errorf("%s: no %q line within %s", c.name, typ, timeout)
		case line, ok := <-c.lines:
			if !ok {
				return fmt.Errorf("%s exited before its %q line", c.name, typ)
			}
			var head struct {
				Type string `json:"type"`
			}
			if err := json.Unmarshal(line, &head); err != nil {
				return fmt.Errorf("%s: line %q: %w", c.name, line, err)
			}
			if head.Type != typ {
				continue
			}
			if err := json.Unmarshal(line, v); err != nil {
				return fmt.Errorf("%s: %s line: %w", c.name, typ, err)
			}
			return nil
		}
	}
}

// ask sends one command and decodes the answer (a "stats" line) into v.
func (c *child) ask(ctx context.Context, command string, v any) error {
	if _, err := io.WriteString(c.stdin, command+"\n"); err != nil {
		return fmt.Errorf("%s: send %q: %w", c.name, command, err)
	}
	return c.next(ctx, "stats", v, 30*time.Second)
}

// stop closes the child's stdin (it stops and exits), kills it if it has
// not exited within grace, and waits for it. It may be called more than
// once; the first call's result stays.
func (c *child) stop(grace time.Duration) error {
	if c.cmd.ProcessState != nil {
		return c.err
	}
	c.stdin.Close()
	t := time.NewTimer(grace)
	defer t.Stop()
	killed := false
	for drained := false; !drained; {
		select {
		case _, ok := <-c.lines:
			drained = !ok
		case <-t.C:
			if !killed {
				c.cmd.Process.Kill()
				killed = true
			}
		}
	}
	<-c.done
	c.err = c.cmd.Wait()
	if killed {
		c.err = fmt.Errorf("%s did not stop within %s: %w", c.name, grace, errKilled)
	} else if c.err != nil {
		c.err = fmt.Errorf("%s: %w", c.name, c.err)
	}
	return c.err
}
