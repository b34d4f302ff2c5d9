// SPDX-License-Identifier: MIT

package control

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestListen(t *testing.T) {
	t.Run("mode and parent", func(t *testing.T) {
		old := syscall.Umask(0) // the widest umask must not widen the socket
		defer syscall.Umask(old)
		path := filepath.Join(t.TempDir(), "a", "b", "mr.sock")
		ln, err := Listen(path)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
			t.Fatalf("socket mode %v, want socket 0600", fi.Mode())
		}
		di, err := os.Stat(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if di.Mode().Perm() != 0o755 {
			t.Fatalf("parent mode %v, want 0755", di.Mode())
		}
		ln.Close()
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("socket file after Close: %v", err)
		}
	})

	t.Run("stale socket replaced", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "mr.sock")
		old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		old.SetUnlinkOnClose(false) // a daemon that died leaves its socket
		old.Close()
		if _, err := os.Lstat(path); err != nil {
			t.Fatalf("no stale socket to test with: %v", err)
		}
		ln, err := Listen(path)
		if err != nil {
			t.Fatalf("Listen over a stale socket: %v", err)
		}
		defer ln.Close()
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatalf("dial the new socket: %v", err)
		}
		c.Close()
	})

	t.Run("live socket kept", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "mr.sock")
		live, err := Listen(path)
		if err != nil {
			t.Fatal(err)
		}
		defer live.Close()
		if ln, err := Listen(path); err == nil {
			ln.Close()
			t.Fatal("Listen took over a socket someone answers on")
		}
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatalf("the live socket was disturbed: %v", err)
		}
		c.Close()
	})

	for _, tc := range []struct {
		name   string
		create func(path string) error
	}{
		{name: "regular file refused", create: func(p string) error { return os.WriteFile(p, []byte("keep me"), 0o644) }},
		{name: "directory refused", create: func(p string) error { return os.Mkdir(p, 0o755) }},
		{name: "symlink refused", create: func(p string) error { return os.Symlink("/dev/null", p) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mr.sock")
			if err := tc.create(path); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Lstat(path)
			if ln, err := Listen(path); err == nil {
				ln.Close()
				t.Fatal("Listen replaced a non-socket")
			}
			after, err := os.Lstat(path)
			if err != nil || after.Mode() != before.Mode() {
				t.Fatalf("path changed: %v, %v", after, err)
			}
		})
	}

	t.Run("empty path", func(t *testing.T) {
		if _, err := Listen(""); err == nil {
			t.Fatal("Listen(\"\") succeeded")
		}
	})
}

// asUID runs fn on a locked OS thread whose effective uid (and so fsuid) is
// uid, and restores root afterwards. It switches the thread only, with the
// raw system call: syscall.Setresuid would switch every thread of the
// process. If the thread cannot be restored it stays locked and dies with
// the goroutine.
func asUID(uid int, fn func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		const keep = ^uintptr(0) // -1: leave unchanged
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, keep, uintptr(uid), keep); e != 0 {
			runtime.UnlockOSThread()
			errc <- e
			return
		}
		fn()
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, keep, 0, keep); e != 0 {
			errc <- e // the thread stays locked
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	return <-errc
}

// dialAs returns a dial function whose connections are made as uid, so
// that the server reads uid with SO_PEERCRED.
func dialAs(path string, uid int) func(context.Context) (net.Conn, error) {
	return func(context.Context) (net.Conn, error) {
		var fd int
		var err error
		if serr := asUID(uid, func() {
			fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				if err = unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
					unix.Close(fd)
				}
			}
		}); serr != nil {
			return nil, serr
		}
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: "unix", Err: err}
		}
		f := os.NewFile(uintptr(fd), "control")
		defer f.Close()
		return net.FileConn(f)
	}
}

// openDirs makes the test's temporary directories searchable by others.
func openDirs(t *testing.T, path string) {
	t.Helper()
	for d := filepath.Dir(path); d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

const otherUID = 4242

// TestSocketOwnerOnly: another uid cannot even connect to the 0600 socket.
func TestSocketOwnerOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to act as another uid")
	}
	ts := startServer(t, ServerOptions{})
	openDirs(t, ts.path)
	c := newClient(dialAs(ts.path, otherUID))
	defer c.Close()
	_, _, err := c.Paths(testCtx(t))
	if !errors.Is(err, syscall.EACCES) {
		t.Fatalf("another uid on a 0600 socket: %v, want EACCES", err)
	}
	// The same with the mode opened: the mode was what refused it.
	if err := os.Chmod(ts.path, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Paths(testCtx(t)); err != nil {
		t.Fatalf("another uid on a 0666 socket: %v", err)
	}
}

// TestOtherRequester runs a second requester with a real different uid
// (the server reads it with SO_PEERCRED) against root.
func TestOtherRequester(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to act as another uid")
	}
	ts := startServer(t, ServerOptions{})
	openDirs(t, ts.path)
	if err := os.Chmod(ts.path, 0o666); err != nil { // the operator opened the socket
		t.Fatal(err)
	}
	ctx := testCtx(t)
	other := newClient(dialAs(ts.path, otherUID))
	defer other.Close()

	rootP, err := ts.client.AddPolicy(ctx, []byte("[[rule]]"), 0)
	if err != nil {
		t.Fatal(err)
	}
	theirP, err := other.AddPolicy(ctx, []byte("[[rule]]"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := LocalRequester(otherUID); ts.backend.lastCaller() != want || theirP.Requester != want.Name {
		t.Fatalf("requester %+v / %q, want %+v", ts.backend.lastCaller(), theirP.Requester, want)
	}
	if rootP.Requester != "uid:0" {
		t.Fatalf("root's policy owned by %q", rootP.Requester)
	}
	// The other requester sees only its own policy, may not list all, and
	// may not remove root's.
	list, err := other.ListPolicies(ctx, false)
	if err != nil || len(list) != 1 || list[0].ID != theirP.ID {
		t.Fatalf("other's list %+v, %v", list, err)
	}
	if _, err := other.ListPolicies(ctx, true); !errors.Is(err, ErrForbidden) {
		t.Fatalf("other listing all: %v", err)
	}
	err = other.RemovePolicy(ctx, rootP.ID)
	if ae, ok := errors.AsType[*APIError](err); !ok || ae.Status != http.StatusForbidden {
		t.Fatalf("other removing root's policy: %v", err)
	}
	// Root lists everything and may remove the other's policy.
	all, err := ts.client.ListPolicies(ctx, true)
	if err != nil || len(all) != 2 {
		t.Fatalf("root's list %+v, %v", all, err)
	}
	if err := ts.client.RemovePolicy(ctx, theirP.ID); err != nil {
		t.Fatalf("root removing the other's policy: %v", err)
	}
}
