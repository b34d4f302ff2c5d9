// SPDX-License-Identifier: MIT

package tunnel

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"monami/classifier"
	"monami/paths"
	"monami/tun/tuntest"
)

// A flow both ways on path 1; path 1 then goes silent both ways, or only
// towards the router. While it is suspect (before it is declared Down),
// each side also sends its packets as copies on path 2 (the agent because
// the router went silent, or because the router flags its frames
// unanswered), so the flow resumes before the Down and nothing is
// delivered twice.
func TestHedgeWhilePathSilent(t *testing.T) {
	for _, oneWay := range []bool{false, true} {
		t.Run(map[bool]string{false: "both-ways", true: "downlink-only"}[oneWay], func(t *testing.T) {
			hedgeWhilePathSilent(t, oneWay)
		})
	}
}

func hedgeWhilePathSilent(t *testing.T, oneWay bool) {
	g := newRig(t)
	voice := classifier.Selector{Proto: []uint8{17}, DstPorts: []classifier.PortRange{{Lo: 5004, Hi: 5004}}}
	g.r.SetTable(compile(t, classifier.FilterRule{Selector: voice, Mode: classifier.ModeSingle, BIDs: []paths.BID{1, 2}}))
	g.a.SetPeerTable("mr1", compile(t, classifier.FilterRule{Selector: voice.Reverse(), Mode: classifier.ModeSingle, BIDs: []paths.BID{1}}))

	// Packets every 5 ms each way, numbered; arrivals are recorded.
	type arrivals struct {
		mu   sync.Mutex
		at   []time.Time
		seen map[uint16]int
	}
	up, down := &arrivals{seen: map[uint16]int{}}, &arrivals{seen: map[uint16]int{}}
	var stop atomic.Bool
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop.Store(true)
	wg.Go(func() {
		for i := uint16(0); !stop.Load(); i++ {
			g.mrTUN.in <- tuntest.UDPPacket(netip.AddrPortFrom(lanHost, 7000), netip.AddrPortFrom(server, 5004), []byte{byte(i >> 8), byte(i)})
			g.haTUN.in <- tuntest.UDPPacket(netip.AddrPortFrom(server, 5004), netip.AddrPortFrom(lanHost, 7000), []byte{byte(i >> 8), byte(i)})
			time.Sleep(5 * time.Millisecond)
		}
	})
	for _, c := range []struct {
		ch  chan []byte
		arr *arrivals
	}{{g.haTUN.out, up}, {g.mrTUN.out, down}} {
		wg.Go(func() {
			for !stop.Load() {
				select {
				case p := <-c.ch:
					c.arr.mu.Lock()
					c.arr.at = append(c.arr.at, time.Now())
					c.arr.seen[uint16(p[len(p)-2])<<8|uint16(p[len(p)-1])]++
					c.arr.mu.Unlock()
				case <-time.After(10 * time.Millisecond):
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond) // path 1 busy, probed every 100 ms

	cut := time.Now()
	g.up[1].Blackhole.Store(!oneWay)
	g.up[1].Deaf.Store(true)
	var downAt time.Time
	for deadline := cut.Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if !g.r.Stats().Paths[0].Up {
			downAt = time.Now()
			break
		}
	}
	if downAt.IsZero() {
		t.Fatal("path 1 never went Down")
	}
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	for _, d := range []struct {
		name string
		arr  *arrivals
	}{{"uplink", up}, {"downlink", down}} {
		var first time.Time
		for _, at := range d.arr.at {
			if at.After(cut.Add(20 * time.Millisecond)) { // past what was in flight at the cut
				first = at
				break
			}
		}
		t.Logf("%s: resumed %v after the cut; path 1 Down %v after it", d.name, first.Sub(cut).Round(time.Millisecond), downAt.Sub(cut).Round(time.Millisecond))
		if first.IsZero() || !first.Before(downAt) {
			t.Errorf("%s resumed only after path 1 went Down", d.name)
		}
		for seq, n := range d.arr.seen {
			if n > 1 {
				t.Errorf("%s packet %d delivered %d times", d.name, seq, n)
			}
		}
	}
	if h := g.r.Stats().Paths[0].Hedged; h == 0 && !oneWay {
		t.Error("the router counted no hedged packets on path 1")
	}
	var hedged uint64
	for _, p := range g.a.Stats().Peers[0].Paths {
		hedged += p.Hedged
	}
	if hedged == 0 {
		t.Error("the agent counted no hedged packets")
	}
}
