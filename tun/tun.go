// SPDX-License-Identifier: MIT

package tun

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	wgtun "golang.zx2c4.com/wireguard/tun"
)

// Offset is the headroom, in bytes, callers reserve in front of each packet
// they pass to Read and Write. The wireguard device needs at least 10 (the
// virtio-net header); 16 keeps packets 8-byte aligned, as in wireguard-go.
const Offset = 16

// Defaults applied by Open to zero Options fields.
const (
	DefaultName = "monami0"
	DefaultMTU  = 1420
)

// Options configures Open. The zero value is valid: a TUN named "monami0"
// with MTU 1420, no addresses and no routes.
type Options struct {
	// Name is the interface name; empty means DefaultName. A name holding
	// "%d" lets the kernel pick the number.
	Name string
	// MTU of the interface in bytes; 0 means DefaultMTU.
	MTU int
	// Addresses are assigned to the interface, each with its prefix length
	// (198.18.10.1/24). IPv6 addresses are added with nodad, so they are
	// usable at once.
	Addresses []netip.Prefix
	// Routes are routed into the interface (scope link, protocol static).
	Routes []netip.Prefix
	// RouteMetric is the metric (priority) of Routes and of AddRoute; 0
	// leaves the kernel default.
	RouteMetric int
	// Logger receives lifecycle logs; nil discards them.
	Logger *slog.Logger
}

// Device is a configured kernel TUN. It embeds the wireguard tun.Device, so
// it can be handed to the data-plane engine as is; see the package doc for
// the offset and buffer-capacity rules of Read and Write.
type Device struct {
	wgtun.Device

	// immutable after Open
	name   string
	index  int
	metric int
	log    *slog.Logger

	events chan wgtun.Event
	wg     sync.WaitGroup // the eventLoop goroutine
	once   sync.Once
	err    error // of the first Close
}

var _ wgtun.Device = (*Device)(nil)

// Open creates the TUN device described by opts and configures it: MTU,
// addresses, link up, routes. On error, everything created so far is
// removed again. It needs CAP_NET_ADMIN and /dev/net/tun, and acts in the
// network namespace of the calling thread.
func Open(opts Options) (*Device, error) {
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if opts.MTU == 0 {
		opts.MTU = DefaultMTU
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "tun")

	dev, err := wgtun.CreateTUN(opts.Name, opts.MTU)
	if err != nil {
		return nil, fmt.Errorf("tun %s: create: %w", opts.Name, err)
	}
	name, err := dev.Name()
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("tun %s: name: %w", opts.Name, err)
	}
	d := &Device{
		Device: dev,
		name:   name,
		metric: opts.RouteMetric,
		log:    log.With("iface", name),
		events: make(chan wgtun.Event, 8),
	}
	d.wg.Go(d.eventLoop)
	if err := d.configure(opts); err != nil {
		d.Close()
		return nil, err
	}
	d.log.Info("tun up", "mtu", opts.MTU, "addresses", len(opts.Addresses), "routes", len(opts.Routes), "batch", dev.BatchSize())
	return d, nil
}

func (d *Device) configure(opts Options) error {
	link, err := netlink.LinkByName(d.name)
	if err != nil {
		return fmt.Errorf("tun %s: find link: %w", d.name, err)
	}
	d.index = link.Attrs().Index
	if link.Attrs().MTU != opts.MTU {
		if err := netlink.LinkSetMTU(link, opts.MTU); err != nil {
			return fmt.Errorf("tun %s: set mtu %d: %w", d.name, opts.MTU, err)
		}
	}
	for _, p := range opts.Addresses {
		a := &netlink.Addr{IPNet: ipNet(p, false)}
		if p.Addr().Is6() && !p.Addr().Is4In6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrAdd(link, a); err != nil {
			return fmt.Errorf("tun %s: add address %s: %w", d.name, p, err)
		}
	}
	// No IPv6 link-local address: the tunnel is point-to-point, and a
	// link-local address only makes the kernel send router solicitations
	// and MLD reports into it, which the peer would have to drop. Kernels
	// without IPv6 refuse this; that is fine.
	netlink.LinkSetIP6AddrGenMode(link, 1 /* IN6_ADDR_GEN_MODE_NONE */)
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("tun %s: set up: %w", d.name, err)
	}
	for _, p := range opts.Routes {
		if err := d.AddRoute(p); err != nil {
			return err
		}
	}
	return nil
}

// LinkName returns the kernel name of the interface. (The embedded
// wireguard Name method returns the same with an error that is always nil.)
func (d *Device) LinkName() string { return d.name }

// Name returns the kernel name of the interface, as known at Open.
func (d *Device) Name() (string, error) { return d.name, nil }

// Events returns the device's up/down/MTU events. The channel is buffered;
// events arriving while it is full are discarded, so a Device nobody
// listens to never stalls. It is closed by Close.
func (d *Device) Events() <-chan wgtun.Event { return d.events }

// eventLoop drains the wireguard device's event channel, whose producers
// block when it is full (and then never exit), and forwards what fits.
func (d *Device) eventLoop() {
	defer close(d.events)
	for ev := range d.Device.Events() {
		select {
		case d.events <- ev:
		default:
		}
	}
}

// AddRoute routes p into the TUN (scope link, protocol static, the metric
// of Options.RouteMetric). A route that already exists with the same
// destination and metric is an error.
func (d *Device) AddRoute(p netip.Prefix) error {
	if err := netlink.RouteAdd(d.route(p)); err != nil {
		return fmt.Errorf("tun %s: add route %s: %w", d.name, p, err)
	}
	return nil
}

// DelRoute removes a route added by Open or AddRoute.
func (d *Device) DelRoute(p netip.Prefix) error {
	if err := netlink.RouteDel(d.route(p)); err != nil {
		return fmt.Errorf("tun %s: delete route %s: %w", d.name, p, err)
	}
	return nil
}

func (d *Device) route(p netip.Prefix) *netlink.Route {
	return &netlink.Route{
		LinkIndex: d.index,
		Dst:       ipNet(p, true),
		Scope:     netlink.SCOPE_LINK,
		Protocol:  unix.RTPROT_STATIC,
		Priority:  d.metric,
	}
}

// Close closes the device. The kernel then deletes the interface and its
// addresses and routes. Blocked Reads return os.ErrClosed. Close is
// idempotent and waits for the device's goroutines.
func (d *Device) Close() error {
	d.once.Do(func() {
		d.err = d.Device.Close()
		d.wg.Wait()
		if d.err != nil && !errors.Is(d.err, net.ErrClosed) {
			d.err = fmt.Errorf("tun %s: close: %w", d.name, d.err)
		}
		d.log.Info("tun closed")
	})
	return d.err
}

// ipNet converts p to the net.IPNet netlink takes, masked for routes and
// keeping the host bits for addresses.
func ipNet(p netip.Prefix, masked bool) *net.IPNet {
	if masked {
		p = p.Masked()
	}
	a := p.Addr().Unmap()
	bits := p.Bits()
	if p.Addr().Is4In6() {
		bits -= 96
	}
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(bits, a.BitLen())}
}
