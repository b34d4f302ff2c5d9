// SPDX-License-Identifier: MIT

// Package linkmon watches a network namespace's links and addresses through
// rtnetlink and reports the uplinks that appear, go up or down, and gain or
// lose addresses. It is the uplink-discovery half of the path maintainer
// (module A): paths/pathset consumes its events, making an uplink that is
// up with a usable address a path, taking a path down at once when its
// uplink goes down or loses its address, and treating an address change as
// a new care-of address. Uplinks are chosen by Selector: exact name, glob
// (VLAN sub-interfaces such as "eth0.*" included) or link type ("wifi",
// "wwan", "ethernet", ...); an interface may carry several addresses.
//
// It owns one NETLINK_ROUTE socket subscribed to the link and IPv4/IPv6
// address groups, opened in the namespace of Options.Namespace. One socket
// keeps the kernel's order across links and addresses; the socket's own
// dump (links, then addresses) seeds the state, and notifications that
// arrive during the dump are applied in order, so the first report is the
// namespace's state, not a race between a dump and a subscription. When the
// kernel drops notifications (ENOBUFS) the Monitor dumps again and reports
// the difference; when the socket fails it is reopened with backoff and the
// same reconciliation follows, so links and addresses that vanished
// meanwhile are reported removed.
//
// A change reaches the events channel as soon as the kernel announces it:
// nothing is batched or delayed (under a millisecond from the netlink
// command on an idle machine; the tests require 100 ms for link-down and
// address removal). The kernel itself announces carrier changes through
// its linkwatch work, after the command that caused them, and a link's
// deletion only when the deletion completes (tens of milliseconds).
//
// # Concurrency
//
// Run is the Monitor's only goroutine (the caller's); the Monitor starts no
// goroutine of its own beyond context.AfterFunc's, which closes the socket
// when the context is done. Run owns the link model; Links returns an
// immutable published snapshot and Stats atomic counters, both safe for
// concurrent use. Run blocks on a full events channel (see Run).
//
// # Imports
//
// Standard library, golang.org/x/sys/unix, github.com/vishvananda/netlink/nl
// (the namespaced, poller-driven netlink socket) and
// github.com/vishvananda/netns; of monami nothing (not even paths: the
// consumer maps links to BIDs). It must not import the data plane, the
// control plane, configs or the log package.
//
// # Metrics
//
// Stats counters (exported by cmd as linkmon_<name>_total): events,
// resyncs, overruns, reopens, bad_messages.
package linkmon
