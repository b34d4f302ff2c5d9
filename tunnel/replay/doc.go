// SPDX-License-Identifier: MIT

// Package replay owns the per-BID anti-replay window of the data plane: a
// sliding bitmap over frame counters in the style of RFC 6479
// (docs/internals.md, "Replay").
//
// The tunnel engine keeps one [Filter] per (session, BID) on the receiver and
// consults it only after the AEAD has authenticated a frame, so forged
// frames cannot move the window. A Filter is not safe for concurrent use: it
// belongs to the one goroutine that receives on its path (or is guarded by
// its owner's lock). The package has no other state and imports nothing
// outside the standard library.
package replay
