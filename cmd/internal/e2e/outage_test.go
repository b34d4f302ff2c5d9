//go:build netns

// SPDX-License-Identifier: MIT

package e2e

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"monami/testbed"
)

// TestAllPathsDownThenBack is the drive into a tunnel (reliability
// scenario S05): both uplinks go silent for 5 s, the signaling connection
// with them, then one comes back. The router must not crash or hang,
// must take both paths down, and must carry traffic again within 2 s of
// the first path's return; a TCP transfer open across the outage
// completes byte-exact.
func TestAllPathsDownThenBack(t *testing.T) {
	for _, outage := range []time.Duration{5 * time.Second, 20 * time.Second} {
		t.Run(outage.String(), func(t *testing.T) { allPathsDownThenBack(t, outage) })
	}
}

func allPathsDownThenBack(t *testing.T, outage time.Duration) {
	e := setup(t, testbed.Options{Uplinks: [2]testbed.Uplink{{RateMbit: 100}, {RateMbit: 100}}})
	time.Sleep(2500 * time.Millisecond) // both paths Up and past their dwell

	// An echo stream: a datagram every 20 ms from the LAN host, echoed by
	// the server; lastEcho is when the newest echo came back.
	const echoAddr = testbed.ServerAddr4 + ":5300"
	pc, err := e.topo.ListenPacket(testbed.Server, "udp", echoAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go testbed.Echo(pc)
	uc, err := e.topo.Dial(context.Background(), testbed.LAN, "udp", echoAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	var lastEcho atomic.Int64
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, err := uc.Read(buf); err != nil {
				return
			}
			lastEcho.Store(time.Now().UnixNano())
		}
	}()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	wg.Go(func() {
		var b [8]byte
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := uint64(0); ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			binary.BigEndian.PutUint64(b[:], i)
			uc.Write(b[:])
		}
	})

	// A transfer that is under way when the uplinks go silent.
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		e.transfer(t, testbed.ServerAddr4+":5301", 42, 24<<20)
	})
	time.Sleep(500 * time.Millisecond)
	if time.Since(time.Unix(0, lastEcho.Load())) > 200*time.Millisecond {
		t.Fatal("no echoes before the outage")
	}

	e.blackholeUplink(t, 1, true)
	e.blackholeUplink(t, 2, true)
	time.Sleep(outage)
	for _, p := range e.mrStatus(t).Tunnel.Paths {
		if p.Up {
			t.Errorf("path %d still up after %v of silence on every uplink", p.BID, outage)
		}
	}
	select {
	case <-done:
		t.Fatal("the transfer ended during the outage")
	default:
	}

	back := time.Now()
	e.blackholeUplink(t, 2, false)
	var resumed time.Duration
	for {
		if at := lastEcho.Load(); at > back.UnixNano() {
			resumed = time.Unix(0, at).Sub(back)
			break
		}
		if time.Since(back) > 10*time.Second {
			t.Fatalf("no echo within 10 s of the first uplink's return: %+v", e.mrStatus(t).Tunnel.Paths)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("traffic resumed %v after the first uplink came back", resumed.Round(time.Millisecond))
	if resumed > 2*time.Second {
		t.Errorf("traffic resumed %v after the first uplink came back; want <= 2s", resumed)
	}
	e.blackholeUplink(t, 1, false)
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("the transfer open across the outage did not complete")
	}
}
