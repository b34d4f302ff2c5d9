// SPDX-License-Identifier: MIT

package linkmon

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
)

// Link is one network interface as the Monitor sees it. Links are values;
// a Link handed out by the Monitor is the caller's to keep and modify.
type Link struct {
	// Index is the kernel's interface index, stable while the link exists.
	Index int
	// Name is the interface name ("wan1", "eth0.10").
	Name string
	// Type is the link's kind, one of the names a Selector's Type takes
	// ("ethernet", "wifi", "wwan", "vlan", "veth", ...; see Selector), or
	// else the kernel's link kind ("ifb", "macsec", ...), or for a
	// physical device of another hardware type "none", "rawip" or
	// "arphrdN" (N its ARPHRD number).
	Type string
	// Up reports whether the link can carry traffic: administratively up
	// and operationally up (IFF_UP and IFF_RUNNING: carrier present and not
	// dormant, so an unassociated Wi-Fi link is down).
	Up bool
	// Addrs are the link's usable addresses with their prefix lengths
	// (198.18.1.2/24), sorted by netip.Prefix.Compare: scope global,
	// neither tentative (IPv6 duplicate address detection still running)
	// nor failed DAD nor deprecated (preferred lifetime over). Such an
	// address becomes usable, and is reported as added, when the kernel
	// clears the flag (IPv6 addresses added to a down link, even with
	// nodad, stay tentative until it is up). A point-to-point address with a peer is reported
	// as the local address with a full-length prefix. Addrs are listed
	// whether or not the link is Up.
	Addrs []netip.Prefix
}

// Usable reports whether l can carry a path: it is up and has an address.
func (l Link) Usable() bool { return l.Up && len(l.Addrs) > 0 }

// clone returns l with its own Addrs (nil when empty).
func (l Link) clone() Link {
	if len(l.Addrs) == 0 {
		l.Addrs = nil
	} else {
		l.Addrs = slices.Clone(l.Addrs)
	}
	return l
}

// EventKind says what changed.
type EventKind uint8

const (
	// LinkAdded: a link matching the selectors appeared (or was renamed
	// into a selector's match). Event.Link is down and has no addresses;
	// LinkUp and AddrAdded events follow as appropriate.
	LinkAdded EventKind = iota + 1
	// LinkRemoved: the link was deleted, moved to another namespace, or
	// renamed out of the selectors' match. AddrRemoved for each address
	// and LinkDown (if it was up) precede it.
	LinkRemoved
	// LinkUp: the link became able to carry traffic.
	LinkUp
	// LinkDown: the link lost carrier or was set down.
	LinkDown
	// AddrAdded: Event.Addr became usable on the link.
	AddrAdded
	// AddrRemoved: Event.Addr was deleted or became unusable.
	AddrRemoved
)

