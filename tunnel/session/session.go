// SPDX-License-Identifier: MIT

package session

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"

	"monami/paths"
)

const (
	// ExporterLabel is the TLS exporter label (RFC 8446 §7.5) of the
	// data-plane keys.
	ExporterLabel = "EXPORTER-monami-data-v1"
	// KeyLen is the length of one direction's key in bytes (both suites).
	KeyLen = 32
	// EKMLen is how many bytes to export: one key per direction.
	EKMLen = 2 * KeyLen

	headerLen = 16 // frame.HeaderLen, the additional data
	tagLen    = 16 // both suites' tag length (frame.TagLen)
	nonceLen  = 12 // both suites' nonce length
)

// Suite names an AEAD.
type Suite uint8

const (
	// AES256GCM is AES-256 in GCM mode, the default.
	AES256GCM Suite = 1
	// ChaCha20Poly1305 is ChaCha20-Poly1305 (RFC 8439).
	ChaCha20Poly1305 Suite = 2
)

// String returns the suite's name as accepted by [ParseSuite].
func (s Suite) String() string {
	switch s {
	case AES256GCM:
		return "aes-256-gcm"
	case ChaCha20Poly1305:
		return "chacha20-poly1305"
	}
	return "suite(" + strconv.Itoa(int(s)) + ")"
}

// ParseSuite returns the suite named name ("aes-256-gcm" or
// "chacha20-poly1305").
func ParseSuite(name string) (Suite, error) {
	switch name {
	case "aes-256-gcm":
		return AES256GCM, nil
	case "chacha20-poly1305":
		return ChaCha20Poly1305, nil
	}
	return 0, fmt.Errorf("unknown cipher suite %q", name)
}

// ErrAuth is returned by [Cipher.Open] when a frame fails authentication:
// forged, corrupted, or sealed with another key, BID or counter.
var ErrAuth = errors.New("frame authentication failed")

// ExporterContext returns the TLS exporter context of a key generation:
// generation, the MR's receiver index and the HA's receiver index, each a
// big-endian uint32 (12 bytes).
func ExporterContext(generation, mrIndex, haIndex uint32) []byte {
	b := make([]byte, 0, 12)
	b = binary.BigEndian.AppendUint32(b, generation)
	b = binary.BigEndian.AppendUint32(b, mrIndex)
	return binary.BigEndian.AppendUint32(b, haIndex)
}

// SplitKeys cuts the EKMLen exported bytes into the MR→HA key (the first
// KeyLen bytes) and the HA→MR key (the last KeyLen).
func SplitKeys(ekm []byte) (mrToHA, haToMR [KeyLen]byte, err error) {
	if len(ekm) != EKMLen {
		return mrToHA, haToMR, fmt.Errorf("keying material is %d bytes, want %d", len(ekm), EKMLen)
	}
	copy(mrToHA[:], ekm[:KeyLen])
	copy(haToMR[:], ekm[KeyLen:])
	return mrToHA, haToMR, nil
}

// Cipher seals and opens frames of one direction under one key. It is
// immutable after [New] and safe for concurrent use.
type Cipher struct {
	suite Suite
	aead  cipher.AEAD

	// nonces holds *[nonceLen]byte scratch buffers. A nonce built in a
	// local array would escape to the heap, because cipher.AEAD is an
	// interface and the compiler cannot see that Seal and Open keep no
	// reference to it; the pool keeps Seal and Open allocation-free while
	// staying safe for concurrent use.
	nonces sync.Pool
}

// New returns a Cipher for suite s under key. The key is copied.
func New(s Suite, key [KeyLen]byte) (*Cipher, error) {
	var (
		aead cipher.AEAD
		err  error
	)
	switch s {
	case AES256GCM:
		var b cipher.Block
		if b, err = aes.NewCipher(key[:]); err == nil {
			aead, err = cipher.NewGCM(b)
		}
	case ChaCha20Poly1305:
		aead, err = chacha20poly1305.New(key[:])
	default:
		return nil, fmt.Errorf("unknown cipher suite %d", s)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	if aead.NonceSize() != nonceLen || aead.Overhead() != tagLen {
		return nil, fmt.Errorf("%s: unexpected nonce size %d or tag size %d", s, aead.NonceSize(), aead.Overhead())
	}
	c := &Cipher{suite: s, aead: aead}
	c.nonces.New = func() any { return new([nonceLen]byte) }
	return c, nil
}

// Suite returns the suite of c.
func (c *Cipher) Suite() Suite { return c.suite }

// nonce returns a scratch nonce holding 0x0000 ‖ bid ‖ counter; give it back
// with c.nonces.Put.
func (c *Cipher) nonce(bid paths.BID, counter uint64) *[nonceLen]byte {
	n := c.nonces.Get().(*[nonceLen]byte)
	n[0], n[1] = 0, 0
	binary.BigEndian.PutUint16(n[2:4], uint16(bid))
	binary.BigEndian.PutUint64(n[4:12], counter)
	return n
}

// Seal encrypts a frame in place. frame[:16] is the frame header, already
// written, which is authenticated as additional data; frame[16:16+plainLen]
// is the plaintext. Seal overwrites the plaintext with the ciphertext,
// appends the 16-byte tag and returns frame[:16+plainLen+16]. cap(frame)
// must be at least 16+plainLen+16; less is a programming error and panics.
// bid and counter form the nonce and must be the ones in the header. Seal
// does not allocate; frame is borrowed.
func (c *Cipher) Seal(frame []byte, plainLen int, bid paths.BID, counter uint64) []byte {
	frame = frame[:headerLen+plainLen+tagLen]
	n := c.nonce(bid, counter)
	c.aead.Seal(frame[headerLen:headerLen], n[:], frame[headerLen:headerLen+plainLen], frame[:headerLen])
	c.nonces.Put(n)
	return frame
}

// Open authenticates and decrypts a frame in place. frame is the whole
// datagram: header ‖ ciphertext ‖ tag; the header is the additional data.
// On success Open returns the plaintext, which aliases frame[16:]. If frame
// is shorter than a header and a tag, or fails authentication under c, bid
// and counter, Open returns [ErrAuth]; the contents of frame[16:] are then
// unspecified. Open does not allocate; frame is borrowed.
func (c *Cipher) Open(frame []byte, bid paths.BID, counter uint64) ([]byte, error) {
	if len(frame) < headerLen+tagLen {
		return nil, ErrAuth
	}
	n := c.nonce(bid, counter)
	pt, err := c.aead.Open(frame[headerLen:headerLen], n[:], frame[headerLen:], frame[:headerLen])
	c.nonces.Put(n)
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}
