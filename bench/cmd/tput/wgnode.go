// SPDX-License-Identifier: MIT

package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
)

// wgNode runs one wireguard-go peer (its device package, as the anchor):
// a TUN with MTU 1420 routed to -route, until SIGTERM or SIGKILL.
func wgNode(args []string) error {
	fs := flag.NewFlagSet("wgnode", flag.ContinueOnError)
	key := fs.String("key", "", "private key, hex")
	peer := fs.String("peer", "", "peer public key, hex")
	listen := fs.Int("listen", 51820, "UDP listen port")
	endpoint := fs.String("endpoint", "", "peer endpoint (ip:port); empty to learn it")
	name := fs.String("tun", "wg0", "TUN name")
	route := fs.String("route", "", "prefix routed into the tunnel (also the peer's allowed IPs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dev, err := tun.CreateTUN(*name, 1420)
	if err != nil {
		return err
	}
	d := device.NewDevice(dev, conn.NewDefaultBind(), device.NewLogger(device.LogLevelError, ""))
	cfg := fmt.Sprintf("private_key=%s\nlisten_port=%d\npublic_key=%s\nallowed_ip=%s\n", *key, *listen, *peer, *route)
	if *endpoint != "" {
		cfg += "endpoint=" + *endpoint + "\n"
	}
	if err := d.IpcSet(cfg); err != nil {
		return err
	}
	if err := d.Up(); err != nil {
		return err
	}
	for _, c := range [][]string{{"ip", "link", "set", *name, "up"}, {"ip", "route", "add", *route, "dev", *name}} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %v: %s", c, err, out)
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	d.Close()
	return nil
}
