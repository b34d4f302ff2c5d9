// SPDX-License-Identifier: MIT

// Package probe is monami's path characteristics examiner (module B): per
// path, an [Estimator] of RTT, jitter, loss and delivery rate, and a
// [Liveness] state machine that decides when to probe and when the path is
// suspect, Down or Up again. It owns no socket, no timer and no goroutine:
// the goroutine that owns a path (the path maintainer, paths/pathset, or
// the data plane's per-path loop) reads the clock once per batch and passes
// that `now` to every call, sends the probes Tick asks for, and publishes
// State, Suspect and Estimator().Snapshot() to the scheduler. The package is
// deterministic, makes no allocation after construction, and imports only the
// standard library and monami/paths (never sockets, netlink, slog, or
// anything else of monami).
//
// # Concurrency
//
// Nothing here is safe for concurrent use: one goroutine owns each
// Liveness (and its Estimator) and calls every method, with times that
// never decrease. Snapshot returns plain values that may be handed to other
// goroutines.
//
// # The owner's loop
//
//	l := probe.NewLiveness(cfg, now)          // per path; Down, probes at once
//	// per batch, with now := time.Now():
//	l.OnSend(now)                             // sent data that the peer acknowledges
//	l.Estimator().OnProbeAck(now, seq)        // a probe reply (takes the RTT sample) …
//	l.OnReceive(now)                          // … and any reply/feedback proving the peer heard us
//	l.Estimator().OnRTT(rtt)                  // RTT sample carried by feedback
//	l.Estimator().OnPackets(acked, lost)      // packet outcomes carried by feedback
//	l.Estimator().OnDelivered(now, bytes)     // bytes the peer reports delivered
//	l.LinkDown(now) / l.LinkUp(now)           // from paths/linkmon
//	probe, changed := l.Tick(now)             // changed: publish l.State()
//	if probe {                                // send one probe …
//		l.Estimator().OnProbeSent(now, seq)   // … with a strictly increasing seq
//	}
//	timer.Reset(l.NextTick(now).Sub(now))     // sleep until the next deadline
//
// OnReceive must only be called for packets that prove the peer received
// ours (probe replies, acknowledgements, feedback). The peer's own data
// proves only the reverse direction: counting it would hide a failure of
// our direction on this side (research/reliability.md S09). On a busy path
// feedback should come at least every SuspectAfter (150 ms); rarer feedback
// makes the path flicker Suspect (and be probed) between reports.
//
// # Estimator
//
//   - RTT: SRTT and RTTVAR per RFC 6298 §2 (α = 1/8, β = 1/4, the first
//     sample sets SRTT = R, RTTVAR = R/2), from probe replies and from RTT
//     samples the owner takes from feedback on data.
//   - Jitter: RFC 3550 §6.4.1's interarrival jitter applied to successive
//     RTT samples, J += (|R_i − R_{i−1}| − J)/16.
//   - Loss: the fraction of losses among the last LossWindow (100)
//     outcomes. A probe is lost when no reply came within
//     max(2×SRTT + 4×RTTVAR, 200 ms) (1 s before the first RTT sample) or
//     when 64 newer probes were sent; a reply that comes later still gives
//     its RTT sample and turns the loss back into a delivery. Feedback adds
//     counts of delivered and lost packets (OnPackets).
//   - Delivery rate: bytes the peer reports delivered over intervals of at
//     least max(100 ms, SRTT), each a sample in bytes/s; DeliveryRate is
//     the maximum sample of the last RateWindow (10 s), kept with a
//     windowed max filter as BBR does for bottleneck bandwidth.
//
// # Liveness
//
// A path is Down or Up ([paths.State]); an Up path may also be Suspect,
// a fast, unthrottled hint for schedulers. Instants are measured from the
// last OnReceive (the silence) and from the first send after it (the
// pending send). A send is overdue once unanswered for
// G = SRTT + clamp(4×RTTVAR, 25 ms, max(25 ms, SRTT/4)).
//
//   - Probing. An Up path is probed only when idle: when nothing that
//     elicits a reply was sent for IdleProbeInterval (550 ms), so busy
//     paths are measured by their data. A Suspect path, and a Down path
//     whose replies have resumed, is probed every SuspectProbeInterval
//     (50 ms). A Down path with no replies is probed every 550 ms, a path
//     whose link is down not at all, and a new path or one whose link came
//     up at once.
//   - Suspect: a send is overdue and the silence is at least SuspectAfter
//     (150 ms). Any OnReceive clears it.
//   - Down: Suspect, the silence is at least max(DownAfter, 4×SRTT) (850
//     ms), and the DownAfterProbes-th (3rd) probe since the last receive is
//     overdue too, so a single lost probe never takes a path down. LinkDown
//     takes it Down at once.
//   - Busy: a path its owner marks busy ([Liveness.SetBusy]: it carries
//     data that gets no feedback of its own, like monami's data plane) is
//     probed every BusyProbeInterval (100 ms) while Up, and goes Down
//     after a silence of max(BusyDownAfter, 4×SRTT) (450 ms): about half
//     a second after a blackhole, before a TCP sender's second
//     retransmission timeout (TestBusyBlackhole).
//   - Up: a run of replies with no overdue silence of SuspectAfter between
//     them has lasted UpAfter (800 ms) and holds UpAfterProbes (3) replies;
//     QuickUpAfter (200 ms) instead if the path had been Down for LongDown
//     (5 s) when the run began: a path back from a long outage is not
//     flapping (TestQuickRejoinAfterLongOutage: Up ≤ 1 s after the heal).
//     After [Liveness.Renew] (a new session with the peer), a Down path
//     comes Up at its first reply, MinDwell or not.
//   - Dwell: Tick changes the state only MinDwell (2 s) after the previous
//     change (LinkDown's included); LinkDown alone ignores the dwell.
//
// # How the defaults meet the budgets
//
// Link down ≤ 100 ms: LinkDown changes the state within the call; the
// budget is linkmon's netlink latency.
//
// Silent blackhole ≤ 1 s at RTT ≤ 200 ms. Let t be the last reply. On an
// idle path the next probe leaves at p ≤ t + 550 ms − RTT; it is overdue,
// and the path Suspect, at p + G; the 2nd and 3rd probes leave at p + G and
// p + G + 50 ms (G ≥ 50 ms for RTTs where it matters), so the 3rd is
// overdue at p + 50 ms + 2G. With G ≤ RTT +
// max(25 ms, RTT/4) that is ≤ t + 900 ms for RTT ≤ 200 ms, and Down comes
// at max(t + 850 ms, that) ≤ t + 900 ms. On a busy path the pending send
// follows t at once, so Down comes at t + 850 ms. Measured (TestBlackhole,
// every phase of the fault in the probe cycle, RTT 1–200 ms, idle or
// busy): with Tick at NextTick or every 10 ms, Down ≤ 860 ms after the
// last reply and ≤ 957 ms after the fault; with Tick every 50 ms, ≤ 900 ms
// and ≤ 997 ms. The price of this budget: on an idle path with RTT
// 200 ms, three probes lost in a row (the idle one and the first two fast
// ones) take the path down; at RTT 50 ms it takes six.
//
// Rejoin ≤ 2 s. A Down path is probed at least every 550 ms, so its first
// reply comes ≤ 550 ms + RTT after the path heals; fast probes then fill
// the run, and the path is Up UpAfter later: ≤ 1.55 s at RTT 200 ms. The
// dwell can delay that to 2 s after the Down, which is no later than 2 s
// after the heal since the heal follows the Down. After LinkUp the probe
// leaves at once: Up ≤ RTT + 800 ms later, or at the end of the dwell.
// Measured (TestRejoin): ≤ 2 s after the heal, ≤ 1.55 s when the dwell
// had ended.
//
// At most one change per 2 s: MinDwell = 2 s between changes made by Tick.
// A path flapping faster than UpAfter never even comes back Up: every 500
// ms of blackhole or link loss breaks the run of replies (TestFlapping: one
// change in 20 s). The price: for MinDwell after a path came Up it cannot
// be taken Down by a blackhole, only flagged Suspect (schedulers should
// avoid suspect paths), and a LinkDown within 2 s of an Up makes a second
// change within 2 s; the link must have been up for UpAfter first.
//
// Idle probing ≤ 2 kbit/s per path: one probe per 550 ms, and a probe and
// its reply of ≤ 68 bytes each on the wire (IPv4 20 + UDP 8 + frame header
// 16 + probe body 8 + AEAD tag 16): 2 × 68 × 8 bit / 0.55 s = 1978 bit/s
// for both directions together, 989 bit/s each way (TestIdleProbeCost: 109
// probes in 60 s, 1977 bit/s). With IPv6 outer headers (88 bytes) it is
// 2560 bit/s together, 1280 bit/s each way. The budget assumes that one
// end, the MR, probes idle paths: its probes and their replies prove both
// directions, and the MR tells the HA of path state by signaling. If the HA
// runs a Liveness per path as well, its idle probes double the cost unless
// it sets a long IdleProbeInterval. A Down path sends one unanswered probe
// per 550 ms; a Suspect path 20 probes/s for under a second.
//
// # Metrics
//
// None of its own: the owner exports State, Suspect and Stats (SRTT,
// RTTVar, Jitter, Loss, DeliveryRate, …) per BID.
package probe
