// SPDX-License-Identifier: MIT

package tunnel

import (
	"crypto/rand"
	"net/netip"
	"testing"
	"time"

	"monami/paths"
	"monami/tun/tuntest"
	"monami/tunnel/session"
)

// nextGeneration returns the router's and the agent's view of key
// generation gen with fresh keys and receiver indexes.
func nextGeneration(gen uint32) (mr, ha Session) {
	var up, down [session.KeyLen]byte
	rand.Read(up[:])
	rand.Read(down[:])
	mi, hi := 0x1000+gen, 0x2000+gen
	mr = Session{Generation: gen, LocalIndex: mi, PeerIndex: hi, Suite: session.AES256GCM, SendKey: up, RecvKey: down}
	ha = Session{Generation: gen, LocalIndex: hi, PeerIndex: mi, Suite: session.AES256GCM, SendKey: down, RecvKey: up}
	return mr, ha
}

// exchange sends one packet each way and reports whether both arrived.
func exchange(t *testing.T, g *rig, port uint16) (upOK, downOK bool) {
	t.Helper()
	up := tuntest.UDPPacket(netip.AddrPortFrom(lanHost, port), netip.AddrPortFrom(server, 53), []byte("q"))
	down := tuntest.UDPPacket(netip.AddrPortFrom(server, 53), netip.AddrPortFrom(lanHost, port), []byte("a"))
	g.mrTUN.in <- up
	g.haTUN.in <- down
	for _, c := range []struct {
		ch   chan []byte
		want []byte
		ok   *bool
	}{{g.haTUN.out, up, &upOK}, {g.mrTUN.out, down, &downOK}} {
		select {
		case got := <-c.ch:
			*c.ok = string(got) == string(c.want)
		case <-time.After(time.Second):
		}
	}
	return upOK, downOK
}

// A rekey in the middle of traffic loses nothing in either direction: the
// router sends under the new generation at once, the agent accepts both,
// and moves its own sending over when the router's first frame under the
// new keys arrives; the old generation is still opened meanwhile.
func TestRekeyWithoutGap(t *testing.T) {
	g := newRig(t)
	port := uint16(2000)
	for gen := uint32(2); gen <= 5; gen++ {
		mr, ha := nextGeneration(gen)
		// The agent installs first (it answers the key update), then the
		// router, with downlink packets in flight under the old keys.
		if err := g.a.Rekey("mr1", ha); err != nil {
			t.Fatal(err)
		}
		g.haTUN.in <- tuntest.UDPPacket(netip.AddrPortFrom(server, 53), netip.AddrPortFrom(lanHost, 9), []byte("in flight"))
		if err := g.r.Rekey(mr); err != nil {
			t.Fatal(err)
		}
		recv(t, g.mrTUN.out) // the in-flight packet, under the old generation
		for range 20 {
			port++
			if up, down := exchange(t, g, port); !up || !down {
				t.Fatalf("generation %d, flow %d: uplink delivered %v, downlink delivered %v", gen, port, up, down)
			}
		}
		// The agent now sends under gen.
		if ks := g.a.peers["mr1"].keys.Load(); ks.cur.Generation != gen || ks.next != nil {
			t.Fatalf("agent keys after traffic: cur generation %d, next %v", ks.cur.Generation, ks.next != nil)
		}
	}
	if d := g.r.Drops(DropUnknownReceiver) + g.a.Drops(DropUnknownReceiver) + g.r.Drops(DropAuth) + g.a.Drops(DropAuth); d != 0 {
		t.Errorf("%d frames refused across rekeys", d)
	}
}

// Keys past their lifetime are refused both ways and counted; a rekey
// brings traffic back.
func TestExpiredKeysRefused(t *testing.T) {
	g := newRig(t)
	// Age both sides' keys past their lifetime.
	expire := func(k *keyState) { k.expires = time.Now().UnixNano() - 1 }
	expire(g.r.keys.Load().cur)
	expire(g.a.peers["mr1"].keys.Load().cur)
	if up, down := exchange(t, g, 3000); up || down {
		t.Fatalf("traffic under expired keys delivered: up %v down %v", up, down)
	}
	if g.r.Drops(DropKeyExpired) == 0 || g.a.Drops(DropKeyExpired) == 0 {
		t.Errorf("expired-key drops not counted: router %d agent %d", g.r.Drops(DropKeyExpired), g.a.Drops(DropKeyExpired))
	}
	mr, ha := nextGeneration(2)
	if err := g.a.Rekey("mr1", ha); err != nil {
		t.Fatal(err)
	}
	if err := g.r.Rekey(mr); err != nil {
		t.Fatal(err)
	}
	// The router's rekey probes confirm the new keys to the agent even
	// before any data flows.
	deadline := time.Now().Add(3 * time.Second)
	for g.a.peers["mr1"].keys.Load().next != nil {
		if time.Now().After(deadline) {
			t.Fatal("agent never moved to the new generation")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if up, down := exchange(t, g, 3001); !up || !down {
		t.Fatalf("after rekey: up %v down %v", up, down)
	}
}

// Downlink traffic uses only the paths the router has registered: after
// it removes one, every flow comes back on the other, including flows
// that went up on the removed one.
func TestAgentFollowsBindings(t *testing.T) {
	g := newRig(t)
	g.a.SetBindings("mr1", []paths.BID{2})
	for port := uint16(4000); port < 4032; port++ {
		before := g.r.Stats().Paths[1].RxPackets
		if up, down := exchange(t, g, port); !up || !down {
			t.Fatalf("flow %d: up %v down %v", port, up, down)
		}
		if after := g.r.Stats().Paths[1].RxPackets; after != before+1 {
			t.Fatalf("flow %d's reply did not come on the only registered path", port)
		}
	}
	g.a.SetBindings("mr1", nil)
	g.haTUN.in <- tuntest.UDPPacket(netip.AddrPortFrom(server, 53), netip.AddrPortFrom(lanHost, 9), []byte("x"))
	select {
	case <-g.mrTUN.out:
		t.Fatal("downlink sent with no path registered")
	case <-time.After(200 * time.Millisecond):
	}
	if g.a.Drops(DropNoPath) == 0 {
		t.Error("no_path drop not counted")
	}
}
