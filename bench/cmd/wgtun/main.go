// SPDX-License-Identifier: MIT

// Command wgtun is the wireguard-go anchor of the benchmark harness: one
// WireGuard peer built from golang.zx2c4.com/wireguard's device, tun and
// conn packages (the same code as the wireguard-go daemon, with its UDP
// GSO/GRO bind and TUN offloads), configured through IpcSet, with no UAPI
// socket. It runs until SIGINT/SIGTERM.
//
//	wgtun genkey                              prints "private=<hex>" and "public=<hex>"
//	wgtun -tun wgm -key <hex> -peer <hex> -listen 51821 -endpoint 198.18.1.1:51820 \
//	      -allowed 198.18.20.0/24,fd00:20::/64 -route 198.18.20.0/24,fd00:20::/64 [-mtu 1420] [-addr 198.18.30.2/24]
//
// -allowed are the peer's allowed IPs; -route are the prefixes routed into
// the TUN (default: the allowed IPs).
package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/crypto/curve25519"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "genkey" {
		priv, pub, err := genKey()
		if err != nil {
			fmt.Fprintln(os.Stderr, "wgtun:", err)
			os.Exit(1)
		}
		fmt.Printf("private=%s\npublic=%s\n", priv, pub)
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wgtun:", err)
		os.Exit(1)
	}
}

// genKey returns a Curve25519 key pair, hex-encoded as IpcSet wants it.
func genKey() (priv, pub string, err error) {
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return "", "", err
	}
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
	p, err := curve25519.X25519(k[:], curve25519.Basepoint)
	if err != nil {
		return "", "", err
	}
	return hex.EncodeToString(k[:]), hex.EncodeToString(p), nil
}

func prefixes(s string) ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p.Masked())
	}
	return ps, nil
}

func run() error {
	var (
		name     = flag.String("tun", "wg0", "TUN interface name")
		mtu      = flag.Int("mtu", 1420, "TUN MTU")
		key      = flag.String("key", "", "private key (hex)")
		peer     = flag.String("peer", "", "peer public key (hex)")
		listen   = flag.Int("listen", 51820, "UDP listen port")
		endpoint = flag.String("endpoint", "", "peer endpoint ip:port (empty: learn it from the peer)")
		allowed  = flag.String("allowed", "", "peer allowed IPs, comma-separated prefixes")
		route    = flag.String("route", "", "prefixes routed into the TUN (default: -allowed)")
		addr     = flag.String("addr", "", "TUN addresses, comma-separated, with prefix length (optional)")
		verbose  = flag.Bool("v", false, "wireguard-go verbose log")
	)
	flag.Parse()
	if *key == "" || *peer == "" || *allowed == "" {
		return errors.New("-key, -peer and -allowed are required")
	}
	allowedPs, err := prefixes(*allowed)
	if err != nil {
		return fmt.Errorf("-allowed: %w", err)
	}
	routePs := allowedPs
	if *route != "" {
		if routePs, err = prefixes(*route); err != nil {
			return fmt.Errorf("-route: %w", err)
		}
	}
	dev, err := tun.CreateTUN(*name, *mtu)
	if err != nil {
		return fmt.Errorf("create tun %s: %w", *name, err)
	}
	level := device.LogLevelError
	if *verbose {
		level = device.LogLevelVerbose
	}
	d := device.NewDevice(dev, conn.NewDefaultBind(), device.NewLogger(level, "wgtun: "))
	defer d.Close()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "private_key=%s\nlisten_port=%d\npublic_key=%s\n", *key, *listen, *peer)
	if *endpoint != "" {
		fmt.Fprintf(&cfg, "endpoint=%s\n", *endpoint)
	}
	for _, p := range allowedPs {
		fmt.Fprintf(&cfg, "allowed_ip=%s\n", p)
	}
	if err := d.IpcSet(cfg.String()); err != nil {
		return fmt.Errorf("ipc set: %w", err)
	}
	if err := d.Up(); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	link, err := netlink.LinkByName(*name)
	if err != nil {
		return err
	}
	if *addr != "" {
		for f := range strings.SplitSeq(*addr, ",") {
			a, err := netlink.ParseAddr(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("-addr: %w", err)
			}
			if err := netlink.AddrAdd(link, a); err != nil {
				return fmt.Errorf("address %s: %w", f, err)
			}
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return err
	}
	for _, p := range routePs {
		dst := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: prefixNet(p)}
		if err := netlink.RouteAdd(dst); err != nil {
			return fmt.Errorf("route %s: %w", p, err)
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case <-d.Wait():
	}
	return nil
}
