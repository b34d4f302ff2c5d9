// SPDX-License-Identifier: MIT

package linkmon

import (
	"bufio"
	"bytes"
	"io/fs"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	typeLoopback = "loopback"
	typeEthernet = "ethernet"
	typeWifi     = "wifi"
	typeWWAN     = "wwan"
	typePPP      = "ppp"
	typeTun      = "tun"
)

// classify names a link's type (Link.Type) from its netlink kind, its
// ARPHRD type and flags, and, for physical devices, its sysfs entries.
func classify(sysfs fs.FS, name, kind string, arphrd uint16, flags uint32) string {
	if flags&unix.IFF_LOOPBACK != 0 || arphrd == unix.ARPHRD_LOOPBACK {
		return typeLoopback
	}
	switch kind {
	case "":
		// A physical device (or a kind-less virtual one such as ppp).
	case "wwan", "rmnet":
		return typeWWAN
	case "tun":
		return typeTun
	case "ppp":
		return typePPP
	default:
		return kind
	}
	devtype, wireless := sysInfo(sysfs, name)
	switch {
	case wireless || devtype == "wlan":
		return typeWifi
	case devtype == "wwan" || strings.HasPrefix(name, "wwan"):
		return typeWWAN
	}
	switch arphrd {
	case unix.ARPHRD_ETHER:
		return typeEthernet
	case unix.ARPHRD_PPP:
		return typePPP
	case unix.ARPHRD_NONE:
		return "none"
	case unix.ARPHRD_RAWIP:
		return "rawip"
	}
	return "arphrd" + strconv.Itoa(int(arphrd))
}

// sysInfo reads the DEVTYPE of the device's uevent and whether it has a
// wireless or phy80211 entry (cfg80211 and wireless-extension drivers).
// Missing entries (virtual devices, no sysfs) read as empty.
func sysInfo(sysfs fs.FS, name string) (devtype string, wireless bool) {
	if sysfs == nil || !fs.ValidPath(name) || strings.Contains(name, "/") {
		return "", false
	}
	for _, p := range [...]string{"/wireless", "/phy80211"} {
		if _, err := fs.Stat(sysfs, name+p); err == nil {
			wireless = true
		}
	}
	b, err := fs.ReadFile(sysfs, name+"/uevent")
	if err != nil {
		return "", wireless
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "DEVTYPE="); ok {
			devtype = v
		}
	}
	return devtype, wireless
}
