// SPDX-License-Identifier: MIT

package session

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"

	"monami/paths"
)

var suites = []Suite{AES256GCM, ChaCha20Poly1305}

func testKey(seed byte) [KeyLen]byte {
	var k [KeyLen]byte
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

// header writes a frame header (the layout of tunnel/frame) into b.
func header(b []byte, bid paths.BID, counter uint64) {
	b[0], b[1] = 1, 0
	binary.BigEndian.PutUint16(b[2:4], uint16(bid))
	binary.BigEndian.PutUint32(b[4:8], 0x01020304)
	binary.BigEndian.PutUint64(b[8:16], counter)
}

// sealed returns a sealed frame carrying payload, and the plaintext.
func sealed(t testing.TB, c *Cipher, payload []byte, bid paths.BID, counter uint64) []byte {
	t.Helper()
	buf := make([]byte, headerLen+len(payload)+tagLen)
	header(buf, bid, counter)
	copy(buf[headerLen:], payload)
	out := c.Seal(buf, len(payload), bid, counter)
	if len(out) != headerLen+len(payload)+tagLen || &out[0] != &buf[0] {
		t.Fatalf("Seal returned %d bytes (aliasing %v), want %d in place", len(out), &out[0] == &buf[0], len(buf))
	}
	return out
}

func TestSuiteString(t *testing.T) {
	tests := []struct {
		name string
		s    Suite
		want string
	}{
		{name: "aes", s: AES256GCM, want: "aes-256-gcm"},
		{name: "chacha", s: ChaCha20Poly1305, want: "chacha20-poly1305"},
		{name: "unknown", s: 7, want: "suite(7)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			s, err := ParseSuite(tc.want)
			if tc.s == AES256GCM || tc.s == ChaCha20Poly1305 {
				if err != nil || s != tc.s {
					t.Errorf("ParseSuite(%q) = %v, %v; want %v", tc.want, s, err, tc.s)
				}
			} else if err == nil {
				t.Errorf("ParseSuite(%q) succeeded", tc.want)
			}
		})
	}
	for _, bad := range []string{"", "AES-256-GCM", "aes-128-gcm", "chacha20"} {
		if _, err := ParseSuite(bad); err == nil {
			t.Errorf("ParseSuite(%q) succeeded", bad)
		}
	}
}

func TestNewUnknownSuite(t *testing.T) {
	for _, s := range []Suite{0, 3, 255} {
		if _, err := New(s, testKey(0)); err == nil {
			t.Errorf("New(%d) succeeded", s)
		}
	}
}

func TestExporterContext(t *testing.T) {
	got := ExporterContext(1, 0x11223344, 0xaabbccdd)
	want := []byte{0, 0, 0, 1, 0x11, 0x22, 0x33, 0x44, 0xaa, 0xbb, 0xcc, 0xdd}
	if !bytes.Equal(got, want) {
		t.Errorf("ExporterContext = % x, want % x", got, want)
	}
}

