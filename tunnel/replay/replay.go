// SPDX-License-Identifier: MIT

package replay

const (
	// WindowSize is how far below the highest accepted counter a counter
	// may lie and still be accepted: 8128, the RFC 6479 ring of 8192 bits
	// less one block.
	WindowSize = ringBits - blockBits

	// RejectAfter is the first counter that is always rejected, so that a
	// counter can never wrap. Senders rekey long before reaching it.
	RejectAfter uint64 = 1 << 60
)

const (
	blockBits  = 64                     // bits per ring block
	blockShift = 6                      // log2(blockBits)
	bitMask    = blockBits - 1          // counter → bit within its block
	ringBlocks = 128                    // blocks in the ring; a power of two
	ringMask   = ringBlocks - 1         // block index → ring slot
	ringBits   = ringBlocks * blockBits // 8192
)

// Filter is a sliding anti-replay window over 64-bit frame counters (RFC
// 6479 §2: a ring of 128 64-bit blocks). Let top be the highest counter
// accepted so far. A counter c is accepted, and recorded, when c <
// [RejectAfter] and either c > top, or top−c <= [WindowSize] (8128) and c
// has not been accepted before. So the window holds top and the 8128 counters
// below it; anything older is rejected as a possible replay.
//
// The zero value is an empty window, ready to use. A Filter is not safe for
// concurrent use: it is owned by the one goroutine that receives on its path,
// or guarded by its owner's lock.
type Filter struct {
	top  uint64             // highest accepted counter; 0 when empty
	ring [ringBlocks]uint64 // bit c&bitMask of slot (c>>blockShift)&ringMask records c
}

// Check reports whether counter is fresh: not seen before and not older than
// the window. If so it records counter and returns true; otherwise it
// returns false and leaves the window unchanged. Counters at or above
// RejectAfter are always rejected, so a counter never wraps. Check does not
// allocate.
func (f *Filter) Check(counter uint64) bool {
	if counter >= RejectAfter {
		return false
	}
	block := counter >> blockShift
	if counter > f.top {
		// Slide forward: clear the blocks between the current top's block
		// and counter's block (all of them after a jump of a whole ring).
		cur := f.top >> blockShift
		n := block - cur
		if n > ringBlocks {
			n = ringBlocks
		}
		for i := uint64(1); i <= n; i++ {
			f.ring[(cur+i)&ringMask] = 0
		}
		f.top = counter
	} else if f.top-counter > WindowSize {
		return false
	}
	slot := &f.ring[block&ringMask]
	bit := uint64(1) << (counter & bitMask)
	if *slot&bit != 0 {
		return false
	}
	*slot |= bit
	return true
}

// Reset empties the window, as after a rekey.
func (f *Filter) Reset() {
	*f = Filter{}
}
