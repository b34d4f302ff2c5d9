//go:build netns

// SPDX-License-Identifier: MIT

package e2e

import (
	"net"
	"testing"
	"time"

	"monami/testbed"
)

// TestSignalingPathCutMidTransfer blackholes the uplink the signaling
// connection runs on, in the middle of a TCP transfer: the connection must
// move to the other uplink (QUIC migration) without a new session, the
// HA must stop sending on the dead path, and the transfer completes
// byte-exact.
func TestSignalingPathCutMidTransfer(t *testing.T) {
	e := setup(t, testbed.Options{Uplinks: [2]testbed.Uplink{{RateMbit: 100}, {RateMbit: 100}}})
	time.Sleep(2500 * time.Millisecond) // both paths Up and past their dwell
	st := e.mrStatus(t)
	// Cut the uplink signaling runs on (whichever opened first).
	cutN, other := 1, "wan2"
	if st.Signaling.Uplink == "wan2" {
		cutN, other = 2, "wan1"
	}
	sessions := st.Signaling.Sessions
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.transfer(t, net.JoinHostPort(testbed.ServerAddr4, "5003"), 11, 48<<20)
	}()
	time.Sleep(700 * time.Millisecond)
	cut := time.Now()
	e.blackholeUplink(t, cutN, true)
	defer e.blackholeUplink(t, cutN, false)
	var moved time.Duration
	for moved == 0 {
		if time.Since(cut) > 10*time.Second {
			t.Fatalf("signaling did not move off the cut uplink: %+v", e.mrStatus(t).Signaling)
		}
		if s := e.mrStatus(t).Signaling; s.Moves > 0 && s.Uplink == other {
			moved = time.Since(cut)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("signaling moved to %s %v after the cut", other, moved)
	// Detection of a silent path takes up to 1 s, the move itself a round
	// trip or two.
	if moved > 2*time.Second {
		t.Errorf("signaling moved after %v; want within 1 s of the path being declared down", moved)
	}
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("transfer did not complete")
	}
	st = e.mrStatus(t)
	if st.Signaling.Sessions != sessions {
		t.Errorf("the cut made a new session (%d → %d); migration should keep it", sessions, st.Signaling.Sessions)
	}
	if !st.Signaling.Connected {
		t.Error("signaling not connected after the cut")
	}
	// The HA no longer counts the dead path as usable for downlink.
	for _, p := range e.haStatus(t).Peers[0].Paths {
		if int(p.BID) == cutN && p.Up {
			t.Errorf("HA still sends on the removed path %d: %+v", cutN, p)
		}
	}
}

// TestFlappingPath takes uplink wan1 down and up every 500 ms for 8 s under
// a TCP transfer: the path may change state at most once per 2 s, and the
// transfer completes byte-exact.
func TestFlappingPath(t *testing.T) {
	e := setup(t, testbed.Options{Uplinks: [2]testbed.Uplink{{RateMbit: 100}, {RateMbit: 100}}})
	time.Sleep(2500 * time.Millisecond)
	changes := func() uint64 {
		for _, p := range e.mrStatus(t).Tunnel.Paths {
			if p.BID == 1 {
				return p.Changes
			}
		}
		t.Fatal("no path 1")
		return 0
	}
	before := changes()
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.transfer(t, net.JoinHostPort(testbed.ServerAddr4, "5004"), 13, 64<<20)
	}()
	time.Sleep(500 * time.Millisecond)
	const flapFor = 8 * time.Second
	start := time.Now()
	for down := true; time.Since(start) < flapFor; down = !down {
		state := "up"
		if down {
			state = "down"
		}
		if out, err := e.topo.Command(testbed.MR, "ip", "link", "set", "wan1", state).CombinedOutput(); err != nil {
			t.Fatalf("link %s: %v: %s", state, err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	e.topo.Command(testbed.MR, "ip", "link", "set", "wan1", "up").Run()
	n := changes() - before
	t.Logf("path 1 changed state %d times in %v of flapping", n, flapFor)
	if limit := uint64(flapFor/(2*time.Second)) + 1; n > limit {
		t.Errorf("%d state changes in %v; want at most %d (one per 2 s)", n, flapFor, limit)
	}
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("transfer did not complete")
	}
}
