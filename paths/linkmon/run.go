// SPDX-License-Identifier: MIT

package linkmon

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Backoff between attempts to reopen a failed socket.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

var (
	errDumpInterrupted = errors.New("dump interrupted by a concurrent change")
	errOverrun         = errors.New("notifications lost during dump")
)

// Run watches the namespace until ctx is done, sending events on events
// (which may be nil: Links is kept current either way). It returns nil on
// cancellation, an error if its first netlink socket cannot be opened,
// and ErrRunning if it is already running. Run may be called again after
// it returned: the new run reports what changed meanwhile.
//
// Run first reports the current state: LinkAdded, LinkUp and AddrAdded for
// every chosen link. It then reports each change as the kernel announces
// it, before reading the next notification.
//
// Run blocks on a full events channel; it does not drop or merge events
// there. While it blocks, the kernel keeps queueing notifications in the
// socket (4 MiB, some ten thousand changes); if that overflows, the kernel
// drops notifications, and Run, once unblocked, dumps all links and
// addresses again and reports the difference to what it reported last
// (so in that case short-lived intermediate states are merged, and no
// final state is lost). The same resync follows a socket error, after the
// socket is reopened with backoff.
func (m *Monitor) Run(ctx context.Context, events chan<- Event) error {
	if !m.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer m.running.Store(false)
	s, err := m.open()
	if err != nil {
		return fmt.Errorf("linkmon: subscribe: %w", err)
	}
	m.log.Info("watching links", "selectors", len(m.sel))
	backoff := minBackoff
	for {
		start := time.Now()
		err := m.serve(ctx, s, events)
		if ctx.Err() != nil {
			return nil
		}
		m.stats.ReopensTotal.Add(1)
		m.log.Warn("netlink socket failed; reopening", "err", err)
		if time.Since(start) > maxBackoff {
			backoff = minBackoff
		}
		for {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			backoff = min(2*backoff, maxBackoff)
			if s, err = m.open(); err == nil {
				break
			}
			m.log.Warn("netlink socket reopen failed", "err", err)
		}
	}
}

// ErrRunning is returned by Run when the Monitor is already running.
var ErrRunning = errors.New("linkmon: already running")

// open opens an rtnetlink socket in the watched namespace, subscribed to
// link and address notifications.
func (m *Monitor) open() (*nl.NetlinkSocket, error) {
	ns := netns.None()
	if m.ns != nil {
		ns = *m.ns
	}
	s, err := nl.SubscribeAt(ns, netns.None(), unix.NETLINK_ROUTE,
		unix.RTNLGRP_LINK, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR)
	if err != nil {
		return nil, err
	}
	// SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it the kernel caps
	// SO_RCVBUF at net.core.rmem_max.
	if err := s.SetReceiveBufferSize(m.rcvbuf, true); err != nil {
		if err := s.SetReceiveBufferSize(m.rcvbuf, false); err != nil {
			s.Close()
			return nil, fmt.Errorf("set receive buffer: %w", err)
		}
	}
	if m.onOpen != nil {
		m.onOpen(s)
	}
	return s, nil
}

// serve resyncs and then reports notifications until the socket fails or
// ctx is done; it closes s.
func (m *Monitor) serve(ctx context.Context, s *nl.NetlinkSocket, events chan<- Event) error {
	stop := context.AfterFunc(ctx, s.Close)
	defer func() {
		if stop() {
			s.Close()
		}
	}()
	for {
		if err := m.resync(s); err != nil {
			if errors.Is(err, errDumpInterrupted) || errors.Is(err, errOverrun) {
				m.log.Debug("resync again", "err", err)
				continue
			}
			return err
		}
		evs := m.resynced(time.Now())
		m.publish() // also when nothing changed: Links is ready
		if err := m.emit(ctx, events, evs); err != nil {
			return err
		}
		for {
			msgs, from, err := s.Receive()
			if errors.Is(err, unix.ENOBUFS) {
				m.stats.OverrunsTotal.Add(1)
				m.log.Warn("netlink notifications lost; resyncing")
				break
			}
			if err != nil {
				return err
			}
			now := time.Now()
			if from.Pid != nl.PidKernel {
				m.stats.BadMessagesTotal.Add(uint64(len(msgs)))
				continue
			}
			var evs []Event
			for _, msg := range msgs {
				if i, ok := m.apply(msg); ok {
					evs = m.refresh(i, now, evs)
				}
			}
			if err := m.emit(ctx, events, evs); err != nil {
				return err
			}
		}
	}
}

// resync rebuilds m.all from a dump of all links, then of all addresses,
// on s. Notifications that arrive meanwhile are applied in socket order,
// so the result is the kernel's state when the address dump ended.
func (m *Monitor) resync(s *nl.NetlinkSocket) error {
	m.stats.ResyncsTotal.Add(1)
	m.all = map[int]*entry{}
	var interrupted, overrun bool
	for _, typ := range [...]int{unix.RTM_GETLINK, unix.RTM_GETADDR} {
		req := nl.NewNetlinkRequest(typ, unix.NLM_F_DUMP)
		if typ == unix.RTM_GETLINK {
			req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
		} else {
			req.AddData(nl.NewIfAddrmsg(unix.AF_UNSPEC))
		}
		if err := s.Send(req); err != nil {
			return fmt.Errorf("dump request: %w", err)
		}
		for done := false; !done; {
			msgs, from, err := s.Receive()
			if errors.Is(err, unix.ENOBUFS) {
				// Notifications were dropped; the dump itself is not
				// (the kernel waits for room). Finish it, then redo.
				m.stats.OverrunsTotal.Add(1)
				overrun = true
				continue
			}
			if err != nil {
				return fmt.Errorf("dump: %w", err)
			}
			if from.Pid != nl.PidKernel {
				m.stats.BadMessagesTotal.Add(uint64(len(msgs)))
				continue
			}
			for _, msg := range msgs {
				if msg.Header.Seq == req.Seq {
					if msg.Header.Flags&unix.NLM_F_DUMP_INTR != 0 {
						interrupted = true
					}
					switch msg.Header.Type {
					case unix.NLMSG_DONE, unix.NLMSG_ERROR:
						if err := dumpError(msg); err != nil {
							return fmt.Errorf("dump: %w", err)
						}
						done = true
						continue
					}
				}
				m.apply(msg)
			}
		}
	}
	switch {
	case overrun:
		return errOverrun
	case interrupted:
		return errDumpInterrupted
	}
	return nil
}

// dumpError returns the errno an NLMSG_DONE or NLMSG_ERROR carries, if
// any.
func dumpError(msg syscall.NetlinkMessage) error {
	if len(msg.Data) < 4 {
		return nil
	}
	if e := int32(binary.NativeEndian.Uint32(msg.Data)); e < 0 {
		return syscall.Errno(-e)
	}
	return nil
}

// emit publishes the snapshot and sends evs, blocking until each is
// taken or ctx is done.
func (m *Monitor) emit(ctx context.Context, events chan<- Event, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	m.publish()
	for _, ev := range evs {
		m.log.Info(ev.Kind.logMsg(), "iface", ev.Link.Name, "addr", ev.Addr)
		if events != nil {
			select {
			case events <- ev:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		m.stats.EventsTotal.Add(1)
	}
	return nil
}
