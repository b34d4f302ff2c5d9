// SPDX-License-Identifier: MIT

package linkmon

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"

	"golang.org/x/sys/unix"
)

// The parsers below read the payload of one rtnetlink message (after the
// nlmsghdr). They check every length, so a malformed message is an error,
// never a panic.

var (
	errShort = errors.New("message too short")
	errAttr  = errors.New("malformed attribute")
	errAddr  = errors.New("malformed address")
)

// linkMsg is what this package reads from RTM_NEWLINK / RTM_DELLINK.
type linkMsg struct {
	family  uint8
	arphrd  uint16 // ifi_type
	index   int
	flags   uint32 // ifi_flags
	name    string // IFLA_IFNAME
	hasName bool
	kind    string // IFLA_LINKINFO / IFLA_INFO_KIND
	hasKind bool   // the message had IFLA_LINKINFO
}

// parseLink parses an ifinfomsg and its attributes.
func parseLink(b []byte) (linkMsg, error) {
	if len(b) < unix.SizeofIfInfomsg {
		return linkMsg{}, errShort
	}
	lm := linkMsg{
		family: b[0],
		arphrd: binary.NativeEndian.Uint16(b[2:]),
		index:  int(int32(binary.NativeEndian.Uint32(b[4:]))),
		flags:  binary.NativeEndian.Uint32(b[8:]),
	}
	err := walkAttrs(b[unix.SizeofIfInfomsg:], func(typ uint16, v []byte) error {
		switch typ {
		case unix.IFLA_IFNAME:
			lm.name, lm.hasName = cString(v), true
		case unix.IFLA_LINKINFO:
			lm.hasKind = true
			return walkAttrs(v, func(typ uint16, v []byte) error {
				if typ == unix.IFLA_INFO_KIND {
					lm.kind = cString(v)
				}
				return nil
			})
		}
		return nil
	})
	return lm, err
}

// addrMsg is what this package reads from RTM_NEWADDR / RTM_DELADDR.
type addrMsg struct {
	family uint8
	index  int
	scope  uint8
	flags  uint32 // IFA_F_*: ifa_flags, or IFA_FLAGS when present
	prefix netip.Prefix
}

// usable reports whether the address may serve as a care-of address.
func (a addrMsg) usable() bool {
	return a.scope == unix.RT_SCOPE_UNIVERSE &&
		a.flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED|unix.IFA_F_DEPRECATED) == 0
}

// parseAddr parses an ifaddrmsg and its attributes. The address is
// IFA_LOCAL when present (IPv4, and point-to-point links: IFA_ADDRESS is
// then the peer), else IFA_ADDRESS.
func parseAddr(b []byte) (addrMsg, error) {
	if len(b) < unix.SizeofIfAddrmsg {
		return addrMsg{}, errShort
	}
	am := addrMsg{
		family: b[0],
		flags:  uint32(b[2]),
		scope:  b[3],
		index:  int(int32(binary.NativeEndian.Uint32(b[4:]))),
	}
	bits := int(b[1])
	var local, address []byte
	err := walkAttrs(b[unix.SizeofIfAddrmsg:], func(typ uint16, v []byte) error {
		switch typ {
		case unix.IFA_LOCAL:
			local = v
		case unix.IFA_ADDRESS:
			address = v
		case unix.IFA_FLAGS:
			if len(v) < 4 {
				return errAttr
			}
			am.flags = binary.NativeEndian.Uint32(v)
		}
		return nil
	})
	if err != nil {
		return addrMsg{}, err
	}
	if am.family != unix.AF_INET && am.family != unix.AF_INET6 {
		return am, nil // not ours to read; the caller ignores it
	}
	a := local
	if a == nil {
		a = address
	}
	ip, ok := netip.AddrFromSlice(a)
	if !ok || (am.family == unix.AF_INET) != (len(a) == 4) {
		return addrMsg{}, errAddr
	}
	if local != nil && address != nil && !bytes.Equal(local, address) {
		bits = ip.BitLen() // the prefix belongs to the peer
	}
	am.prefix = netip.PrefixFrom(ip, bits)
	if !am.prefix.IsValid() {
		return addrMsg{}, errAddr
	}
	return am, nil
}

// walkAttrs calls fn for each netlink attribute in b, with the type's
// nested and byte-order bits cleared, and stops at fn's first error.
func walkAttrs(b []byte, fn func(typ uint16, v []byte) error) error {
	for len(b) >= unix.SizeofRtAttr {
		n := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		if n < unix.SizeofRtAttr || n > len(b) {
			return errAttr
		}
		if err := fn(typ, b[unix.SizeofRtAttr:n]); err != nil {
			return err
		}
		n = (n + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1)
		if n >= len(b) {
			return nil
		}
		b = b[n:]
	}
	if len(b) != 0 {
		return errAttr
	}
	return nil
}

// cString returns v up to its first NUL.
func cString(v []byte) string {
	if i := bytes.IndexByte(v, 0); i >= 0 {
		v = v[:i]
	}
	return string(v)
}
