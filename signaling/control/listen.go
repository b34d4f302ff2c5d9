// SPDX-License-Identifier: MIT

package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultSocket is the mobile router's control socket.
const DefaultSocket = "/run/monami/mr.sock"

// staleProbeTimeout bounds the dial that tells a live socket from a stale
// one.
const staleProbeTimeout = time.Second

// Listen binds the control socket at path, owner-only (mode 0600). It
// creates the parent directory (0755) if it is missing. If path exists, it
// must be a socket that nobody answers on (left by a daemon that died),
// which Listen removes; a socket someone answers on, or anything that is
// not a socket, is an error and is left alone. Closing the listener removes
// the socket file.
//
// On Linux the mode is applied to the socket before it is bound, so the
// file is never reachable with a wider mode, whatever the umask.
func Listen(path string) (*net.UnixListener, error) {
	if path == "" {
		return nil, errors.New("control socket: empty path")
	}
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("control socket directory: %w", err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, fmt.Errorf("control socket directory: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("control socket directory: %w", err)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var cerr error
		if err := c.Control(func(fd uintptr) { cerr = unix.Fchmod(int(fd), 0o600) }); err != nil {
			return err
		}
		return cerr
	}}
	ln, err := lc.Listen(context.Background(), "unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ul, ok := ln.(*net.UnixListener)
	if !ok { // cannot happen for "unix"
		ln.Close()
		return nil, fmt.Errorf("control socket %s: not a unix listener", path)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ul.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ul, nil
}

// removeStale removes path if it is a socket nobody answers on; it is a
// no-op if path does not exist.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("control socket %s: exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, staleProbeTimeout)
	if err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: in use by a running process", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("control socket %s: probe: %w", path, err)
	}
	// Check again right before removing, in case it was replaced.
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("control socket %s: changed while probing", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("control socket: remove stale: %w", err)
	}
	return nil
}
