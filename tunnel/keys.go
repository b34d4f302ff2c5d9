// SPDX-License-Identifier: MIT

package tunnel

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"

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

func newKeyState(s Session) (*keyState, error) {
	send, err := session.New(s.Suite, s.SendKey)
	if err != nil {
		return nil, fmt.Errorf("send key: %w", err)
	}
	recv, err := session.New(s.Suite, s.RecvKey)
	if err != nil {
		return nil, fmt.Errorf("receive key: %w", err)
	}
	k := &keyState{Session: s, send: send, recv: recv}
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
