//go:build netns

// SPDX-License-Identifier: MIT

package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"monami/testbed"
)

// TestSelectedUplinks configures one [[uplink]] that selects interfaces by
// a glob instead of naming them: both wan interfaces become paths, with
// BIDs from the uplink's range, and carry traffic.
func TestSelectedUplinks(t *testing.T) {
	e := setupWith(t, testbed.Options{}, func(cfg string) string {
		i := strings.Index(cfg, "[[uplink]]")
		return cfg[:i] + "[[uplink]]\nname = \"wans\"\nmatch = \"wan*\"\nbid = 10\nmax_links = 4\ntags = [\"wired\"]\n"
	})
	st := e.mrStatus(t)
	bids := map[uint16]string{}
	for _, u := range st.Uplinks {
		bids[u.BID] = u.Name
		if u.BID < 10 || u.BID > 13 || !u.Open {
			t.Errorf("selected uplink %+v: want an open path with a BID in 10..13", u)
		}
	}
	if len(bids) != 2 || !strings.HasPrefix(bids[st.Uplinks[0].BID], "wans/wan") {
		t.Fatalf("uplinks %+v: want wans/wan1 and wans/wan2", st.Uplinks)
	}
	e.transfer(t, net.JoinHostPort(testbed.ServerAddr4, "5005"), 3, 8<<20)
}

// TestDataCapDemotes gives the free uplink wan1 a daily cap of 2 MB, and
// a policy sends TCP the cheapest way: once wan1's usage reaches the cap
// during the transfers, the path must be demoted within a second and the
// transfers finish on wan2, which costs.
func TestDataCapDemotes(t *testing.T) {
	polFile := filepath.Join(t.TempDir(), "cheap.toml")
	pol := "[[rule]]\nname = \"tcp\"\n  [[rule.policy]]\n  name = \"cheapest\"\n  proto = \"tcp\"\n  prefer = [\"cost\"]\n"
	if err := os.WriteFile(polFile, []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	e := setupWith(t, testbed.Options{Uplinks: [2]testbed.Uplink{{RateMbit: 50}, {RateMbit: 50}}}, func(cfg string) string {
		cfg = strings.Replace(cfg, "name = \"wan1\"\n", "name = \"wan1\"\ncap_daily = \"2MB\"\n", 1)
		cfg = strings.Replace(cfg, "name = \"wan2\"\n", "name = \"wan2\"\ncost = 5.0\n", 1)
		return cfg + "\n[policy]\nfiles = [" + strconv.Quote(polFile) + "]\n"
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 4 {
			e.transfer(t, net.JoinHostPort(testbed.ServerAddr4, "5010"), uint64(i), 4<<20)
		}
	}()
	var reached time.Time
	for {
		st := e.mrStatus(t)
		u := st.Uplinks[0]
		if reached.IsZero() && u.BytesToday >= 2_000_000 {
			reached = time.Now()
		}
		demoted := false
		for _, p := range st.Tunnel.Paths {
			if p.BID == 1 {
				demoted = p.Demoted
			}
		}
		if demoted {
			if !reached.IsZero() {
				if d := time.Since(reached); d > time.Second {
					t.Errorf("demoted %v after reaching the cap; want within 1 s", d)
				}
			}
			if !u.CapReached {
				t.Errorf("path demoted but the uplink does not report its cap reached: %+v", u)
			}
			break
		}
		if !reached.IsZero() && time.Since(reached) > 2*time.Second {
			t.Fatalf("usage %d bytes ≥ cap for 2 s and the path is not demoted", u.BytesToday)
		}
		select {
		case <-done:
			if reached.IsZero() {
				t.Fatal("the transfers ended before wan1 reached its cap")
			}
		default:
		}
		time.Sleep(50 * time.Millisecond)
	}
	<-done
}
