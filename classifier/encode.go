// SPDX-License-Identifier: MIT

package classifier

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// This file is the filter rule encoder of the paper (module F) for the
// kernel's packet filters, in the style of the NEPL implementation the
// paper cites (§4.1): packets are marked with the BID of their path, and
// policy routing elsewhere maps marks to paths. monami's own data path does
// not need them (it compiles the rules with Compile); they document the
// resolution in the operator's terms, and let the kernel steer traffic that
// does not enter the tunnel.
//
// Both encoders keep first-match semantics: a matching rule marks and
// returns from the chain (or drops), so later rules do not see the packet.
// A rule marks with its first BID only, whatever its mode: a packet filter
// cannot stripe or duplicate.

var portProtos = []uint8{protoTCP, protoUDP, protoUDPLite, protoSCTP}

// WriteNft writes rules as an nftables script (for nft -f) that replaces
// the table inet monami: a chain classify holding the rules in order, and
// base chains at prerouting and output that jump to it. A rule sets the
// packet mark to its first BID, or drops (mode drop, or a strict
// fallback); a rule without a path just returns. It returns an error, and
// writes nothing, if a rule is invalid.
func WriteNft(w io.Writer, rules []FilterRule) error {
	if err := checkRules(rules); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# monami filter rules: the packet mark is the BID of the path\n")
	b.WriteString("table inet monami\ndelete table inet monami\ntable inet monami {\n\tchain classify {\n")
	for i := range rules {
		fr := &rules[i]
		b.WriteString("\t\t# " + describe(fr) + "\n")
		verdict := "return"
		switch {
		case fr.Mode == ModeDrop:
			verdict = "drop"
		case len(fr.BIDs) > 0:
			verdict = "meta mark set " + fr.BIDs[0].String() + " return"
		}
		for _, m := range nftMatches(&fr.Selector) {
			b.WriteString("\t\t")
			if m != "" {
				b.WriteString(m + " ")
			}
			b.WriteString(verdict + "\n")
		}
	}
	b.WriteString("\t}\n")
	b.WriteString("\tchain prerouting {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n\t\tjump classify\n\t}\n")
	b.WriteString("\tchain output {\n\t\ttype route hook output priority mangle; policy accept;\n\t\tjump classify\n\t}\n")
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteIptables writes rules as a shell script of iptables and ip6tables
// commands on the mangle table: a chain MONAMI, flushed and hooked into
// PREROUTING and OUTPUT, holding the rules in order. A rule is a MARK with
// its first BID followed by a RETURN on the same match, or a DROP; a rule
// without a path only returns. Lists the commands cannot take at once
// (protocols, DSCPs, flow labels, more than 15 ports) become several
// commands. It returns an error, and writes nothing, if a rule is invalid.
func WriteIptables(w io.Writer, rules []FilterRule) error {
	if err := checkRules(rules); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# monami filter rules: the packet mark is the BID of the path\n")
	for _, cmd := range []string{"iptables", "ip6tables"} {
		b.WriteString(cmd + " -t mangle -N MONAMI 2>/dev/null || " + cmd + " -t mangle -F MONAMI\n")
		for _, hook := range []string{"PREROUTING", "OUTPUT"} {
			b.WriteString(cmd + " -t mangle -C " + hook + " -j MONAMI 2>/dev/null || " +
				cmd + " -t mangle -A " + hook + " -j MONAMI\n")
		}
	}
	for i := range rules {
		fr := &rules[i]
		b.WriteString("# " + describe(fr) + "\n")
		var targets []string
		switch {
		case fr.Mode == ModeDrop:
			targets = []string{"-j DROP"}
		case len(fr.BIDs) > 0:
			targets = []string{"-j MARK --set-mark " + fr.BIDs[0].String(), "-j RETURN"}
		default:
			targets = []string{"-j RETURN"}
		}
		for _, m := range iptMatches(&fr.Selector) {
			for _, tgt := range targets {
				b.WriteString(m + " " + tgt + "\n")
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func checkRules(rules []FilterRule) error {
	var errs []error
	for i := range rules {
		if err := checkRule(&rules[i]); err != nil {
			errs = append(errs, fmt.Errorf("rule %d (%s): %w", i, rules[i].Ref, err))
		}
	}
	return errors.Join(errs...)
}

// describe is the comment above a rule: its index, policy, mode and paths.
func describe(fr *FilterRule) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(fr.Index) + " " + fr.Ref.String() + ": " + fr.Mode.String())
	if len(fr.BIDs) > 0 {
		b.WriteString(" via BID")
		for i, bid := range fr.BIDs {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(" " + bid.String())
		}
	}
	if fr.Mode != ModeDrop && len(fr.BIDs) == 0 {
		b.WriteString(", no path")
	}
	if fr.Fallback {
		b.WriteString(" (fallback)")
	}
	// Names come from requesters: keep the comment on one line.
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, b.String())
}

// family is the part of a selector for one address family.
type family struct {
	v6       bool
	src, dst []netip.Prefix
}

// families splits s by address family: one entry per family it can
// match, or a single entry with v6 unset and no prefixes when it needs no
// family-specific match and agnostic is set.
func splitFamilies(s *Selector, agnostic bool) []family {
	if agnostic && len(s.Src) == 0 && len(s.Dst) == 0 && len(s.DSCP) == 0 && len(s.FlowLabel) == 0 {
		return []family{{}}
	}
	v4, v6 := s.families()
	var out []family
	for _, f := range []struct {
		v6, ok bool
	}{{false, v4}, {true, v6}} {
		if !f.ok {
			continue
		}
		of := func(ps []netip.Prefix) []netip.Prefix {
			var r []netip.Prefix
			for _, p := range ps {
				if p.Addr().Is6() == f.v6 {
					r = append(r, p)
				}
			}
			return r
		}
		out = append(out, family{v6: f.v6, src: of(s.Src), dst: of(s.Dst)})
	}
	return out
}

// protos returns the protocols a rule must match: with ports, only those
// of Proto (or of all) that carry ports, of which checkSelector made sure
// there is one; nil means any.
func (s *Selector) protos() []uint8 {
	if len(s.SrcPorts)+len(s.DstPorts) == 0 {
		return s.Proto
	}
	if len(s.Proto) == 0 {
		return portProtos
	}
	var ps []uint8
	for _, p := range s.Proto {
		if isPortProto(p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// nftMatches returns the match expressions of s, one per line to write.
func nftMatches(s *Selector) []string {
	protos := s.protos()
	var lines []string
	for _, f := range splitFamilies(s, true) {
		var parts []string
		ip := "ip"
		if f.v6 {
			ip = "ip6"
		}
		if len(f.src) > 0 {
			parts = append(parts, ip+" saddr "+nftSet(f.src, netip.Prefix.String))
		}
		if len(f.dst) > 0 {
			parts = append(parts, ip+" daddr "+nftSet(f.dst, netip.Prefix.String))
		}
		if len(protos) > 0 {
			parts = append(parts, "meta l4proto "+nftSet(protos, nftProto))
		}
		if len(s.SrcPorts) > 0 {
			parts = append(parts, "th sport "+nftSet(s.SrcPorts, PortRange.String))
		}
		if len(s.DstPorts) > 0 {
			parts = append(parts, "th dport "+nftSet(s.DstPorts, PortRange.String))
		}
		if len(s.DSCP) > 0 {
			parts = append(parts, ip+" dscp "+nftSet(s.DSCP, func(d uint8) string { return strconv.Itoa(int(d)) }))
		}
		if len(s.FlowLabel) > 0 {
			parts = append(parts, "ip6 flowlabel "+nftSet(s.FlowLabel, func(l uint32) string { return strconv.Itoa(int(l)) }))
		}
		lines = append(lines, strings.Join(parts, " "))
	}
	return lines
}

func nftSet[T any](xs []T, format func(T) string) string {
	if len(xs) == 1 {
		return format(xs[0])
	}
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = format(x)
	}
	return "{ " + strings.Join(s, ", ") + " }"
}

func nftProto(p uint8) string {
	switch p {
	case protoTCP, protoUDP, protoICMP:
		return formatProto(p)
	}
	return strconv.Itoa(int(p))
}

// iptMatches returns the command lines (without target) for s.
func iptMatches(s *Selector) []string {
	protos := s.protos()
	var lines []string
	for _, f := range splitFamilies(s, false) {
		cmd := "iptables"
		if f.v6 {
			cmd = "ip6tables"
		}
		base := cmd + " -t mangle -A MONAMI"
		if len(f.src) > 0 {
			base += " -s " + join(f.src, netip.Prefix.String, ",")
		}
		if len(f.dst) > 0 {
			base += " -d " + join(f.dst, netip.Prefix.String, ",")
		}
		for _, proto := range orAny(protos) {
			withProto := base
			if proto >= 0 {
				withProto += " -p " + iptProto(uint8(proto))
			}
			for _, ports := range iptPorts(s, proto) {
				for _, d := range orAny(s.DSCP) {
					line := withProto + ports
					if d >= 0 {
						line += " -m dscp --dscp " + strconv.Itoa(d)
					}
					if !f.v6 || len(s.FlowLabel) == 0 {
						lines = append(lines, line)
						continue
					}
					for _, l := range s.FlowLabel {
						lines = append(lines, line+" -m u32 --u32 \"0&0xFFFFF=0x"+strconv.FormatUint(uint64(l), 16)+"\"")
					}
				}
			}
		}
	}
	return lines
}

// orAny returns the values of xs as ints, or [-1] (any) if xs is empty.
func orAny[T uint8 | uint32](xs []T) []int {
	if len(xs) == 0 {
		return []int{-1}
	}
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x)
	}
	return out
}

func iptProto(p uint8) string {
	switch p {
	case protoTCP, protoUDP, protoICMP, protoSCTP, protoUDPLite:
		return formatProto(p)
	case protoICMPv6:
		return "icmpv6"
	}
	return strconv.Itoa(int(p))
}

// iptPorts returns the port matches for protocol proto: one " --sport x
// --dport y" when each list is a single range of a protocol with its own
// port match, else multiport matches of at most 15 ports each (a range
// counts two), one string per combination of chunks.
func iptPorts(s *Selector, proto int) []string {
	if len(s.SrcPorts)+len(s.DstPorts) == 0 {
		return []string{""}
	}
	if len(s.SrcPorts) <= 1 && len(s.DstPorts) <= 1 && (proto == protoTCP || proto == protoUDP || proto == protoSCTP) {
		m := ""
		if len(s.SrcPorts) == 1 {
			m += " --sport " + iptRange(s.SrcPorts[0])
		}
		if len(s.DstPorts) == 1 {
			m += " --dport " + iptRange(s.DstPorts[0])
		}
		return []string{m}
	}
	srcs, dsts := multiport("--sports", s.SrcPorts), multiport("--dports", s.DstPorts)
	var out []string
	for _, a := range srcs {
		for _, b := range dsts {
			out = append(out, a+b)
		}
	}
	return out
}

func iptRange(r PortRange) string {
	if r.Lo == r.Hi {
		return strconv.Itoa(int(r.Lo))
	}
	return strconv.Itoa(int(r.Lo)) + ":" + strconv.Itoa(int(r.Hi))
}

// multiport splits rs into multiport matches of at most 15 ports.
func multiport(opt string, rs []PortRange) []string {
	if len(rs) == 0 {
		return []string{""}
	}
	const maxSlots = 15
	var out []string
	var cur []string
	slots := 0
	flush := func() {
		out = append(out, " -m multiport "+opt+" "+strings.Join(cur, ","))
		cur, slots = nil, 0
	}
	for _, r := range rs {
		n := 1
		if r.Lo != r.Hi {
			n = 2
		}
		if slots+n > maxSlots {
			flush()
		}
		cur = append(cur, iptRange(r))
		slots += n
	}
	flush()
	return out
}

func join[T any](xs []T, format func(T) string, sep string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = format(x)
	}
	return strings.Join(s, sep)
}
