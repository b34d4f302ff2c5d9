// SPDX-License-Identifier: MIT

package tuntest

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"testing"
	"testing/synctest"

	wgtun "golang.zx2c4.com/wireguard/tun"
)

func TestChannelTUNRead(t *testing.T) {
	const offset = 16
	tests := []struct {
		name    string
		batch   int
		queued  int
		nbufs   int
		wantOne int // packets the first Read returns
	}{
		{name: "batch 1", batch: 1, queued: 3, nbufs: 8, wantOne: 1},
		{name: "batch 4 takes what is queued", batch: 4, queued: 3, nbufs: 8, wantOne: 3},
		{name: "batch limits", batch: 4, queued: 6, nbufs: 8, wantOne: 4},
		{name: "bufs limit", batch: 8, queued: 6, nbufs: 2, wantOne: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dev := NewChannelTUN(0, tc.batch)
			defer dev.Close()
			if got := dev.BatchSize(); got != tc.batch {
				t.Fatalf("BatchSize %d", got)
			}
			var want [][]byte
			for i := range tc.queued {
				p := UDPPacket(netip.MustParseAddrPort("198.18.10.2:1000"), netip.MustParseAddrPort("198.18.20.2:53"), []byte{byte(i)})
				want = append(want, p)
				dev.Outbound <- p
			}
			bufs := make([][]byte, tc.nbufs)
			for i := range bufs {
				bufs[i] = make([]byte, offset+1500)
			}
			sizes := make([]int, tc.nbufs)
			var got [][]byte
			for len(got) < tc.queued {
				n, err := dev.Read(bufs, sizes, offset)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) == 0 && n != tc.wantOne {
					t.Fatalf("first Read returned %d packets, want %d", n, tc.wantOne)
				}
				for i := range n {
					got = append(got, append([]byte(nil), bufs[i][offset:offset+sizes[i]]...))
				}
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("packet %d differs", i)
				}
			}
		})
	}
}

func TestChannelTUNWrite(t *testing.T) {
	dev := NewChannelTUN(1280, 2)
	defer dev.Close()
	if mtu, _ := dev.MTU(); mtu != 1280 {
		t.Fatalf("MTU %d", mtu)
	}
	if ev := <-dev.Events(); ev != wgtun.EventUp {
		t.Fatalf("first event %v", ev)
	}
	p1 := ICMPEcho(netip.MustParseAddr("fd00:10::2"), netip.MustParseAddr("fd00:20::2"), 1, 1)
	p2 := TCPSyn(netip.MustParseAddrPort("198.18.10.2:1"), netip.MustParseAddrPort("198.18.20.2:2"))
	bufs := [][]byte{append(make([]byte, 4), p1...), append(make([]byte, 4), p2...)}
	n, err := dev.Write(bufs, 4)
	if err != nil || n != 2 {
		t.Fatalf("Write = %d, %v", n, err)
	}
	bufs[0][4] = 0 // Write copied: later changes are not seen
	if got := <-dev.Inbound; !bytes.Equal(got, p1) {
		t.Fatalf("first packet %x", got)
	}
	if got := <-dev.Inbound; !bytes.Equal(got, p2) {
		t.Fatalf("second packet %x", got)
	}
}

func TestChannelTUNShortBuffer(t *testing.T) {
	dev := NewChannelTUN(0, 1)
	defer dev.Close()
	dev.Outbound <- make([]byte, 100)
	_, err := dev.Read([][]byte{make([]byte, 50)}, []int{0}, 0)
	if !errors.Is(err, io.ErrShortBuffer) {
		t.Fatalf("err = %v", err)
	}
}

func TestChannelTUNClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dev := NewChannelTUN(0, 1)
		errc := make(chan error, 1)
		go func() {
			_, err := dev.Read([][]byte{make([]byte, 1500)}, []int{0}, 0)
			errc <- err
		}()
		synctest.Wait() // Read is blocked
		if err := dev.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Read after Close: %v", err)
		}
		if _, err := dev.Write([][]byte{{0x45}}, 0); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Write after Close: %v", err)
		}
		if err := dev.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if ev, ok := <-dev.Events(); !ok || ev != wgtun.EventUp {
			t.Fatalf("queued event %v %v", ev, ok)
		}
		if _, ok := <-dev.Events(); ok {
			t.Fatal("events channel not closed")
		}
	})
}
