// SPDX-License-Identifier: MIT

package tuntest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	wgtun "golang.zx2c4.com/wireguard/tun"
)

// shuttle copies packets from one device to the other until src is closed.
func shuttle(src, dst wgtun.Device) error {
	const offset = 16
	bufs := make([][]byte, src.BatchSize())
	for i := range bufs {
		bufs[i] = make([]byte, offset+65535)
	}
	sizes := make([]int, len(bufs))
	out := make([][]byte, 0, len(bufs))
	for {
		n, err := src.Read(bufs, sizes, offset)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
		out = out[:0]
		for i := range n {
			out = append(out, bufs[i][:offset+sizes[i]])
		}
		if _, err := dst.Write(out, offset); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

func TestNetstackTUNCarriesTCP(t *testing.T) {
	for _, tc := range []struct{ name, a, b string }{
		{name: "ipv4", a: "198.18.50.1", b: "198.18.50.2"},
		{name: "ipv6", a: "fd00:50::1", b: "fd00:50::2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := netip.MustParseAddr(tc.a), netip.MustParseAddr(tc.b)
			devA, netA, err := NetstackTUN([]netip.Addr{a}, 1420)
			if err != nil {
				t.Fatal(err)
			}
			devB, netB, err := NetstackTUN([]netip.Addr{b}, 1420)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 2)
			wg.Go(func() { errs <- shuttle(devA, devB) })
			wg.Go(func() { errs <- shuttle(devB, devA) })
			defer func() {
				devA.Close()
				devB.Close()
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Errorf("shuttle: %v", err)
					}
				}
			}()

			ln, err := netB.ListenTCPAddrPort(netip.AddrPortFrom(b, 8080))
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			want := make([]byte, 1<<20)
			rand.Read(want)
			got := make(chan []byte, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					got <- nil
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				buf, _ := io.ReadAll(c)
				got <- buf
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := netA.DialContextTCPAddrPort(ctx, netip.AddrPortFrom(b, 8080))
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.Write(want); err != nil {
				t.Fatal(err)
			}
			c.Close()
			if g := <-got; !bytes.Equal(g, want) {
				t.Fatalf("received %d bytes, want %d identical bytes", len(g), len(want))
			}
		})
	}
}
