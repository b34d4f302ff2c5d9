// SPDX-License-Identifier: MIT

package testbed

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"
)

// Pattern is a deterministic pseudo-random byte stream, so a receiver can
// hash what it got and compare with the sender's hash.
type Pattern struct{ r *rand.ChaCha8 }

// NewPattern returns the stream for seed.
func NewPattern(seed uint64) *Pattern {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return &Pattern{rand.NewChaCha8(s)}
}

// Read fills p.
func (p *Pattern) Read(b []byte) (int, error) { return p.r.Read(b) }

// SendHashed writes n bytes of the seed's pattern to c, closes its write
// side, and returns the SHA-256 of what it sent.
func SendHashed(c net.Conn, seed uint64, n int64) ([32]byte, error) {
	h := sha256.New()
	w := io.MultiWriter(c, h)
	if _, err := io.CopyN(w, NewPattern(seed), n); err != nil {
		return [32]byte{}, fmt.Errorf("send: %w", err)
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	return [32]byte(h.Sum(nil)), nil
}

// ReceiveHashed reads c to EOF and returns the byte count and SHA-256.
func ReceiveHashed(c net.Conn) (int64, [32]byte, error) {
	h := sha256.New()
	n, err := io.Copy(h, c)
	return n, [32]byte(h.Sum(nil)), err
}

// Sink accepts connections on l and discards what they send, counting
// bytes, until l is closed.
func Sink(l net.Listener, bytes *atomic.Int64) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				bytes.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
	}
}

// Echo sends every datagram that arrives on pc back to its sender, until
// pc is closed.
func Echo(pc net.PacketConn) {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pc.WriteTo(buf[:n], from)
	}
}

// Blast dials addr from the namespace of role and writes the pattern until
// ctx is done, redialling after errors. It returns when ctx is done.
func (t *Topology) Blast(ctx context.Context, role, network, addr string, seed uint64) {
	buf := make([]byte, 64<<10)
	NewPattern(seed).Read(buf)
	for ctx.Err() == nil {
		c, err := t.Dial(ctx, role, network, addr)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		for {
			if _, err := c.Write(buf); err != nil {
				break
			}
		}
		stop()
		c.Close()
	}
}

// Ping runs ping from the namespace of role; it returns ping's output.
func (t *Topology) Ping(role, addr string, count int) (string, error) {
	out, err := t.Command(role, "ping", "-n", "-c", fmt.Sprint(count), "-i", "0.2", "-W", "2", addr).CombinedOutput()
	if err != nil {
		return string(out), errors.New("ping " + addr + ": " + err.Error())
	}
	return string(out), nil
}
