// SPDX-License-Identifier: MIT

package tunnel

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"monami/classifier"
	"monami/paths"
	"monami/tun/tuntest"
)

func compile(t *testing.T, rules ...classifier.FilterRule) *classifier.Table {
	t.Helper()
	tbl, err := classifier.Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// The router sends the flows a rule matches on the rule's first Up path,
// drops what a drop rule matches, and hashes the rest; the agent sends the
// replies of the flows its peer table matches on that table's path.
func TestPolicyTablesSteerFlows(t *testing.T) {
	g := newRig(t)
	dns := classifier.Selector{Proto: []uint8{17}, DstPorts: []classifier.PortRange{{Lo: 53, Hi: 53}}}
	g.r.SetTable(compile(t,
		classifier.FilterRule{Selector: dns, Mode: classifier.ModeSingle, BIDs: []paths.BID{2, 1}},
		classifier.FilterRule{Index: 1, Selector: classifier.Selector{Proto: []uint8{17}, DstPorts: []classifier.PortRange{{Lo: 9, Hi: 9}}}, Mode: classifier.ModeDrop},
	))
	// The HA's table comes from flow bindings, mirrored by the router to
	// describe the downlink: DNS replies go down on BID 1, whatever path
	// the query came up on.
	g.a.SetPeerTable("mr1", compile(t, classifier.FilterRule{Selector: dns.Reverse(), Mode: classifier.ModeSingle, BIDs: []paths.BID{1}}))
	for port := uint16(6000); port < 6032; port++ {
		up1, down1 := g.r.Stats().Paths[0], g.r.Stats().Paths[1]
		if up, down := exchange(t, g, port); !up || !down {
			t.Fatalf("flow %d: up %v down %v", port, up, down)
		}
		st := g.r.Stats()
		if st.Paths[1].TxPackets != down1.TxPackets+1 {
			t.Fatalf("flow %d did not go up on BID 2", port)
		}
		if st.Paths[0].RxPackets != up1.RxPackets+1 {
			t.Fatalf("flow %d's reply did not come down on BID 1", port)
		}
	}
	// Port 9 is dropped by policy and counted.
	g.mrTUN.in <- tuntest.UDPPacket(netip.AddrPortFrom(lanHost, 1234), netip.AddrPortFrom(server, 9), []byte("x"))
	g.mrTUN.in <- tuntest.UDPPacket(netip.AddrPortFrom(lanHost, 1234), netip.AddrPortFrom(server, 53), []byte("y"))
	if got := recv(t, g.haTUN.out); string(got[len(got)-1:]) != "y" {
		t.Fatalf("the agent got %q; the drop rule let it through", got)
	}
	if g.r.Drops(DropPolicy) != 1 {
		t.Errorf("policy drops %d, want 1", g.r.Drops(DropPolicy))
	}
	// With its paths down, a rule falls back to the default hash rather
	// than dropping.
	g.r.SetTable(compile(t, classifier.FilterRule{Selector: dns, Mode: classifier.ModeSingle, BIDs: []paths.BID{7}}))
	if up, _ := exchange(t, g, 7000); !up {
		t.Fatal("a rule whose paths are all gone dropped its flow")
	}
}

// deliverOnce writes 20 packets pkt(0..19) into one TUN and checks that
// each comes out of the other exactly once, in order.
func deliverOnce(t *testing.T, in, out chan []byte, pkt func(i byte) []byte) {
	t.Helper()
	for i := range byte(20) {
		in <- pkt(i)
		got := recv(t, out)
		if got[len(got)-1] != i {
			t.Fatalf("packet %d: got payload %d", i, got[len(got)-1])
		}
	}
	select {
	case p := <-out:
		t.Fatalf("a duplicate reached the TUN: % x", p)
	case <-time.After(200 * time.Millisecond):
	}
}

// A redundant rule sends every packet of its flows on each of its Up
// paths; the agent delivers the first copy and drops the others.
func TestRedundantCopies(t *testing.T) {
	g := newRig(t)
	voice := classifier.Selector{Proto: []uint8{17}, DstPorts: []classifier.PortRange{{Lo: 5004, Hi: 5004}}}
	g.r.SetTable(compile(t, classifier.FilterRule{Selector: voice, Mode: classifier.ModeRedundant, BIDs: []paths.BID{1, 2}}))
	before := g.r.Stats()
	deliverOnce(t, g.mrTUN.in, g.haTUN.out, func(i byte) []byte {
		return tuntest.UDPPacket(netip.AddrPortFrom(lanHost, 7000), netip.AddrPortFrom(server, 5004), []byte{i})
	})
	after := g.r.Stats()
	for k := range 2 {
		if sent := after.Paths[k].TxPackets - before.Paths[k].TxPackets - (after.Paths[k].KeepalivesTx - before.Paths[k].KeepalivesTx); sent != 20 {
			t.Errorf("path %d sent %d copies, want 20", k+1, sent)
		}
	}
	if d := g.a.Drops(DropDuplicate); d != 20 {
		t.Errorf("agent dropped %d duplicates, want 20", d)
	}
}

// The agent sends the downlink of a redundant flow binding on each of its
// live paths too; the router delivers the first copy.
func TestRedundantDownlink(t *testing.T) {
	g := newRig(t)
	reply := classifier.Selector{Proto: []uint8{17}, SrcPorts: []classifier.PortRange{{Lo: 5004, Hi: 5004}}}
	g.a.SetPeerTable("mr1", compile(t, classifier.FilterRule{Selector: reply, Mode: classifier.ModeRedundant, BIDs: []paths.BID{2, 1}}))
	before := g.r.Stats()
	deliverOnce(t, g.haTUN.in, g.mrTUN.out, func(i byte) []byte {
		return tuntest.UDPPacket(netip.AddrPortFrom(server, 5004), netip.AddrPortFrom(lanHost, 7000), []byte{i})
	})
	after := g.r.Stats()
	for k := range 2 {
		if got := after.Paths[k].RxPackets - before.Paths[k].RxPackets - (after.Paths[k].KeepalivesRx - before.Paths[k].KeepalivesRx); got != 20 {
			t.Errorf("path %d received %d copies, want 20", k+1, got)
		}
	}
	if d := g.r.Drops(DropDuplicate); d != 20 {
		t.Errorf("router dropped %d duplicates, want 20", d)
	}
}

// The agent spreads a stripe binding's flows in proportion to the weights
// the router sent with it, and in equal shares without them.
func TestSpreadFollowsWeights(t *testing.T) {
	for _, tc := range []struct {
		name    string
		weights [classifier.MaxBIDs]uint32
		want    float64 // share of BID 1
	}{
		{"weights 15:1", [classifier.MaxBIDs]uint32{15, 1}, 15.0 / 16},
		{"none", [classifier.MaxBIDs]uint32{}, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := classifier.Decision{Mode: classifier.ModeStripe, N: 2, Weights: tc.weights}
			d.BIDs[0], d.BIDs[1] = 1, 2
			r := rand.New(rand.NewPCG(1, 2))
			const n = 20000
			ones := 0
			for range n {
				if spread(&d, []paths.BID{1, 2}, r.Uint64(), 1) == 1 {
					ones++
				}
			}
			if got := float64(ones) / n; math.Abs(got-tc.want) > 0.02 {
				t.Errorf("BID 1 got %.3f of the flows, want %.3f", got, tc.want)
			}
			if got := spread(&d, []paths.BID{2}, r.Uint64(), 2); got != 2 {
				t.Errorf("with only BID 2 live, spread picked %d", got)
			}
		})
	}
}
