// SPDX-License-Identifier: MIT

// Package node composes one monami daemon from its configuration: the mobile
// router ([MobileRouter]: TUN, one path per uplink, the signaling client and
// the tunnel.Router) and the home agent ([HomeAgent]: TUN, data sockets, the
// signaling server and the tunnel.Agent). The mains only parse flags and
// call it, so a whole daemon can be started in-process by tests with a
// different [Env] (netstack TUNs, loopback sockets).
//
// It is private to cmd/ and the only place that translates configs types
// into component Options. Run methods own every goroutine they start.
package node

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	wgtun "golang.zx2c4.com/wireguard/tun"

	"monami/configs"
	"monami/paths"
	"monami/paths/udpconn"
	"monami/tun"
)

// Env is how a daemon reaches the operating system. The zero value uses the
// real one: kernel TUN, sockets bound to interfaces, netlink.
type Env struct {
	// Logger receives the daemon's logs; nil discards them.
	Logger *slog.Logger
	// OpenTUN opens the TUN device with the given routes into it.
	OpenTUN func(c configs.TUN, routes []netip.Prefix) (wgtun.Device, error)
	// OpenPath opens the socket of one uplink (MR) or one data listener
	// (HA, iface ""), bound to iface and laddr.
	OpenPath func(iface string, laddr netip.AddrPort) (paths.Conn, error)
	// ListenPacket opens the UDP socket of the signaling connection.
	ListenPacket func(iface string, laddr netip.AddrPort) (net.PacketConn, error)
	// InterfaceAddrs lists the usable addresses of an interface.
	InterfaceAddrs func(iface string) ([]netip.Addr, error)
	// WatchLinks makes the mobile router follow its uplinks' links and
	// addresses through netlink (the daemons set it; in-process tests on
	// loopback do not).
	WatchLinks bool
}

func (e *Env) setDefaults() {
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	if e.OpenTUN == nil {
		e.OpenTUN = func(c configs.TUN, routes []netip.Prefix) (wgtun.Device, error) {
			d, err := tun.Open(tun.Options{Name: c.Name, MTU: c.MTU, Addresses: c.Addresses, Routes: routes, Logger: e.Logger})
			if err != nil {
				return nil, err // not a typed nil in the interface
			}
			return d, nil
		}
	}
	if e.OpenPath == nil {
		e.OpenPath = func(iface string, laddr netip.AddrPort) (paths.Conn, error) {
			c, err := udpconn.Open(udpconn.Options{Interface: iface, Source: laddr, Logger: e.Logger})
			if err != nil {
				return nil, err
			}
			return c, nil
		}
	}
	if e.ListenPacket == nil {
		e.ListenPacket = func(iface string, laddr netip.AddrPort) (net.PacketConn, error) {
			c, err := udpconn.Listen(iface, laddr)
			if err != nil {
				return nil, err
			}
			return c, nil
		}
	}
	if e.InterfaceAddrs == nil {
		e.InterfaceAddrs = linkAddrs
	}
}

// linkAddrs returns the global-scope, non-tentative addresses of iface.
func linkAddrs(iface string) ([]netip.Addr, error) {
	l, err := netlink.LinkByName(iface)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", iface, err)
	}
	as, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("interface %s: list addresses: %w", iface, err)
	}
	var out []netip.Addr
	for _, a := range as {
		if a.Scope != int(netlink.SCOPE_UNIVERSE) || a.Flags&0x40 /* IFA_F_TENTATIVE */ != 0 {
			continue
		}
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip.Unmap())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("interface %s has no usable address", iface)
	}
	return out, nil
}

// pickSource chooses the local address of an uplink and the home agent data
// endpoint it sends to: the configured source if any, else the first
// address of the interface for which the home agent has an endpoint of the
// same family.
func pickSource(src netip.Addr, iface string, data []netip.AddrPort, addrs func(string) ([]netip.Addr, error)) (netip.Addr, netip.AddrPort, error) {
	remoteFor := func(a netip.Addr) (netip.AddrPort, bool) {
		for _, d := range data {
			if d.Addr().Is4() == a.Is4() {
				return d, true
			}
		}
		return netip.AddrPort{}, false
	}
	if src.IsValid() {
		r, ok := remoteFor(src)
		if !ok {
			return src, r, fmt.Errorf("no home agent data endpoint of the family of %s", src)
		}
		return src, r, nil
	}
	as, err := addrs(iface)
	if err != nil {
		return src, netip.AddrPort{}, err
	}
	for _, a := range as {
		if r, ok := remoteFor(a); ok {
			return a, r, nil
		}
	}
	return src, netip.AddrPort{}, errors.New("no address of a family the home agent listens on")
}
