// SPDX-License-Identifier: MIT

package udpconn

import (
	"net/netip"
	"testing"
)

// roundTrip writes bufs to rcv and reads until all arrived.
func roundTrip(tb testing.TB, snd, rcv *Conn, bufs, rbufs [][]byte, sizes []int, eps []netip.AddrPort) {
	if err := snd.Write(bufs, rcv.LocalAddr()); err != nil {
		tb.Fatal(err)
	}
	for got := 0; got < len(bufs); {
		n, err := rcv.Read(rbufs, sizes, eps)
		if err != nil {
			tb.Fatal(err)
		}
		got += n
	}
}

func payloads(n, size int) [][]byte {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = datagram(i, size)
	}
	return bufs
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations differ under the race detector")
	}
	tests := []struct {
		name  string
		opts  Options
		nbufs int
	}{
		{name: "offload", nbufs: 128},
		{name: "offload few buffers", nbufs: 8},
		{name: "no offload", opts: Options{DisableGSO: true, DisableGRO: true}, nbufs: 128},
	}
	for _, lo := range loopbacks {
		for _, tc := range tests {
			t.Run(lo.name+"/"+tc.name, func(t *testing.T) {
				snd, rcv, sink := open(t, lo.addr, tc.opts), open(t, lo.addr, tc.opts), open(t, lo.addr, tc.opts)
				bufs := payloads(32, 1400)
				rbufs, sizes, eps := makeBufs(tc.nbufs)
				roundTrip(t, snd, rcv, bufs, rbufs, sizes, eps) // warm up
				if a := testing.AllocsPerRun(100, func() {
					if err := snd.Write(bufs, sink.LocalAddr()); err != nil {
						t.Fatal(err)
					}
				}); a != 0 {
					t.Errorf("Write of 32 datagrams: %v allocations", a)
				}
				if a := testing.AllocsPerRun(100, func() {
					roundTrip(t, snd, rcv, bufs, rbufs, sizes, eps)
				}); a != 0 {
					t.Errorf("Write and Read of 32 datagrams: %v allocations", a)
				}
			})
		}
	}
}

func BenchmarkLoopback(b *testing.B) {
	for _, lo := range loopbacks {
		for _, mode := range []struct {
			name string
			opts Options
		}{
			{name: "gso-gro", opts: Options{}},
			{name: "no-offload", opts: Options{DisableGSO: true, DisableGRO: true}},
		} {
			b.Run(lo.name+"/"+mode.name, func(b *testing.B) {
				snd, rcv := open(b, lo.addr, mode.opts), open(b, lo.addr, mode.opts)
				bufs := payloads(64, 1400)
				rbufs, sizes, eps := makeBufs(rcv.BatchSize())
				b.SetBytes(64 * 1400)
				b.ReportAllocs()
				for b.Loop() {
					roundTrip(b, snd, rcv, bufs, rbufs, sizes, eps)
				}
				b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "datagrams/s")
			})
		}
	}
}
