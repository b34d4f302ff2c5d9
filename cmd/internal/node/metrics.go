// SPDX-License-Identifier: MIT

package node

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"monami/cmd/internal/daemon"
	"monami/tunnel"
)

// Metric names, one family per counter; see README "Metrics".
var (
	pathLabels = []string{"mr", "bid", "uplink"}

	descTxPackets = prometheus.NewDesc("monami_path_tx_packets_total", "Datagrams sent on a path (data and keepalives).", pathLabels, nil)
	descTxBytes   = prometheus.NewDesc("monami_path_tx_bytes_total", "Bytes of datagrams sent on a path, frame overhead included.", pathLabels, nil)
	descRxPackets = prometheus.NewDesc("monami_path_rx_packets_total", "Authenticated datagrams received on a path.", pathLabels, nil)
	descRxBytes   = prometheus.NewDesc("monami_path_rx_bytes_total", "Bytes of authenticated datagrams received on a path.", pathLabels, nil)
	descKATx      = prometheus.NewDesc("monami_path_keepalives_tx_total", "Keepalives sent on a path.", pathLabels, nil)
	descKARx      = prometheus.NewDesc("monami_path_keepalives_rx_total", "Keepalives received on a path.", pathLabels, nil)
	descUp        = prometheus.NewDesc("monami_path_up", "1 if the path is confirmed (MR) or has a known endpoint (HA).", pathLabels, nil)
	descSuspect   = prometheus.NewDesc("monami_path_suspect", "1 if the path is up but a probe reply is overdue (router).", pathLabels, nil)
	descSRTT      = prometheus.NewDesc("monami_path_srtt_seconds", "Smoothed round-trip time of the path's probes (router).", pathLabels, nil)
	descRTTVar    = prometheus.NewDesc("monami_path_rttvar_seconds", "Round-trip time variation of the path (router).", pathLabels, nil)
	descJitter    = prometheus.NewDesc("monami_path_jitter_seconds", "RFC 3550 jitter of the path's round-trip times (router).", pathLabels, nil)
	descLoss      = prometheus.NewDesc("monami_path_loss_ratio", "Fraction of the path's last 100 probes lost (router).", pathLabels, nil)
	descDrops     = prometheus.NewDesc("monami_tunnel_drops_total", "Packets dropped by the data plane, by reason.", []string{"reason"}, nil)
	descSession   = prometheus.NewDesc("monami_signaling_session", "1 while a signaling session with the peer is established.", []string{"mr"}, nil)

	descUpdates    = prometheus.NewDesc("monami_signaling_binding_updates_total", "Binding updates sent after session set-up (router).", nil, nil)
	descRetrans    = prometheus.NewDesc("monami_signaling_retransmits_total", "Binding updates sent again for want of an acknowledgement (router).", nil, nil)
	descRekeys     = prometheus.NewDesc("monami_signaling_rekeys_total", "Data-plane key generations installed after set-up (router).", nil, nil)
	descMigrations = prometheus.NewDesc("monami_signaling_migrations_total", "Moves of the signaling connection to another uplink (router).", nil, nil)
	descDemoted    = prometheus.NewDesc("monami_path_demoted", "1 if the path's uplink is at its data cap (router).", pathLabels, nil)
	descUsage      = prometheus.NewDesc("monami_uplink_bytes", "Bytes an uplink carried in the current window (router).", []string{"uplink", "window"}, nil)
	descRules      = prometheus.NewDesc("monami_policy_rules", "Filter rules of the current resolution, by target (router).", []string{"target"}, nil)
	descPolErrors  = prometheus.NewDesc("monami_policy_errors", "Policies the current paths cannot satisfy (router).", nil, nil)
	descCache      = prometheus.NewDesc("monami_flow_cache_lookups_total", "Flow cache lookups of the data path, by result (router).", []string{"result"}, nil)
)

type emitFunc = func(desc *prometheus.Desc, vt prometheus.ValueType, v float64, labels ...string)

