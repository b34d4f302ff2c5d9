// SPDX-License-Identifier: MIT

package load

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"time"

	"golang.org/x/sys/unix"
)

// Header opens every TCP test connection (client → server).
type Header struct {
	Seed   uint64        // pattern seed (informational: the server hashes what it gets)
	Bucket time.Duration // timeline bucket, 1 ms..10 s
	NoHash bool          // the server skips hashing (for rates beyond SHA-256's)
}

// HeaderLen is the encoded size of a Header.
const HeaderLen = 24

const tcpMagic = "MLG1"

// Append appends the encoding of h to b.
func (h Header) Append(b []byte) []byte {
	b = append(b, tcpMagic...)
	var flags byte
	if h.NoHash {
		flags |= 1
	}
	b = append(b, flags, 0, 0, 0)
	b = binary.BigEndian.AppendUint64(b, h.Seed)
	b = binary.BigEndian.AppendUint32(b, uint32(h.Bucket/time.Microsecond))
	return append(b, 0, 0, 0, 0)
}

// ParseHeader decodes a Header from the first HeaderLen bytes of b.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, errors.New("load: short header")
	}
	if string(b[:4]) != tcpMagic {
		return Header{}, errors.New("load: bad magic")
	}
	h := Header{
		Seed:   binary.BigEndian.Uint64(b[8:16]),
		Bucket: time.Duration(binary.BigEndian.Uint32(b[16:20])) * time.Microsecond,
		NoHash: b[4]&1 != 0,
	}
	if h.Bucket < time.Millisecond || h.Bucket > 10*time.Second {
		return Header{}, errors.New("load: bucket out of range")
	}
	return h, nil
}

// Probe is one voice packet. The client fills Session, Seq and Sent; the
// echo adds Received (server clock) and Count (packets of the session the
// server has seen).
type Probe struct {
	Session  uint32
	Seq      uint32
	Sent     int64 // CLOCK_MONOTONIC ns at the client's send
	Received int64 // CLOCK_MONOTONIC ns at the server's receive (0 on the way out)
	Count    uint32
}

// ProbeLen is the minimum voice packet size; packets are padded to the
// configured size.
const ProbeLen = 36

const voiceMagic = "MLV1"

// Put encodes p into b (len(b) >= ProbeLen); the rest of b is left as is.
func (p Probe) Put(b []byte) {
	copy(b, voiceMagic)
	binary.BigEndian.PutUint32(b[4:], p.Session)
	binary.BigEndian.PutUint32(b[8:], p.Seq)
	binary.BigEndian.PutUint64(b[12:], uint64(p.Sent))
	binary.BigEndian.PutUint64(b[20:], uint64(p.Received))
	binary.BigEndian.PutUint32(b[28:], p.Count)
	binary.BigEndian.PutUint32(b[32:], 0)
}

// ParseProbe decodes a voice packet.
func ParseProbe(b []byte) (Probe, error) {
	if len(b) < ProbeLen || string(b[:4]) != voiceMagic {
		return Probe{}, errors.New("load: not a voice probe")
	}
	return Probe{
		Session:  binary.BigEndian.Uint32(b[4:]),
		Seq:      binary.BigEndian.Uint32(b[8:]),
		Sent:     int64(binary.BigEndian.Uint64(b[12:])),
		Received: int64(binary.BigEndian.Uint64(b[20:])),
		Count:    binary.BigEndian.Uint32(b[28:]),
	}, nil
}

// Mono returns CLOCK_MONOTONIC in nanoseconds: one clock for every process
// on the host, whatever its network namespace.
func Mono() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// patternLen is the period of the pattern: a prime, so write boundaries
// never line up with it.
const patternLen = 1<<20 + 7

// Pattern is a deterministic byte stream for a seed: a pseudo-random block
// of patternLen bytes repeated. Cheap to produce at tunnel speeds; the
// SHA-256 of the stream checks it end to end.
type Pattern struct {
	block []byte
	off   int
}

// NewPattern returns the stream of seed.
func NewPattern(seed uint64) *Pattern {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	r := rand.NewChaCha8(s)
	b := make([]byte, patternLen)
	r.Read(b)
	return &Pattern{block: b}
}

// Read fills p with the next bytes of the stream; it never fails.
func (p *Pattern) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		c := copy(b[n:], p.block[p.off:])
		n += c
		p.off = (p.off + c) % len(p.block)
	}
	return n, nil
}