func (k EventKind) String() string {
	switch k {
	case LinkAdded:
		return "link-added"
	case LinkRemoved:
		return "link-removed"
	case LinkUp:
		return "link-up"
	case LinkDown:
		return "link-down"
	case AddrAdded:
		return "addr-added"
	case AddrRemoved:
		return "addr-removed"
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// Event is one change of one link. Applying a Monitor's events in order to
// an empty map of links, keyed by Index (LinkRemoved deletes the entry,
// every other kind stores Event.Link), reproduces Monitor.Links once the
// consumer has caught up.
type Event struct {
	Kind EventKind
	// Link is the link as it stands after this event: during a burst (a
	// link appearing with two addresses) each event's Link shows one more
	// step. Its Addrs slice is the receiver's own.
	Link Link
	// Addr is the address added or removed; zero for link events.
	Addr netip.Prefix
	// Time is when the Monitor read the kernel's notification.
	Time time.Time
}

// logMsg is the log message of an event of kind k.
func (k EventKind) logMsg() string {
	switch k {
	case LinkAdded:
		return "link added"
	case LinkRemoved:
		return "link removed"
	case LinkUp:
		return "link up"
	case LinkDown:
		return "link down"
	case AddrAdded:
		return "address added"
	case AddrRemoved:
		return "address removed"
	}
	return "link event"
}

func (e Event) String() string {
	s := e.Kind.String() + " " + e.Link.Name
	if e.Addr.IsValid() {
		s += " " + e.Addr.String()
	}
	return s
}

// Selector chooses interfaces. Every field that is set must match; a
// Selector with no field set is invalid.
//
//   - Name: the exact interface name.
//   - Glob: a path.Match pattern on the name ("wwan*"; "eth0.*" for the
//     VLANs of eth0).
//   - Type: the link's kind: "ethernet" (a physical Ethernet device),
//     "wifi" (a physical device with a wireless or phy80211 entry or
//     DEVTYPE=wlan in sysfs), "wwan" or its alias "cellular" (the kernel's
//     wwan or rmnet links, DEVTYPE=wwan in sysfs, or a physical device
//     named wwan*), "ppp", "vlan", "veth", "dummy", "bridge", "bond",
//     "macvlan", "ipvlan", "vxlan", "wireguard", "tun", "loopback", or
//     "any" (every link but loopback).
type Selector struct {
	Name string
	Glob string
	Type string
}

// knownTypes are the names a Selector's Type accepts.
var knownTypes = [...]string{
	"any", "ethernet", "wifi", "wwan", "cellular", "ppp", "vlan", "veth",
	"dummy", "bridge", "bond", "macvlan", "ipvlan", "vxlan", "wireguard",
	"tun", "loopback",
}

// Matches reports whether l is chosen by s.
func (s Selector) Matches(l Link) bool {
	if s == (Selector{}) {
		return false
	}
	if s.Name != "" && s.Name != l.Name {
		return false
	}
	if s.Glob != "" {
		if ok, _ := path.Match(s.Glob, l.Name); !ok {
			return false
		}
	}
	switch t := strings.ToLower(s.Type); t {
	case "":
	case "any":
		if l.Type == typeLoopback {
			return false
		}
	case "cellular":
		if l.Type != typeWWAN {
			return false
		}
	default:
		if l.Type != t {
			return false
		}
	}
	return true
}

// validate reports what is wrong with s.
func (s Selector) validate() error {
	if s == (Selector{}) {
		return errors.New("selector sets none of name, glob, type")
	}
	if s.Glob != "" {
		if _, err := path.Match(s.Glob, ""); err != nil {
			return fmt.Errorf("glob %q: %w", s.Glob, err)
		}
	}
	if s.Type != "" && !slices.Contains(knownTypes[:], strings.ToLower(s.Type)) {
		return fmt.Errorf("unknown type %q (known: %s)", s.Type, strings.Join(knownTypes[:], ", "))
	}
	return nil
}

// Options configure a Monitor. The zero value watches every link but
// loopback in the process's network namespace.
type Options struct {
	// Logger receives lifecycle and state-change records; nil discards.
	Logger *slog.Logger
	// Selectors choose the links to report: a link is reported if any
	// selector matches it. Empty: every link but loopback (which includes
	// the router's own TUN device; configure selectors in production).
	Selectors []Selector
	// Namespace is the network namespace to watch; nil means the
	// namespace of the process. The handle is borrowed: it must stay open
	// while Run runs (Run reopens its socket there after errors).
	Namespace *netns.NsHandle
	// SysFS is /sys/class/net as seen for the watched namespace, read to
	// tell Wi-Fi and WWAN devices from Ethernet. nil means
	// os.DirFS("/sys/class/net"), which shows the namespace in which /sys
	// was mounted (ip netns exec remounts it); with a Namespace other than
	// the process's own, physical devices may be misclassified unless
	// SysFS points at a matching sysfs.
	SysFS fs.FS
}

// Monitor watches the links and addresses of one network namespace through
// one rtnetlink socket and reports changes of the links its selectors
// choose.
//
// Links and Stats are safe for concurrent use; Run must not be called
// concurrently with itself.
type Monitor struct {
	// Immutable after New.
	log    *slog.Logger
	sel    []Selector
	ns     *netns.NsHandle
	sysfs  fs.FS
	rcvbuf int                     // socket receive buffer; tests shrink it to provoke overruns
	onOpen func(*nl.NetlinkSocket) // tests: called with each socket opened; nil otherwise

	// Atomic.
	running atomic.Bool
	links   atomic.Pointer[[]Link] // published snapshot, sorted by index; never modified
	stats   Stats

	// Owned by the goroutine in Run.
	all   map[int]*entry // every link of the namespace, from the last resync on
	shown map[int]Link   // links chosen by the selectors, as last reported
}

// defaultRcvbuf is the netlink socket receive buffer: room for some ten
// thousand notifications before the kernel drops any and a resync follows.
const defaultRcvbuf = 4 << 20

// New validates opts and returns a Monitor; it opens nothing until Run.
func New(opts Options) (*Monitor, error) {
	var errs []error
	for i, s := range opts.Selectors {
		if err := s.validate(); err != nil {
			errs = append(errs, fmt.Errorf("linkmon: selectors[%d]: %w", i, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m := &Monitor{
		log:    opts.Logger,
		sel:    slices.Clone(opts.Selectors),
		ns:     opts.Namespace,
		sysfs:  opts.SysFS,
		rcvbuf: defaultRcvbuf,
		all:    map[int]*entry{},
		shown:  map[int]Link{},
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.log = m.log.With("component", "linkmon")
	if m.sysfs == nil {
		m.sysfs = os.DirFS("/sys/class/net")
	}
	return m, nil
}

// Links returns the chosen links as Run last saw them (nil before Run has
// read its first dump), sorted by index. Run publishes a state before it
// sends the events that lead to it, so Links may be ahead of the events a
// consumer has received. The slice is a fresh copy. Safe for concurrent
// use.
func (m *Monitor) Links() []Link {
	p := m.links.Load()
	if p == nil {
		return nil
	}
	out := make([]Link, len(*p))
	for i, l := range *p {
		out[i] = l.clone()
	}
	return out
}

// Stats returns the Monitor's counters.
func (m *Monitor) Stats() *Stats { return &m.stats }

// Stats are the counters of a Monitor. Read them with Snapshot.
type Stats struct {
	EventsTotal      atomic.Uint64 // events delivered
	ResyncsTotal     atomic.Uint64 // full dumps of links and addresses, the first one included
	OverrunsTotal    atomic.Uint64 // times the kernel dropped notifications (ENOBUFS), each followed by a resync
	ReopensTotal     atomic.Uint64 // times the socket failed and was opened again
	BadMessagesTotal atomic.Uint64 // messages that did not parse, or not from the kernel; dropped
}

// StatsSnapshot is a copy of Stats at one moment.
type StatsSnapshot struct {
	EventsTotal      uint64
	ResyncsTotal     uint64
	OverrunsTotal    uint64
	ReopensTotal     uint64
	BadMessagesTotal uint64
}

// Snapshot returns the current counter values.
func (s *Stats) Snapshot() StatsSnapshot {
	return StatsSnapshot{
		EventsTotal:      s.EventsTotal.Load(),
		ResyncsTotal:     s.ResyncsTotal.Load(),
		OverrunsTotal:    s.OverrunsTotal.Load(),
		ReopensTotal:     s.ReopensTotal.Load(),
		BadMessagesTotal: s.BadMessagesTotal.Load(),
	}
}