func TestSplitKeys(t *testing.T) {
	ekm := make([]byte, EKMLen)
	for i := range ekm {
		ekm[i] = byte(i)
	}
	up, down, err := SplitKeys(ekm)
	if err != nil {
		t.Fatal(err)
	}
	if up[0] != 0 || up[31] != 31 || down[0] != 32 || down[31] != 63 {
		t.Errorf("SplitKeys = % x / % x", up, down)
	}
	for _, n := range []int{0, 32, 63, 65} {
		if _, _, err := SplitKeys(make([]byte, n)); err == nil {
			t.Errorf("SplitKeys(%d bytes) succeeded", n)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, s := range suites {
		for _, size := range []int{0, 1, 20, 1400, 9000} {
			t.Run(fmt.Sprintf("%s/%d", s, size), func(t *testing.T) {
				c, err := New(s, testKey(1))
				if err != nil {
					t.Fatal(err)
				}
				if c.Suite() != s {
					t.Errorf("Suite() = %v", c.Suite())
				}
				payload := make([]byte, size)
				for i := range payload {
					payload[i] = byte(i * 7)
				}
				const bid, counter = 3, 1 << 40
				dg := sealed(t, c, payload, bid, counter)
				if size > 0 && bytes.Equal(dg[headerLen:headerLen+size], payload) {
					t.Error("ciphertext equals plaintext")
				}
				pt, err := c.Open(dg, bid, counter)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if !bytes.Equal(pt, payload) {
					t.Error("Open returned a different plaintext")
				}
				if size > 0 && &pt[0] != &dg[headerLen] {
					t.Error("plaintext does not alias frame[16:]")
				}
			})
		}
	}
}

// TestSealSpareCapacity: Seal into a buffer larger than the frame returns
// exactly the frame and leaves what follows the tag alone.
func TestSealSpareCapacity(t *testing.T) {
	c, err := New(AES256GCM, testKey(2))
	if err != nil {
		t.Fatal(err)
	}
	buf := bytes.Repeat([]byte{0xee}, 200)
	header(buf, 1, 0)
	out := c.Seal(buf[:headerLen], 100, 1, 0)
	if len(out) != headerLen+100+tagLen {
		t.Fatalf("len = %d", len(out))
	}
	if !bytes.Equal(buf[len(out):], bytes.Repeat([]byte{0xee}, 200-len(out))) {
		t.Error("Seal wrote past the tag")
	}
}

func TestTamper(t *testing.T) {
	const bid, counter = 2, 77
	for _, s := range suites {
		c, err := New(s, testKey(3))
		if err != nil {
			t.Fatal(err)
		}
		other, err := New(s, testKey(4))
		if err != nil {
			t.Fatal(err)
		}
		orig := sealed(t, c, []byte("an inner packet of some length"), bid, counter)
		tests := []struct {
			name    string
			mutate  func(dg []byte) []byte
			cipher  *Cipher
			bid     paths.BID
			counter uint64
		}{
			{name: "other bid", mutate: func(dg []byte) []byte { return dg }, bid: bid + 1, counter: counter},
			{name: "other counter", mutate: func(dg []byte) []byte { return dg }, bid: bid, counter: counter + 1},
			{name: "other key", mutate: func(dg []byte) []byte { return dg }, cipher: other, bid: bid, counter: counter},
			{name: "truncated tag", mutate: func(dg []byte) []byte { return dg[:len(dg)-1] }, bid: bid, counter: counter},
			{name: "shorter than header and tag", mutate: func(dg []byte) []byte { return dg[:headerLen+tagLen-1] }, bid: bid, counter: counter},
			{name: "extra byte", mutate: func(dg []byte) []byte { return append(dg, 0) }, bid: bid, counter: counter},
		}
		for i := range orig {
			tests = append(tests, struct {
				name    string
				mutate  func(dg []byte) []byte
				cipher  *Cipher
				bid     paths.BID
				counter uint64
			}{
				name:    fmt.Sprintf("flip byte %d", i),
				mutate:  func(dg []byte) []byte { dg[i] ^= 0x01; return dg },
				bid:     bid,
				counter: counter,
			})
		}
		for _, tc := range tests {
			t.Run(s.String()+"/"+tc.name, func(t *testing.T) {
				dg := tc.mutate(bytes.Clone(orig))
				oc := c
				if tc.cipher != nil {
					oc = tc.cipher
				}
				pt, err := oc.Open(dg, tc.bid, tc.counter)
				if !errors.Is(err, ErrAuth) || pt != nil {
					t.Errorf("Open = %q, %v; want ErrAuth", pt, err)
				}
			})
		}
		if _, err := c.Open(bytes.Clone(orig), bid, counter); err != nil {
			t.Errorf("%s: unmodified frame: %v", s, err)
		}
	}
}

// TestNonceSeparation: the BID is part of the nonce, so the same counter on
// two BIDs under one key yields unrelated ciphertexts (no keystream reuse).
func TestNonceSeparation(t *testing.T) {
	for _, s := range suites {
		c, err := New(s, testKey(5))
		if err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, 64)
		a := sealed(t, c, payload, 1, 9)
		b := sealed(t, c, payload, 2, 9)
		// Make the headers equal so only the nonce differs.
		copy(b[:headerLen], a[:headerLen])
		if bytes.Equal(a[headerLen:headerLen+64], b[headerLen:headerLen+64]) {
			t.Errorf("%s: same ciphertext for BID 1 and BID 2", s)
		}
		if _, err := c.Open(b, 1, 9); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: frame of BID 2 opened as BID 1: %v", s, err)
		}
	}
}