func emitPath(emit emitFunc, mr string, ps tunnel.PathStats, uplink string) {
	l := []string{mr, strconv.Itoa(int(ps.BID)), uplink}
	emit(descTxPackets, prometheus.CounterValue, float64(ps.TxPackets), l...)
	emit(descTxBytes, prometheus.CounterValue, float64(ps.TxBytes), l...)
	emit(descRxPackets, prometheus.CounterValue, float64(ps.RxPackets), l...)
	emit(descRxBytes, prometheus.CounterValue, float64(ps.RxBytes), l...)
	emit(descKATx, prometheus.CounterValue, float64(ps.KeepalivesTx), l...)
	emit(descKARx, prometheus.CounterValue, float64(ps.KeepalivesRx), l...)
	up := 0.0
	if ps.Up {
		up = 1
	}
	emit(descUp, prometheus.GaugeValue, up, l...)
	if mr != "" {
		return // the home agent does not probe (yet)
	}
	suspect := 0.0
	if ps.Suspect {
		suspect = 1
	}
	emit(descSuspect, prometheus.GaugeValue, suspect, l...)
	emit(descSRTT, prometheus.GaugeValue, float64(ps.SRTTMicros)/1e6, l...)
	emit(descRTTVar, prometheus.GaugeValue, float64(ps.RTTVarMicros)/1e6, l...)
	emit(descJitter, prometheus.GaugeValue, float64(ps.JitterMicros)/1e6, l...)
	emit(descLoss, prometheus.GaugeValue, ps.Loss, l...)
}

func emitDrops(emit emitFunc, drops map[string]uint64) {
	for _, r := range tunnel.DropReasons() {
		emit(descDrops, prometheus.CounterValue, float64(drops[r.String()]), r.String())
	}
}

// Collector returns the router's Prometheus collector.
func (m *MobileRouter) Collector() prometheus.Collector {
	return daemon.NewCollector(func(emit emitFunc) {
		st := m.engine.Stats()
		for _, ps := range st.Paths {
			emitPath(emit, "", ps, ps.Name)
		}
		emitDrops(emit, st.Drops)
		up := 0.0
		if m.connected.Load() {
			up = 1
		}
		emit(descSession, prometheus.GaugeValue, up, "")
		cs := m.client.Stats()
		emit(descUpdates, prometheus.CounterValue, float64(cs.UpdatesTotal))
		emit(descRetrans, prometheus.CounterValue, float64(cs.RetransmitsTotal))
		emit(descRekeys, prometheus.CounterValue, float64(cs.RekeysTotal))
		emit(descMigrations, prometheus.CounterValue, float64(cs.MigrationsTotal))
		for _, ps := range st.Paths {
			d := 0.0
			if ps.Demoted {
				d = 1
			}
			emit(descDemoted, prometheus.GaugeValue, d, "", strconv.Itoa(int(ps.BID)), ps.Name)
		}
		for name, mt := range m.meters {
			day, month := mt.Usage()
			emit(descUsage, prometheus.GaugeValue, float64(day), name, "day")
			emit(descUsage, prometheus.GaugeValue, float64(month), name, "month")
		}
		local, peer, errs := m.pol.counts()
		emit(descRules, prometheus.GaugeValue, float64(local), "local")
		emit(descRules, prometheus.GaugeValue, float64(peer), "peer")
		emit(descPolErrors, prometheus.GaugeValue, float64(errs))
		fc := m.engine.FlowCacheStats()
		emit(descCache, prometheus.CounterValue, float64(fc.HitsTotal), "hit")
		emit(descCache, prometheus.CounterValue, float64(fc.MissesTotal), "miss")
	})
}

// Collector returns the home agent's Prometheus collector.
func (h *HomeAgent) Collector() prometheus.Collector {
	return daemon.NewCollector(func(emit emitFunc) {
		st := h.engine.Stats()
		for _, pe := range st.Peers {
			for _, ps := range pe.Paths {
				emitPath(emit, pe.Name, ps, "")
			}
			up := 0.0
			if pe.Session {
				up = 1
			}
			emit(descSession, prometheus.GaugeValue, up, pe.Name)
		}
		emitDrops(emit, st.Drops)
	})
}
