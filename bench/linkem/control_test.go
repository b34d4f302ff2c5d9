// SPDX-License-Identifier: MIT

package linkem

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestControl(t *testing.T) {
	f := &fakeEmu{start: time.Now()}
	path := filepath.Join(t.TempDir(), "c.sock")
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := ServeControl(ctx, path, f); err != nil {
			t.Error(err)
		}
	})
	defer func() { cancel(); wg.Wait() }()
	var err error
	for range 100 {
		if _, err = Command(path, "params"); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, cmd, want, err string
	}{
		{name: "set both", cmd: "set both delay=20ms", want: "ok"},
		{name: "set one", cmd: "set b2a loss=5%", want: "ok"},
		{name: "params", cmd: "params", want: `{"a2b":"delay=20ms","b2a":"delay=20ms loss=5%"}`},
		{name: "bad dir", cmd: "set sideways delay=1ms", err: "direction"},
		{name: "bad key", cmd: "set a2b color=red", err: "unknown parameter"},
		{name: "bad command", cmd: "reboot", err: "unknown command"},
		{name: "short set", cmd: "set a2b", err: "want set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Command(path, tt.cmd)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("Command(%q) err = %v, want %q", tt.cmd, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Command(%q) = %q, %v; want %q", tt.cmd, got, err, tt.want)
			}
		})
	}
	s, err := QueryStats(path)
	if err != nil || s.AtoB.Drops == nil {
		t.Errorf("QueryStats = %+v, %v", s, err)
	}
}