// TestKnownAnswer pins the nonce layout: the nonce 00 00 ‖ BID ‖ counter,
// used directly with the standard AEAD, must give the same frame.
func TestKnownAnswer(t *testing.T) {
	for _, s := range suites {
		c, err := New(s, testKey(6))
		if err != nil {
			t.Fatal(err)
		}
		payload := []byte("known answer")
		const bid, counter = 0x0102, 0x0304050607080910
		dg := sealed(t, c, payload, bid, counter)
		nonce := []byte{0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x10}
		hdr := dg[:headerLen]
		want := c.aead.Seal(bytes.Clone(hdr), nonce, payload, hdr)
		if !bytes.Equal(dg, want) {
			t.Errorf("%s: frame = % x, want % x", s, dg, want)
		}
	}
}

func TestConcurrent(t *testing.T) {
	c, err := New(ChaCha20Poly1305, testKey(7))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			buf := make([]byte, headerLen+100+tagLen)
			for i := range 500 {
				bid, counter := paths.BID(g+1), uint64(i)
				header(buf, bid, counter)
				dg := c.Seal(buf, 100, bid, counter)
				if _, err := c.Open(dg, bid, counter); err != nil {
					t.Errorf("goroutine %d, counter %d: %v", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzOpen feeds arbitrary datagrams to Open under both suites: it must
// never panic, and anything it accepts must be what Seal produces.
func FuzzOpen(f *testing.F) {
	ciphers := make([]*Cipher, len(suites))
	for i, s := range suites {
		c, err := New(s, testKey(11))
		if err != nil {
			f.Fatal(err)
		}
		ciphers[i] = c
		for _, n := range []int{0, 1, 64} {
			dg := sealed(f, c, bytes.Repeat([]byte{0x45}, n), 1, uint64(n))
			f.Add(dg, uint16(1), uint64(n))
		}
	}
	f.Add([]byte{}, uint16(0), uint64(0))
	f.Fuzz(func(t *testing.T, dg []byte, bid uint16, counter uint64) {
		for _, c := range ciphers {
			frame := bytes.Clone(dg)
			pt, err := c.Open(frame, paths.BID(bid), counter)
			if err != nil {
				if !errors.Is(err, ErrAuth) || pt != nil {
					t.Fatalf("%s: Open = %q, %v", c.Suite(), pt, err)
				}
				continue
			}
			again := bytes.Clone(dg)
			copy(again[headerLen:], pt)
			if got := c.Seal(again, len(pt), paths.BID(bid), counter); !bytes.Equal(got, dg) {
				t.Fatalf("%s: sealing the opened plaintext gives % x, want % x", c.Suite(), got, dg)
			}
		}
	})
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	for _, s := range suites {
		c, err := New(s, testKey(8))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, headerLen+1400+tagLen)
		var counter uint64
		if n := testing.AllocsPerRun(200, func() {
			counter++
			header(buf, 1, counter)
			dg := c.Seal(buf, 1400, 1, counter)
			if _, err := c.Open(dg, 1, counter); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: Seal+Open allocate %v times", s, n)
		}
		dg := sealed(t, c, make([]byte, 1400), 1, 0)
		dg[20] ^= 1
		if n := testing.AllocsPerRun(200, func() {
			if _, err := c.Open(dg, 1, 0); err == nil {
				t.Fatal("forged frame opened")
			}
		}); n != 0 {
			t.Errorf("%s: failing Open allocates %v times", s, n)
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	for _, s := range suites {
		b.Run(s.String(), func(b *testing.B) {
			c, err := New(s, testKey(9))
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, headerLen+1400+tagLen)
			var counter uint64
			b.SetBytes(1400)
			b.ReportAllocs()
			for b.Loop() {
				counter++
				header(buf, 1, counter)
				c.Seal(buf, 1400, 1, counter)
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, s := range suites {
		b.Run(s.String(), func(b *testing.B) {
			c, err := New(s, testKey(10))
			if err != nil {
				b.Fatal(err)
			}
			orig := sealed(b, c, make([]byte, 1400), 1, 5)
			buf := make([]byte, len(orig))
			b.SetBytes(1400)
			b.ReportAllocs()
			for b.Loop() {
				copy(buf, orig) // Open decrypts in place
				if _, err := c.Open(buf, 1, 5); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
