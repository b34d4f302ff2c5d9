// SPDX-License-Identifier: MIT

package msg

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"

	"monami/paths"
)

// OptionType is the type byte of a mobility option.
type OptionType uint8

// Mobility option types. Numbers below 200 are IANA assignments; 200 and 201
// are monami's own.
const (
	OptPad1                    OptionType = 0   // RFC 6275 §6.2.2: one byte, no length
	OptPadN                    OptionType = 1   // RFC 6275 §6.2.3
	OptMobileNetworkPrefix     OptionType = 6   // RFC 3963 §4.3
	OptBindingID               OptionType = 35  // RFC 5648 §6.1
	OptFlowSummary             OptionType = 44  // RFC 6089 §4.2.2: FIDs being refreshed
	OptFlowID                  OptionType = 45  // RFC 6089 §4.2: one flow binding
	OptSession                 OptionType = 200 // monami: data-plane session set-up
	OptIPv4MobileNetworkPrefix OptionType = 201 // monami: IPv4 mobile network prefix
)

// String returns the option type's name.
func (t OptionType) String() string {
	switch t {
	case OptPad1:
		return "pad1"
	case OptPadN:
		return "padn"
	case OptMobileNetworkPrefix:
		return "mobile_network_prefix"
	case OptBindingID:
		return "binding_id"
	case OptFlowSummary:
		return "flow_summary"
	case OptFlowID:
		return "flow_id"
	case OptSession:
		return "session"
	case OptIPv4MobileNetworkPrefix:
		return "ipv4_mobile_network_prefix"
	}
	return "option(" + strconv.Itoa(int(t)) + ")"
}

// Data lengths of the options this package encodes.
const (
	bidOptionLen     = 4  // without care-of address
	sessionOptionLen = 9  // minimum; longer is accepted
	mnpOptionLen     = 18 // RFC 3963 §4.3
	mnp4OptionLen    = 6
)

// Data-plane AEAD suites, the Suite of a [SessionOption].
const (
	SuiteAES256GCM        = 1
	SuiteChaCha20Poly1305 = 2
)

// BIDFlags are the flags of a Binding Identifier option (RFC 5648 §6.1).
type BIDFlags uint8

const (
	// BIDHome (H) asks for simultaneous home and foreign bindings.
	BIDHome BIDFlags = 0x80
	// BIDOverwrite (O) asks the receiver to replace all bindings of the
	// mobile node with those in this update (bulk registration).
	BIDOverwrite BIDFlags = 0x40
)

// BIDOption is a Binding Identifier option (RFC 5648 §6.1): one path (BID)
// of the mobile router, its registration status and, optionally, the
// care-of address the path uses. In a binding update Status is 0; in an
// acknowledgement it is the per-BID result.
type BIDOption struct {
	BID    paths.BID
	Status Status
	Flags  BIDFlags
	// CareOf is the path's care-of address; the zero Addr means none is
	// carried. It must have no zone.
	CareOf netip.Addr
}

// SessionOption is monami's Session option: what the data plane needs to set
// up keys. Index is the receiver index the sender wants to see in the frames
// it receives (nonzero); Generation counts key generations within one
// signaling connection; Suite is the data-plane AEAD (SuiteAES256GCM, ...).
type SessionOption struct {
	Index      uint32
	Generation uint32
	Suite      uint8
}

// options is the parsed option area of a binding update or acknowledgement.
type options struct {
	bids        []BIDOption
	session     *SessionOption
	prefixes    []netip.Prefix
	flows       []FlowIdentification
	flowSummary []uint16
}

// forEachOption calls fn for every option of b other than padding, in
// order. It enforces MaxOptions and the framing of every option.
func forEachOption(b []byte, fn func(t OptionType, data []byte) error) error {
	for n := 1; len(b) > 0; n++ {
		if n > MaxOptions {
			return fmt.Errorf("%w: more than %d options", ErrMalformed, MaxOptions)
		}
		t := OptionType(b[0])
		if t == OptPad1 {
			b = b[1:]
			continue
		}
		if len(b) < 2 {
			return fmt.Errorf("%w: truncated %s option header", ErrMalformed, t)
		}
		l := int(b[1])
		if len(b) < 2+l {
			return fmt.Errorf("%w: %s option length %d exceeds the %d bytes left", ErrMalformed, t, l, len(b)-2)
		}
		data := b[2 : 2+l]
		b = b[2+l:]
		if t == OptPadN {
			continue
		}
		if err := fn(t, data); err != nil {
			return err
		}
	}
	return nil
}

