// SPDX-License-Identifier: MIT

package linkmon

import (
	"encoding/binary"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// Builders of rtnetlink message payloads, for the unit and fuzz tests.

// rtattr encodes one attribute, padded to 4 bytes.
func rtattr(typ uint16, v []byte) []byte {
	b := make([]byte, 4, 4+len(v)+3)
	binary.NativeEndian.PutUint16(b, uint16(4+len(v)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func cstr(s string) []byte { return append([]byte(s), 0) }

// linkPayload encodes an ifinfomsg with IFLA_IFNAME (if name != "") and
// IFLA_LINKINFO/IFLA_INFO_KIND (if kind != "").
func linkPayload(family uint8, arphrd uint16, index int32, flags uint32, name, kind string) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	b[0] = family
	binary.NativeEndian.PutUint16(b[2:], arphrd)
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	binary.NativeEndian.PutUint32(b[8:], flags)
	if name != "" {
		b = append(b, rtattr(unix.IFLA_IFNAME, cstr(name))...)
	}
	if kind != "" {
		b = append(b, rtattr(unix.IFLA_LINKINFO|unix.NLA_F_NESTED, rtattr(unix.IFLA_INFO_KIND, cstr(kind)))...)
	}
	return b
}

// addrPayload encodes an ifaddrmsg for p with IFA_ADDRESS (and IFA_LOCAL
// for IPv4, as the kernel does), and IFA_FLAGS.
func addrPayload(index int32, p netip.Prefix, scope uint8, flags uint32) []byte {
	b := make([]byte, unix.SizeofIfAddrmsg)
	b[0] = unix.AF_INET6
	if p.Addr().Is4() {
		b[0] = unix.AF_INET
	}
	b[1] = uint8(p.Bits())
	b[2] = uint8(flags)
	b[3] = scope
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	a := p.Addr().AsSlice()
	b = append(b, rtattr(unix.IFA_ADDRESS, a)...)
	if p.Addr().Is4() {
		b = append(b, rtattr(unix.IFA_LOCAL, a)...)
	}
	var f [4]byte
	binary.NativeEndian.PutUint32(f[:], flags)
	return append(b, rtattr(unix.IFA_FLAGS, f[:])...)
}

func nlmsg(typ uint16, data []byte) syscall.NetlinkMessage {
	return syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: typ, Len: uint32(unix.SizeofNlMsghdr + len(data))}, Data: data}
}

const upFlags = unix.IFF_UP | unix.IFF_RUNNING | unix.IFF_LOWER_UP

func newLink(index int32, flags uint32, name, kind string) syscall.NetlinkMessage {
	return nlmsg(unix.RTM_NEWLINK, linkPayload(unix.AF_UNSPEC, unix.ARPHRD_ETHER, index, flags, name, kind))
}

func delLink(index int32, name, kind string) syscall.NetlinkMessage {
	return nlmsg(unix.RTM_DELLINK, linkPayload(unix.AF_UNSPEC, unix.ARPHRD_ETHER, index, 0, name, kind))
}

func newAddr(index int32, p string, flags uint32) syscall.NetlinkMessage {
	return nlmsg(unix.RTM_NEWADDR, addrPayload(index, netip.MustParsePrefix(p), unix.RT_SCOPE_UNIVERSE, flags))
}

func delAddr(index int32, p string) syscall.NetlinkMessage {
	return nlmsg(unix.RTM_DELADDR, addrPayload(index, netip.MustParsePrefix(p), unix.RT_SCOPE_UNIVERSE, 0))
}
