// SPDX-License-Identifier: MIT

package classifier

import (
	"encoding/binary"
	"math/bits"

	"monami/paths"
)

// Mixing constants: odd 64-bit values with well-spread bits (the secrets of
// wyhash). There is deliberately no per-process seed, so a flow hashes to
// the same value, and so to the same path, in every run.
const (
	k0 = 0xa0761d6478bd642f
	k1 = 0xe7037ed1a0b428db
	k2 = 0x8ebc6af09c88c6e3
	k3 = 0x589965cc75374cc3
)

// mum is the wyhash mixing step: the 128-bit product of a and b, folded.
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// fmix is a bijective finaliser with full avalanche (MurmurHash3's fmix64).
func fmix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb93fe515e653
	x ^= x >> 33
	return x
}

// words returns the 16-byte form of both addresses (IPv4 as IPv4-mapped) as
// four 64-bit words.
func (p *Parsed) words() (s0, s1, d0, d1 uint64) {
	s, d := p.Src.As16(), p.Dst.As16()
	return binary.LittleEndian.Uint64(s[:8]), binary.LittleEndian.Uint64(s[8:]),
		binary.LittleEndian.Uint64(d[:8]), binary.LittleEndian.Uint64(d[8:])
}

// hash5 mixes a directional 5-tuple given as address words.
func hash5(s0, s1, d0, d1 uint64, proto uint8, sport, dport uint16) uint64 {
	rest := uint64(sport)<<48 | uint64(dport)<<32 | uint64(proto)
	h := mum(s0^k1, s1^k0)
	h = mum(d0^k2, d1^h)
	h = mum(rest^k3, h^k1)
	return fmix(h ^ k2)
}

// Hash returns a 64-bit hash of the directional 5-tuple of p (source and
// destination address and port, protocol). It is stable across runs and
// machines, and does not allocate.
func (p *Parsed) Hash() uint64 {
	s0, s1, d0, d1 := p.words()
	return hash5(s0, s1, d0, d1, p.Proto, p.SrcPort, p.DstPort)
}

// SymmetricHash is like [Parsed.Hash] but gives a packet and its reply (the
// same tuple with source and destination swapped) the same value. It does
// not allocate.
func (p *Parsed) SymmetricHash() uint64 {
	s0, s1, d0, d1 := p.words()
	sp, dp := p.SrcPort, p.DstPort
	if d0 < s0 || d0 == s0 && (d1 < s1 || d1 == s1 && dp < sp) {
		s0, s1, d0, d1 = d0, d1, s0, s1
		sp, dp = dp, sp
	}
	return hash5(s0, s1, d0, d1, p.Proto, sp, dp)
}

// Pick maps the flow hash h to one of bids by rendezvous (highest random
// weight) hashing: every BID gets a pseudo-random weight derived from h and
// the BID alone, and the heaviest wins. A flow therefore stays on its BID as
// long as that BID is in the list, whatever else comes or goes; removing a
// BID moves only the flows that were on it, spread evenly over the rest.
// The order of bids does not matter. Pick returns 0 if bids is empty. It
// does not allocate and keeps no reference to bids.
func Pick(h uint64, bids []paths.BID) paths.BID {
	var best paths.BID
	var bestW uint64
	for i, b := range bids {
		w := weight(h, b)
		if i == 0 || w > bestW || w == bestW && b < best {
			best, bestW = b, w
		}
	}
	return best
}

// weight is the rendezvous weight of BID b for the flow hash h.
func weight(h uint64, b paths.BID) uint64 {
	return fmix(h ^ uint64(b)*k3)
}