// parseOptions parses the option area b. Unknown options are skipped.
func parseOptions(b []byte) (options, error) {
	var o options
	err := forEachOption(b, func(t OptionType, data []byte) error {
		switch t {
		case OptBindingID:
			bo, err := parseBIDOption(data)
			if err != nil {
				return err
			}
			o.bids = append(o.bids, bo)
		case OptSession:
			if o.session != nil {
				return fmt.Errorf("%w: duplicate session option", ErrMalformed)
			}
			if len(data) < sessionOptionLen {
				return fmt.Errorf("%w: session option length %d, want at least %d", ErrMalformed, len(data), sessionOptionLen)
			}
			o.session = &SessionOption{
				Index:      binary.BigEndian.Uint32(data[0:]),
				Generation: binary.BigEndian.Uint32(data[4:]),
				Suite:      data[8],
			}
		case OptMobileNetworkPrefix, OptIPv4MobileNetworkPrefix:
			p, err := parsePrefixOption(t, data)
			if err != nil {
				return err
			}
			o.prefixes = append(o.prefixes, p)
		case OptFlowID:
			f, err := parseFlowOption(data)
			if err != nil {
				return err
			}
			o.flows = append(o.flows, f)
		case OptFlowSummary:
			var err error
			if o.flowSummary, err = parseFlowSummary(o.flowSummary, data); err != nil {
				return err
			}
		}
		return nil
	})
	return o, err
}

func parseBIDOption(data []byte) (BIDOption, error) {
	var o BIDOption
	switch len(data) {
	case bidOptionLen:
	case bidOptionLen + 4:
		o.CareOf = netip.AddrFrom4([4]byte(data[bidOptionLen:]))
	case bidOptionLen + 16:
		o.CareOf = netip.AddrFrom16([16]byte(data[bidOptionLen:]))
	default:
		return o, fmt.Errorf("%w: binding id option length %d, want 4, 8 or 20", ErrMalformed, len(data))
	}
	o.BID = paths.BID(binary.BigEndian.Uint16(data))
	o.Status = Status(data[2])
	o.Flags = BIDFlags(data[3])
	return o, nil
}

func parsePrefixOption(t OptionType, data []byte) (netip.Prefix, error) {
	want, maxBits := mnpOptionLen, 128
	if t == OptIPv4MobileNetworkPrefix {
		want, maxBits = mnp4OptionLen, 32
	}
	if len(data) != want {
		return netip.Prefix{}, fmt.Errorf("%w: %s option length %d, want %d", ErrMalformed, t, len(data), want)
	}
	bits := int(data[1])
	if bits > maxBits {
		return netip.Prefix{}, fmt.Errorf("%w: %s option prefix length %d", ErrMalformed, t, bits)
	}
	var a netip.Addr
	if t == OptIPv4MobileNetworkPrefix {
		a = netip.AddrFrom4([4]byte(data[2:]))
	} else {
		a = netip.AddrFrom16([16]byte(data[2:]))
	}
	return netip.PrefixFrom(a, bits), nil
}

func appendBIDOption(b []byte, o BIDOption) []byte {
	l := bidOptionLen
	switch {
	case !o.CareOf.IsValid():
	case o.CareOf.Is4():
		l += 4
	default:
		l += 16
	}
	b = append(b, byte(OptBindingID), byte(l))
	b = binary.BigEndian.AppendUint16(b, uint16(o.BID))
	b = append(b, byte(o.Status), byte(o.Flags))
	switch {
	case !o.CareOf.IsValid():
	case o.CareOf.Is4():
		a := o.CareOf.As4()
		b = append(b, a[:]...)
	default:
		a := o.CareOf.As16()
		b = append(b, a[:]...)
	}
	return b
}

func appendSessionOption(b []byte, s *SessionOption) []byte {
	b = append(b, byte(OptSession), sessionOptionLen)
	b = binary.BigEndian.AppendUint32(b, s.Index)
	b = binary.BigEndian.AppendUint32(b, s.Generation)
	return append(b, s.Suite)
}

func appendPrefixOption(b []byte, p netip.Prefix) []byte {
	if p.Addr().Is4() {
		a := p.Addr().As4()
		b = append(b, byte(OptIPv4MobileNetworkPrefix), mnp4OptionLen, 0, byte(p.Bits()))
		return append(b, a[:]...)
	}
	a := p.Addr().As16()
	b = append(b, byte(OptMobileNetworkPrefix), mnpOptionLen, 0, byte(p.Bits()))
	return append(b, a[:]...)
}

// validateOptions checks that the options can be encoded and parsed back to
// the same values.
func validateOptions(bids []BIDOption, s *SessionOption, prefixes []netip.Prefix, flows []FlowIdentification, fids []uint16) error {
	n := len(bids) + len(prefixes) + len(flows) + flowSummaryOptions(len(fids))
	if s != nil {
		n++
	}
	if n > MaxOptions {
		return fmt.Errorf("%w: %d options, at most %d", ErrMalformed, n, MaxOptions)
	}
	for _, o := range bids {
		if o.CareOf.Zone() != "" {
			return fmt.Errorf("%w: care-of address %s of bid %d has a zone", ErrMalformed, o.CareOf, o.BID)
		}
	}
	for _, p := range prefixes {
		if !p.IsValid() {
			return fmt.Errorf("%w: invalid mobile network prefix %s", ErrMalformed, p)
		}
	}
	for i := range flows {
		if err := flows[i].Validate(); err != nil {
			return err
		}
	}
	return nil
}
