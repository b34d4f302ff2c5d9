// SPDX-License-Identifier: MIT

package node

import (
	"testing"
	"time"

	"monami/paths"
	"monami/signaling/msg"
)

// The capacity estimate of a path is the highest rate the home agent saw
// arrive on it in the last 30 s (its path reports), in bit/s; rates
// below 256 kbit/s leave it unknown.
func TestCapacityFromPeerReports(t *testing.T) {
	m := &MobileRouter{peerRate: map[paths.BID]*rateFilter{}}
	// Path 3 carried only keepalives and probes: 400 B/s.
	m.onPeerReport([]msg.PathMetrics{{BID: 1, DeliveryRate: 1_000_000}, {BID: 2, DeliveryRate: 0}, {BID: 3, DeliveryRate: 400}})
	m.onPeerReport([]msg.PathMetrics{{BID: 1, DeliveryRate: 250_000}})
	if got := m.capacity(1); got != 8_000_000 {
		t.Errorf("capacity of path 1 = %v bit/s, want the maximum 8e6", got)
	}
	if got := m.capacity(2); got != 0 {
		t.Errorf("capacity of an idle path = %v, want unknown (0)", got)
	}
	if got := m.capacity(3); got != 0 {
		t.Errorf("capacity of a path with only keepalives = %v, want unknown (0), not a tiny capacity that starves it", got)
	}
	f := m.peerRate[1]
	now := time.Now()
	if got := f.max(now.Add(rateWindow + time.Second)); got != 0 {
		t.Errorf("a sample older than the window still counts: %v", got)
	}
}
