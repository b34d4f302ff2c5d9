// SPDX-License-Identifier: MIT

package testbed

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Debug (status) addresses of the daemons, each inside its own namespace.
const (
	MRDebug = "127.0.0.1:9400"
	HADebug = "127.0.0.1:9401"
)

// Daemon is a monami daemon running in a namespace of the topology.
type Daemon struct {
	Role string
	Log  string // path of its log file
	cmd  *exec.Cmd
	done chan error
}

// Start writes cfg to dir and starts bin (monami-mr or monami-ha) with it
// in the namespace of role, logging to dir/<role>.log.
func (t *Topology) Start(role, bin, cfg, dir, debugAddr string, extra ...string) (*Daemon, error) {
	cfgPath := filepath.Join(dir, role+".toml")
	// The configuration's @DIR@ is the daemon's directory: its state and
	// control socket stay with the run.
	cfg = strings.ReplaceAll(cfg, "@DIR@", dir)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, role+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	args := append([]string{bin, "-config", cfgPath, "-debug-addr", debugAddr}, extra...)
	cmd := t.Command(role, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	d := &Daemon{Role: role, Log: logPath, cmd: cmd, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait(); lf.Close() }()
	return d, nil
}

// Stop sends SIGTERM and waits up to 5 s, then kills.
func (d *Daemon) Stop() error {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		return err
	case <-time.After(5 * time.Second):
		d.cmd.Process.Kill()
		return fmt.Errorf("%s did not stop within 5s; killed", d.Role)
	}
}

// Kill kills the daemon at once (a crash) and waits for it.
func (d *Daemon) Kill() {
	d.cmd.Process.Kill()
	<-d.done
}

// Exited reports whether the daemon has exited, and how.
func (d *Daemon) Exited() (bool, error) {
	select {
	case err := <-d.done:
		d.done <- err
		return true, err
	default:
		return false, nil
	}
}

// Dial opens a connection from inside the namespace of role.
func (t *Topology) Dial(ctx context.Context, role, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := t.Do(role, func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen opens a listener inside the namespace of role.
func (t *Topology) Listen(role, network, addr string) (net.Listener, error) {
	var l net.Listener
	err := t.Do(role, func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// ListenPacket opens a packet socket inside the namespace of role.
func (t *Topology) ListenPacket(role, network, addr string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := t.Do(role, func() error {
		var err error
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	return pc, err
}

// Status fetches the JSON status of the daemon of role (debug address addr)
// into v.
func (t *Topology) Status(role, addr string, v any) error {
	tr := &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		return t.Dial(ctx, role, network, a)
	}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/status")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Pid is the process ID of the daemon (of `ip netns exec`, which execs it).
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }
