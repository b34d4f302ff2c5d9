// SPDX-License-Identifier: MIT

package tunnel

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"monami/paths"
	"monami/tunnel/replay"
	"monami/tunnel/session"
)

// Session is what the data plane needs from one signaling session: the
// receiver indices and the keys of both directions.
type Session struct {
	// Generation counts key generations within one signaling session.
	Generation uint32
	// LocalIndex is the receiver index the peer writes into the frames it
	// sends to us; PeerIndex is the one we write into frames we send.
	LocalIndex, PeerIndex uint32
	// Suite is the AEAD of both directions.
	Suite session.Suite
	// SendKey seals what we send; RecvKey opens what we receive.
	SendKey, RecvKey [session.KeyLen]byte
}

// keyState is an installed Session: its ciphers and, per BID, the send
// counter and the replay window. Immutable but for the per-BID state.
type keyState struct {
	Session
	send, recv *session.Cipher
	expires    int64 // unix ns after which the keys are refused both ways

	mu   sync.Mutex // serialises inserts into bids
	bids atomic.Pointer[map[paths.BID]*bidKeys]
}

// bidKeys is the per-(session, BID) state. The counter is taken atomically
// by whichever goroutine sends; the replay window is guarded by mu, which is
// uncontended in practice (one receive loop sees one BID).
type bidKeys struct {
	counter atomic.Uint64

	mu     sync.Mutex
	replay replay.Filter
}

// DefaultKeyLifetime is how long one generation of keys is accepted, in
// both directions, from its installation: the signaling channel rekeys
// every two minutes, and a key that old is refused, like WireGuard's
// Reject-After-Time.
const DefaultKeyLifetime = 180 * time.Second

// fresh reports whether the keys may still be used at now (unix ns).
func (k *keyState) fresh(now int64) bool { return now < k.expires }

// keySet is the keys of one peer in use at one moment: cur seals what we
// send; cur, prev (the generation cur replaced, for packets in flight) and
// next (installed, not yet confirmed by the peer) open what we receive.
// Immutable: changes publish a new keySet.
type keySet struct {
	cur, prev, next *keyState
	// id names the signaling session the keys belong to: the receiver
	// index of its first generation.
	id uint32
}

// current returns the keys to send with, or nil.
func (s *keySet) current() *keyState {
	if s == nil {
		return nil
	}
	return s.cur
}

// forIndex returns the keys whose receiver index is idx, or nil.
func (s *keySet) forIndex(idx uint32) *keyState {
	if s == nil {
		return nil
	}
	for _, k := range [...]*keyState{s.cur, s.next, s.prev} {
		if k != nil && k.LocalIndex == idx {
			return k
		}
	}
	return nil
}

// indexes returns the receiver indexes of s.
func (s *keySet) indexes() []uint32 {
	var out []uint32
	for _, k := range [...]*keyState{s.cur, s.next, s.prev} {
		if k != nil {
			out = append(out, k.LocalIndex)
		}
	}
	return out
}

func newKeyState(s Session, lifetime time.Duration) (*keyState, error) {
	send, err := session.New(s.Suite, s.SendKey)
	if err != nil {
		return nil, fmt.Errorf("send key: %w", err)
	}
	recv, err := session.New(s.Suite, s.RecvKey)
	if err != nil {
		return nil, fmt.Errorf("receive key: %w", err)
	}
	k := &keyState{Session: s, send: send, recv: recv, expires: time.Now().Add(lifetime).UnixNano()}
	m := map[paths.BID]*bidKeys{}
	k.bids.Store(&m)
	return k, nil
}

// bid returns the state of b, creating it on first use. The lookup allocates
// nothing; the creation (once per BID and session) copies the map.
func (k *keyState) bid(b paths.BID) *bidKeys {
	if bk := (*k.bids.Load())[b]; bk != nil {
		return bk
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	old := *k.bids.Load()
	if bk := old[b]; bk != nil {
		return bk
	}
	m := maps.Clone(old)
	bk := new(bidKeys)
	m[b] = bk
	k.bids.Store(&m)
	return bk
}

// accept runs the replay check for counter on BID b and records it.
func (bk *bidKeys) accept(counter uint64) bool {
	bk.mu.Lock()
	ok := bk.replay.Check(counter)
	bk.mu.Unlock()
	return ok
}
