// SPDX-License-Identifier: MIT

package classifier

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"monami/paths"
)

func flow4(sport uint16) Parsed {
	return Parsed{Version: 4, Proto: 6, Src: lan4, Dst: srv4, SrcPort: sport, DstPort: 443}
}

func reply(p Parsed) Parsed {
	p.Src, p.Dst, p.SrcPort, p.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
	return p
}

// TestHashStable pins hash values: they must not depend on the process
// (no random seed) so that a flow's path is the same in every run.
func TestHashStable(t *testing.T) {
	p := flow4(40000)
	q := Parsed{Version: 6, Proto: 17, Src: lan6, Dst: srv6, SrcPort: 5353, DstPort: 53}
	r := reply(p)
	tests := []struct {
		name string
		got  uint64
		want uint64
	}{
		{name: "ipv4 hash", got: p.Hash(), want: 0xdb4764602844c2ae},
		{name: "ipv4 symmetric", got: p.SymmetricHash(), want: 0xdb4764602844c2ae},
		{name: "ipv4 reply symmetric", got: r.SymmetricHash(), want: 0xdb4764602844c2ae},
		{name: "ipv6 hash", got: q.Hash(), want: 0xf1886d4d03c2d15a},
		{name: "ipv6 symmetric", got: q.SymmetricHash(), want: 0xf1886d4d03c2d15a},
		{name: "pick", got: uint64(Pick(p.Hash(), []paths.BID{1, 2, 3})), want: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("hash = %#x, want %#x", tc.got, tc.want)
			}
		})
	}
}

func TestHashDirection(t *testing.T) {
	for _, p := range []Parsed{
		flow4(40000),
		{Version: 6, Proto: 17, Src: lan6, Dst: srv6, SrcPort: 5353, DstPort: 53},
		{Version: 4, Proto: 1, Src: lan4, Dst: srv4, SrcPort: 7, DstPort: 7},                  // echo
		{Version: 4, Proto: 17, Src: lan4, Dst: lan4, SrcPort: 1000, DstPort: 2000},           // same address
		{Version: 6, Proto: 6, Src: lan6, Dst: netip.MustParseAddr("fd00:10::3"), SrcPort: 1}, // differ in the last word
	} {
		r := reply(p)
		if p.SymmetricHash() != r.SymmetricHash() {
			t.Errorf("%+v: SymmetricHash differs for the reply", p)
		}
		if p != r && p.Hash() == r.Hash() {
			t.Errorf("%+v: Hash is the same for the reply", p)
		}
	}
}

// TestHashSensitivity: changing any one field of the 5-tuple changes the
// hash, and flips about half its bits.
func TestHashSensitivity(t *testing.T) {
	base := Parsed{Version: 6, Proto: 17, Src: lan6, Dst: srv6, SrcPort: 5353, DstPort: 53}
	var changes []Parsed
	for i := range 16 {
		for _, bit := range []byte{0x01, 0x80} {
			s, d := base.Src.As16(), base.Dst.As16()
			s[i] ^= bit
			d[i] ^= bit
			p, q := base, base
			p.Src, q.Dst = netip.AddrFrom16(s), netip.AddrFrom16(d)
			changes = append(changes, p, q)
		}
	}
	for _, bit := range []uint16{1, 0x100, 0x8000} {
		p, q := base, base
		p.SrcPort ^= bit
		q.DstPort ^= bit
		changes = append(changes, p, q)
	}
	for _, proto := range []uint8{6, 16, 136} {
		p := base
		p.Proto = proto
		changes = append(changes, p)
	}
	h := base.Hash()
	total := 0
	for _, p := range changes {
		d := bits.OnesCount64(h ^ p.Hash())
		if d == 0 {
			t.Errorf("%+v hashes like the base", p)
		}
		total += d
	}
	if avg := float64(total) / float64(len(changes)); avg < 28 || avg > 36 {
		t.Errorf("a one-bit change flips %.1f bits on average, want about 32", avg)
	}
}

// TestHashSpread: the flows of one host pair that differ only in the
// source port spread evenly over 16 buckets, by low and by high bits.
func TestHashSpread(t *testing.T) {
	const flows, buckets = 16000, 16
	var lo, hi [buckets]int
	for i := range flows {
		p := flow4(uint16(10000 + i))
		h := p.Hash()
		lo[h%buckets]++
		hi[h>>60]++
	}
	for i := range buckets {
		for _, n := range []int{lo[i], hi[i]} {
			if n < flows/buckets*85/100 || n > flows/buckets*115/100 {
				t.Fatalf("bucket %d holds %d flows (low bits %v, high bits %v), want about %d", i, n, lo, hi, flows/buckets)
			}
		}
	}
}

