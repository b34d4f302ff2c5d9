// SPDX-License-Identifier: MIT

package node

import (
	"testing"
	"time"

	"monami/paths"
	"monami/signaling/msg"
)

// The capacity estimate of a path is the highest rate the home agent saw
// arrive on it in the last 30 s (its path reports), in bit/s.
func TestCapacityFromPeerReports(t *testing.T) {
	m := &MobileRouter{peerRate: map[paths.BID]*rateFilter{}}
	m.onPeerReport([]msg.PathMetrics{{BID: 1, DeliveryRate: 1_000_000}, {BID: 2, DeliveryRate: 0}})
	m.onPeerReport([]msg.PathMetrics{{BID: 1, DeliveryRate: 250_000}})
	if got := m.capacity(1); got != 8_000_000 {
		t.Errorf("capacity of path 1 = %v bit/s, want the maximum 8e6", got)
	}
	if got := m.capacity(2); got != 0 {
		t.Errorf("capacity of an idle path = %v, want unknown (0)", got)
	}
	f := m.peerRate[1]
	now := time.Now()
	if got := f.max(now.Add(rateWindow + time.Second)); got != 0 {
		t.Errorf("a sample older than the window still counts: %v", got)
	}
}
