// SPDX-License-Identifier: MIT

package tunnel

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"monami/classifier"
)

// ErrClosed is returned by operations on an engine that is shutting down.
var ErrClosed = errors.New("tunnel: engine closed")

// DropReason says why the data plane dropped a packet.
type DropReason uint8

// Drop reasons. Keep dropReasonNames in step.
const (
	DropBadFrame        DropReason = iota // datagram too short, unknown type or zero BID
	DropUnknownReceiver                   // receiver index names no live session
	DropBIDMismatch                       // frame's BID is not the path it arrived on
	DropAuth                              // AEAD open failed: forged, corrupted or stale key
	DropReplay                            // counter seen before or older than the window
	DropBadInner                          // inner packet is not a valid IPv4/IPv6 packet
	DropUnauthorized                      // inner source outside the MR's prefixes (HA)
	DropNoSession                         // no signaling session (keys) yet
	DropNoPath                            // no live path, or no endpoint known for any path
	DropNoRoute                           // destination belongs to no mobile router (HA)
	DropSendError                         // the socket refused the datagram
	DropTUNError                          // reading or writing the TUN failed
	DropLinkLocal                         // link-scope or multicast packet from the TUN: never tunneled
	DropKeyExpired                        // the keys are older than the key lifetime: no rekey came
	DropPolicy                            // a policy rule says drop (mode drop, or strict and unsatisfiable)
	DropDuplicate                         // a later copy of a packet a redundant policy sent on several paths
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{
	"bad_frame", "unknown_receiver", "bid_mismatch", "auth", "replay", "bad_inner",
	"unauthorized_source", "no_session", "no_path", "no_route", "send_error", "tun_error", "link_local",
	"key_expired", "policy", "duplicate",
}

// String returns the snake_case name used in metrics.
func (r DropReason) String() string {
	if r < numDropReasons {
		return dropReasonNames[r]
	}
	return "unknown"
}

// DropReasons lists every reason, in order, for exporters.
func DropReasons() []DropReason {
	rs := make([]DropReason, numDropReasons)
	for i := range rs {
		rs[i] = DropReason(i)
	}
	return rs
}

// drops counts drops by reason. The zero value is ready to use.
type drops [numDropReasons]atomic.Uint64

func (d *drops) add(r DropReason, n int) { d[r].Add(uint64(n)) }

func (d *drops) snapshot() map[string]uint64 {
	m := make(map[string]uint64, numDropReasons)
	for i := range d {
		m[DropReason(i).String()] = d[i].Load()
	}
	return m
}

// counters are one path's traffic counters, updated once per batch.
type counters struct {
	txPackets, txBytes atomic.Uint64
	rxPackets, rxBytes atomic.Uint64
	keepalivesTx       atomic.Uint64
	keepalivesRx       atomic.Uint64
	hedged             atomic.Uint64 // packets also sent on another path while this one looked dead
}

// PathStats is a snapshot of one path's counters, as seen by one side.
type PathStats struct {
	BID          uint16 `json:"bid"`
	Name         string `json:"name,omitempty"`     // uplink name (MR) or peer name (HA)
	Endpoint     string `json:"endpoint,omitempty"` // remote endpoint
	Up           bool   `json:"up"`                 // MR: an authenticated packet came back; HA: endpoint known
	TxPackets    uint64 `json:"tx_packets"`
	TxBytes      uint64 `json:"tx_bytes"`
	RxPackets    uint64 `json:"rx_packets"`
	RxBytes      uint64 `json:"rx_bytes"`
	KeepalivesTx uint64 `json:"keepalives_tx"`
	KeepalivesRx uint64 `json:"keepalives_rx"`
	// Hedged counts this path's data packets that were also sent, as
	// copies, on another path because this one had gone silent (a
	// suspect path, before it is declared Down).
	Hedged uint64 `json:"hedged,omitempty"`
	// Mobile router only: liveness and measured characteristics.
	Suspect      bool    `json:"suspect,omitempty"`       // Up, but a reply is overdue
	RTTMicros    int64   `json:"rtt_us,omitempty"`        // last probe round-trip time
	RecentMicros int64   `json:"recent_rtt_us,omitempty"` // smaller of the last two round-trip times
	SRTTMicros   int64   `json:"srtt_us,omitempty"`       // smoothed round-trip time (RFC 6298)
	RTTVarMicros int64   `json:"rttvar_us,omitempty"`     // round-trip time variation
	JitterMicros int64   `json:"jitter_us,omitempty"`     // RFC 3550 jitter of RTT samples
	Loss         float64 `json:"loss"`                    // fraction of the last 100 probes lost
	Changes      uint64  `json:"state_changes"`           // Up/Down transitions so far
	Demoted      bool    `json:"demoted,omitempty"`       // at its data cap: used only if nothing else is Up
}

func (c *counters) fill(s *PathStats) {
	s.TxPackets = c.txPackets.Load()
	s.TxBytes = c.txBytes.Load()
	s.RxPackets = c.rxPackets.Load()
	s.RxBytes = c.rxBytes.Load()
	s.KeepalivesTx = c.keepalivesTx.Load()
	s.KeepalivesRx = c.keepalivesRx.Load()
	s.Hedged = c.hedged.Load()
}

// dropLog logs dropped packets at debug level, at most a few per second
// (the data plane never logs per packet without a limit).
type dropLog struct {
	log   *slog.Logger
	limit rate.Sometimes
}

func newDropLog(log *slog.Logger) *dropLog {
	return &dropLog{log: log, limit: rate.Sometimes{First: 10, Interval: time.Second}}
}

func (d *dropLog) packet(r DropReason, p *classifier.Parsed) {
	if !d.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	d.limit.Do(func() {
		d.log.Debug("packet dropped", "reason", r.String(), "src", p.Src, "dst", p.Dst, "proto", p.Proto, "sport", p.SrcPort, "dport", p.DstPort)
	})
}

// linkScoped reports whether a packet read from the TUN must stay on its
// link: multicast or link-local destinations, unspecified sources (the
// kernel's MLD and router solicitations on a fresh interface).
func linkScoped(p *classifier.Parsed) bool {
	return p.Dst.IsMulticast() || p.Dst.IsLinkLocalUnicast() || p.Src.IsUnspecified() || p.Src.IsLinkLocalUnicast()
}