func TestPickEdges(t *testing.T) {
	tests := []struct {
		name string
		bids []paths.BID
		want paths.BID
	}{
		{name: "nil", bids: nil, want: 0},
		{name: "empty", bids: []paths.BID{}, want: 0},
		{name: "one", bids: []paths.BID{7}, want: 7},
		{name: "duplicates", bids: []paths.BID{9, 9}, want: 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for h := range uint64(100) {
				if got := Pick(h*0x9e3779b97f4a7c15, tc.bids); got != tc.want {
					t.Fatalf("Pick = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestPickOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	bids := []paths.BID{1, 2, 3, 4, 5}
	for range 2000 {
		h := rng.Uint64()
		want := Pick(h, bids)
		perm := slices.Clone(bids)
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		if got := Pick(h, perm); got != want {
			t.Fatalf("Pick(%#x, %v) = %v, but %v for %v", h, perm, got, want, bids)
		}
	}
}

// TestPickSpread: with two BIDs each gets 45–55 % of the flows, both for
// random hashes and for real flow hashes of sequential ports.
func TestPickSpread(t *testing.T) {
	const n = 10000
	rng := rand.New(rand.NewPCG(3, 4))
	for _, bids := range [][]paths.BID{{1, 2}, {2, 3}, {1, 65535}, {100, 101}} {
		for _, src := range []string{"random", "ports"} {
			t.Run(fmt.Sprintf("%v/%s", bids, src), func(t *testing.T) {
				count := map[paths.BID]int{}
				for i := range n {
					h := rng.Uint64()
					if src == "ports" {
						p := flow4(uint16(20000 + i))
						h = p.Hash()
					}
					count[Pick(h, bids)]++
				}
				for _, b := range bids {
					if c := count[b]; c < n*45/100 || c > n*55/100 {
						t.Errorf("BID %v got %d of %d flows (%v)", b, c, n, count)
					}
				}
			})
		}
	}
}

// TestPickRemove is the rendezvous property: removing a BID moves only the
// flows that were on it, and spreads them evenly over the others; adding
// one moves flows only onto the new BID.
func TestPickRemove(t *testing.T) {
	const n = 10000
	rng := rand.New(rand.NewPCG(5, 6))
	hs := make([]uint64, n)
	for i := range hs {
		hs[i] = rng.Uint64()
	}
	all := []paths.BID{1, 2, 3}
	for _, gone := range all {
		t.Run(fmt.Sprintf("remove %v", gone), func(t *testing.T) {
			rest := slices.DeleteFunc(slices.Clone(all), func(b paths.BID) bool { return b == gone })
			moved := map[paths.BID]int{}
			var on int
			for _, h := range hs {
				before, after := Pick(h, all), Pick(h, rest)
				if after == gone || after == 0 {
					t.Fatalf("Pick(%#x, %v) = %v", h, rest, after)
				}
				if before != gone {
					if after != before {
						t.Fatalf("flow %#x moved from %v to %v when %v was removed", h, before, after, gone)
					}
					continue
				}
				on++
				moved[after]++
			}
			if on < n*30/100 || on > n*37/100 {
				t.Errorf("%v held %d of %d flows, want about a third", gone, on, n)
			}
			for _, b := range rest {
				if c := moved[b]; c < on*44/100 || c > on*56/100 {
					t.Errorf("%d of the %d moved flows went to %v (%v), want about half", c, on, b, moved)
				}
			}
			// Adding it back restores every flow.
			for _, h := range hs {
				if after, back := Pick(h, rest), Pick(h, all); back != after && back != gone {
					t.Fatalf("adding %v moved flow %#x from %v to %v", gone, h, after, back)
				}
			}
		})
	}
}

func BenchmarkHash(b *testing.B) {
	p := Parsed{Version: 6, Proto: 17, Src: lan6, Dst: srv6, SrcPort: 5353, DstPort: 53}
	b.ReportAllocs()
	var sink uint64
	for b.Loop() {
		sink += p.Hash()
		p.SrcPort++
	}
	_ = sink
}

func BenchmarkSymmetricHash(b *testing.B) {
	p := flow4(1)
	b.ReportAllocs()
	var sink uint64
	for b.Loop() {
		sink += p.SymmetricHash()
		p.SrcPort++
	}
	_ = sink
}

func BenchmarkPick(b *testing.B) {
	for _, n := range []int{2, 3, 8} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			bids := make([]paths.BID, n)
			for i := range bids {
				bids[i] = paths.BID(i + 1)
			}
			b.ReportAllocs()
			var h uint64
			var sink paths.BID
			for b.Loop() {
				h += 0x9e3779b97f4a7c15
				sink += Pick(h, bids)
			}
			_ = sink
		})
	}
}
