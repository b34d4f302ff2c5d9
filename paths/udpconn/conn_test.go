// SPDX-License-Identifier: MIT

package udpconn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"monami/paths"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

var loopbacks = []struct {
	name string
	addr netip.Addr
}{
	{name: "ipv4", addr: netip.MustParseAddr("127.0.0.1")},
	{name: "ipv6", addr: netip.MustParseAddr("::1")},
}

// open opens a Conn on addr:0 and closes it when the test ends.
func open(t testing.TB, addr netip.Addr, opts Options) *Conn {
	t.Helper()
	opts.Source = netip.AddrPortFrom(addr, 0)
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	c, err := Open(opts)
	if err != nil {
		if addr.Is6() && strings.Contains(err.Error(), "cannot assign") {
			t.Skip("no IPv6 loopback")
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func makeBufs(n int) ([][]byte, []int, []netip.AddrPort) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, paths.MaxDatagram)
	}
	return bufs, make([]int, n), make([]netip.AddrPort, n)
}

// datagram returns datagram i of the given size: its index, then a pattern.
func datagram(i, size int) []byte {
	d := make([]byte, size)
	for k := range d {
		d[k] = byte(i*7 + k)
	}
	if size >= 4 {
		binary.BigEndian.PutUint32(d, uint32(i))
	}
	return d
}

// mixedSizes returns n sizes in 1..1452 made of runs of equal sizes, some
// ending in a shorter one, so that GSO groups and breaks them.
func mixedSizes(rng *rand.Rand, n int) []int {
	var s []int
	for len(s) < n {
		size := 1 + rng.IntN(1452)
		for range 1 + rng.IntN(70) {
			s = append(s, size)
		}
		if rng.IntN(2) == 0 {
			s = append(s, 1+rng.IntN(size))
		}
	}
	return s[:n]
}

// receive reads from c until n datagrams arrived, failing after a timeout.
func receive(t *testing.T, c *Conn, n, nbufs int) ([][]byte, []netip.AddrPort) {
	t.Helper()
	bufs, sizes, eps := makeBufs(nbufs)
	var got [][]byte
	var from []netip.AddrPort
	timer := time.AfterFunc(10*time.Second, func() { c.Close() })
	defer timer.Stop()
	for len(got) < n {
		k, err := c.Read(bufs, sizes, eps)
		if err != nil {
			t.Fatalf("Read after %d of %d datagrams: %v", len(got), n, err)
		}
		if k < 1 || k > nbufs {
			t.Fatalf("Read returned %d", k)
		}
		for i := range k {
			got = append(got, bytes.Clone(bufs[i][:sizes[i]]))
			from = append(from, eps[i])
		}
	}
	return got, from
}

func TestLoopbackMixedSizes(t *testing.T) {
	modes := []struct {
		name string
		snd  Options
		rcv  Options
	}{
		{name: "offload"},
		{name: "no gso", snd: Options{DisableGSO: true}},
		{name: "no gro", rcv: Options{DisableGRO: true}},
		{name: "no offload", snd: Options{DisableGSO: true, DisableGRO: true}, rcv: Options{DisableGSO: true, DisableGRO: true}},
	}
	for _, lo := range loopbacks {
		for _, mode := range modes {
			t.Run(lo.name+"/"+mode.name, func(t *testing.T) {
				snd, rcv := open(t, lo.addr, mode.snd), open(t, lo.addr, mode.rcv)
				rng := rand.New(rand.NewPCG(1, 2))
				sizes := mixedSizes(rng, 1000)
				var want [][]byte
				for i, s := range sizes {
					want = append(want, datagram(i, s))
				}
				// Lock-step batches, so no receive buffer can overflow.
				var got [][]byte
				for rest := want; len(rest) > 0; {
					b := rest[:min(len(rest), 1+rng.IntN(150))]
					rest = rest[len(b):]
					if err := snd.Write(b, rcv.LocalAddr()); err != nil {
						t.Fatalf("Write: %v", err)
					}
					g, from := receive(t, rcv, len(b), rcv.BatchSize())
					for _, f := range from {
						if f != snd.LocalAddr() {
							t.Fatalf("source %v, want %v", f, snd.LocalAddr())
						}
					}
					got = append(got, g...)
				}
				for i := range want {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("datagram %d: got %d bytes, want %d", i, len(got[i]), len(want[i]))
					}
				}
				ss, rs := snd.Stats().Snapshot(), rcv.Stats().Snapshot()
				var total uint64
				for _, s := range sizes {
					total += uint64(s)
				}
				if ss.DatagramsSentTotal != 1000 || ss.BytesSentTotal != total || ss.SendErrorsTotal != 0 || ss.GSOFallbacksTotal != 0 {
					t.Errorf("sender stats %+v, want 1000 datagrams, %d bytes", ss, total)
				}
				if rs.DatagramsReceivedTotal != 1000 || rs.BytesReceivedTotal != total || rs.TruncatedTotal != 0 {
					t.Errorf("receiver stats %+v, want 1000 datagrams, %d bytes", rs, total)
				}
				gso, _ := snd.Offload()
				_, gro := rcv.Offload()
				t.Logf("gso %v gro %v", gso, gro)
			})
		}
	}
}

func TestGROSplit(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
		nbufs int
		first int // datagrams the first Read returns; 0: min(len(sizes), nbufs)
	}{
		{name: "64 equal", sizes: repeat(64, 1000), nbufs: 128},
		{name: "64 equal into 64 buffers", sizes: repeat(64, 1000), nbufs: 64},
		{name: "last shorter", sizes: append(repeat(63, 1000), 500), nbufs: 128},
		{name: "tiny segments", sizes: repeat(64, 1), nbufs: 128},
		{name: "two coalesced reads in one call", sizes: append(repeat(64, 500), repeat(64, 700)...), nbufs: 128},
		{name: "three coalesced reads in one call", sizes: append(append(repeat(64, 300), repeat(64, 20)...), repeat(64, 1452)[:40]...), nbufs: 200},
		{name: "second group waits for the next call", sizes: append(repeat(64, 500), repeat(30, 700)...), nbufs: 100, first: 64},
		{name: "few buffers keep the rest", sizes: repeat(64, 900), nbufs: 5},
		{name: "one buffer", sizes: repeat(20, 1200), nbufs: 1},
	}
	for _, lo := range loopbacks {
		for _, tc := range tests {
			t.Run(lo.name+"/"+tc.name, func(t *testing.T) {
				snd, rcv := open(t, lo.addr, Options{}), open(t, lo.addr, Options{})
				if gso, _ := snd.Offload(); !gso {
					t.Skip("no UDP GSO")
				}
				if _, gro := rcv.Offload(); !gro {
					t.Skip("no UDP GRO")
				}
				var want [][]byte
				for i, s := range tc.sizes {
					want = append(want, datagram(i, s))
				}
				if err := snd.Write(want, rcv.LocalAddr()); err != nil {
					t.Fatal(err)
				}
				if !snd.w.gsoWorked {
					t.Fatal("the write did not use GSO")
				}
				bufs, sizes, eps := makeBufs(tc.nbufs)
				n, err := rcv.Read(bufs, sizes, eps)
				if err != nil {
					t.Fatal(err)
				}
				wantN := tc.first
				if wantN == 0 {
					wantN = min(len(want), tc.nbufs)
				}
				if n != wantN {
					t.Fatalf("first Read returned %d datagrams, want %d", n, wantN)
				}
				got := make([][]byte, 0, len(want))
				for i := range n {
					got = append(got, bytes.Clone(bufs[i][:sizes[i]]))
				}
				if len(got) < len(want) {
					rest, _ := receive(t, rcv, len(want)-len(got), tc.nbufs)
					got = append(got, rest...)
				}
				for i := range want {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("datagram %d differs (%d bytes, want %d)", i, len(got[i]), len(want[i]))
					}
				}
				if eps[0] != snd.LocalAddr() {
					t.Fatalf("source %v", eps[0])
				}
			})
		}
	}
}

func repeat(n, size int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = size
	}
	return s
}

func growing(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i + 1
	}
	return s
}

func TestGSOGrouping(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
		want  []int // datagrams per message
	}{
		{name: "equal run", sizes: repeat(10, 100), want: []int{10}},
		{name: "shorter ends a run", sizes: []int{100, 100, 50, 100}, want: []int{3, 1}},
		{name: "longer starts a run", sizes: []int{100, 200, 200}, want: []int{1, 2}},
		{name: "64 segments at most", sizes: repeat(128, 10), want: []int{64, 64}},
		{name: "growing sizes stay single", sizes: growing(128), want: repeat(128, 1)},
		{name: "65507 bytes at most", sizes: repeat(50, 1400), want: []int{46, 4}},
		{name: "empty datagrams alone", sizes: []int{0, 0, 5, 5, 0}, want: []int{1, 1, 2, 1}},
		{name: "single", sizes: []int{1452}, want: []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w writer
			chunk := make([][]byte, len(tc.sizes))
			for i, s := range tc.sizes {
				chunk[i] = make([]byte, s)
			}
			nm := w.build(chunk, true)
			if nm != len(tc.want) {
				t.Fatalf("%d messages %v, want %v", nm, w.count[:nm], tc.want)
			}
			next := 0
			for k := range nm {
				if w.count[k] != tc.want[k] || w.first[k] != next {
					t.Fatalf("message %d: first %d count %d, want %d %d", k, w.first[k], w.count[k], next, tc.want[k])
				}
				next += w.count[k]
				if hasSeg := w.msgs[k].hdr.Control != nil; hasSeg != (w.count[k] > 1) {
					t.Fatalf("message %d: UDP_SEGMENT %v with %d datagrams", k, hasSeg, w.count[k])
				}
			}
			if nm := w.build(chunk, false); nm != len(chunk) {
				t.Fatalf("without GSO: %d messages for %d datagrams", nm, len(chunk))
			}
		})
	}
}

func TestGSOFallback(t *testing.T) {
	for _, lo := range loopbacks[:1] { // SO_NO_CHECK is an IPv4 option
		snd, rcv := open(t, lo.addr, Options{}), open(t, lo.addr, Options{})
		if gso, _ := snd.Offload(); !gso {
			t.Skip("no UDP GSO")
		}
		// Without UDP checksums the kernel refuses GSO with EINVAL.
		if err := snd.rc.Control(func(fd uintptr) {
			if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NO_CHECK, 1); err != nil {
				t.Fatal(err)
			}
		}); err != nil {
			t.Fatal(err)
		}
		var want [][]byte
		for i := range 10 {
			want = append(want, datagram(i, 500))
		}
		if err := snd.Write(want, rcv.LocalAddr()); err != nil {
			t.Fatalf("Write: %v", err)
		}
		got, _ := receive(t, rcv, len(want), 128)
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("datagram %d differs", i)
			}
		}
		if gso, _ := snd.Offload(); gso {
			t.Fatal("GSO still on")
		}
		if s := snd.Stats().Snapshot(); s.GSOFallbacksTotal != 1 || s.DatagramsSentTotal != 10 || s.SendErrorsTotal != 0 {
			t.Fatalf("stats %+v", s)
		}
	}
}

func TestWriteErrorSkipsOnlyTheRefused(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			snd, rcv := open(t, lo.addr, Options{}), open(t, lo.addr, Options{})
			batch := [][]byte{datagram(0, 100), datagram(1, 100), make([]byte, 70000), datagram(3, 100), datagram(4, 100)}
			err := snd.Write(batch, rcv.LocalAddr())
			if !errors.Is(err, unix.EMSGSIZE) {
				t.Fatalf("Write = %v, want EMSGSIZE", err)
			}
			got, _ := receive(t, rcv, 4, 128)
			for i, k := range []int{0, 1, 3, 4} {
				if !bytes.Equal(got[i], batch[k]) {
					t.Fatalf("datagram %d differs", k)
				}
			}
			if s := snd.Stats().Snapshot(); s.SendErrorsTotal != 1 || s.DatagramsSentTotal != 4 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestWriteWrongFamily(t *testing.T) {
	c4 := open(t, netip.MustParseAddr("127.0.0.1"), Options{})
	if err := c4.Write([][]byte{{1}}, netip.MustParseAddrPort("[::1]:9")); !errors.Is(err, ErrEndpoint) {
		t.Fatalf("IPv6 endpoint on IPv4 socket: %v", err)
	}
	if err := c4.Write([][]byte{{1}}, netip.AddrPort{}); !errors.Is(err, ErrEndpoint) {
		t.Fatalf("invalid endpoint: %v", err)
	}
	c6 := open(t, netip.MustParseAddr("::1"), Options{})
	if err := c6.Write([][]byte{{1}}, netip.MustParseAddrPort("127.0.0.1:9")); !errors.Is(err, ErrEndpoint) {
		t.Fatalf("IPv4 endpoint on IPv6 socket: %v", err)
	}
	if s := c4.Stats().Snapshot(); s.SendErrorsTotal != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestWriteMapped(t *testing.T) {
	snd, rcv := open(t, netip.MustParseAddr("127.0.0.1"), Options{}), open(t, netip.MustParseAddr("127.0.0.1"), Options{})
	ep := netip.AddrPortFrom(netip.AddrFrom16(rcv.LocalAddr().Addr().As16()), rcv.LocalAddr().Port())
	if err := snd.Write([][]byte{[]byte("mapped")}, ep); err != nil {
		t.Fatal(err)
	}
	if got, _ := receive(t, rcv, 1, 1); string(got[0]) != "mapped" {
		t.Fatalf("got %q", got[0])
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			c := open(t, lo.addr, Options{})
			errc := make(chan error, 1)
			go func() {
				bufs, sizes, eps := makeBufs(c.BatchSize())
				_, err := c.Read(bufs, sizes, eps)
				errc <- err
			}()
			time.Sleep(20 * time.Millisecond) // let Read block (it passes either way)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-errc:
				if !errors.Is(err, net.ErrClosed) {
					t.Fatalf("Read after Close: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not unblock Read")
			}
			if err := c.Write([][]byte{{1}}, c.LocalAddr()); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Write after Close: %v", err)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(Options{Interface: "monami-none0"})
	if !errors.Is(err, unix.ENODEV) || !strings.Contains(err.Error(), "bind to device monami-none0") {
		t.Fatalf("unknown interface: %v", err)
	}
	c := open(t, netip.MustParseAddr("127.0.0.1"), Options{})
	_, err = Open(Options{Source: c.LocalAddr()})
	if !errors.Is(err, unix.EADDRINUSE) {
		t.Fatalf("address in use: %v", err)
	}
}

func TestOpenDefaults(t *testing.T) {
	c, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if a := c.LocalAddr(); !a.Addr().Is4() || !a.Addr().IsUnspecified() || a.Port() == 0 {
		t.Fatalf("LocalAddr %v", a)
	}
	if c.BatchSize() != 128 {
		t.Fatalf("BatchSize %d", c.BatchSize())
	}
}

func TestListen(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			pc, err := Listen("", netip.AddrPortFrom(lo.addr, 0))
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			rc, _ := pc.SyscallConn()
			var rcvbuf, v6only int
			rc.Control(func(fd uintptr) {
				rcvbuf, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
				if lo.addr.Is6() {
					v6only, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
				}
			})
			if os.Geteuid() == 0 && rcvbuf < DefaultSocketBuffer {
				t.Errorf("SO_RCVBUF %d as root, want >= %d", rcvbuf, DefaultSocketBuffer)
			}
			if lo.addr.Is6() && v6only != 1 {
				t.Errorf("IPV6_V6ONLY %d", v6only)
			}
			// A plain socket talks to a Conn.
			c := open(t, lo.addr, Options{})
			if _, err := pc.WriteToUDPAddrPort([]byte("plain"), c.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			got, from := receive(t, c, 1, 128)
			if string(got[0]) != "plain" || from[0] != pc.LocalAddr().(*net.UDPAddr).AddrPort() {
				t.Fatalf("got %q from %v", got[0], from[0])
			}
		})
	}
}

func TestGROSize(t *testing.T) {
	msg := func(level, typ int32, data []byte) []byte {
		b := make([]byte, unix.CmsgSpace(len(data)))
		h := (*unix.Cmsghdr)(unsafePointer(b))
		h.Level, h.Type = level, typ
		h.SetLen(unix.CmsgLen(len(data)))
		copy(b[unix.CmsgLen(0):], data)
		return b
	}
	le32 := binary.NativeEndian.AppendUint32(nil, 1400)
	tests := []struct {
		name string
		oob  []byte
		want int
	}{
		{name: "empty"},
		{name: "gro", oob: msg(unix.SOL_UDP, unix.UDP_GRO, le32), want: 1400},
		{name: "gro 16-bit", oob: msg(unix.SOL_UDP, unix.UDP_GRO, []byte{0x78, 0x05}[:2]), want: int(binary.NativeEndian.Uint16([]byte{0x78, 0x05}))},
		{name: "after another", oob: append(msg(unix.SOL_IP, unix.IP_TOS, []byte{1}), msg(unix.SOL_UDP, unix.UDP_GRO, le32)...), want: 1400},
		{name: "other only", oob: msg(unix.SOL_IP, unix.IP_TOS, []byte{1})},
		{name: "truncated header", oob: msg(unix.SOL_UDP, unix.UDP_GRO, le32)[:10]},
		{name: "length beyond buffer", oob: msg(unix.SOL_UDP, unix.UDP_GRO, le32)[:unix.CmsgLen(2)]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := groSize(tc.oob); got != tc.want {
				t.Fatalf("groSize = %d, want %d", got, tc.want)
			}
		})
	}
}

func FuzzGROSize(f *testing.F) {
	f.Add([]byte{})
	f.Add(binary.NativeEndian.AppendUint32(binary.NativeEndian.AppendUint32(binary.NativeEndian.AppendUint64(nil, 20), unix.SOL_UDP), unix.UDP_GRO))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The 8-byte alignment the kernel gives control buffers.
		buf := make([]uint64, (len(b)+7)/8+1)
		oob := unsafeBytes(buf)[:len(b)]
		copy(oob, b)
		if n := groSize(oob); n < 0 {
			t.Fatalf("negative size %d", n)
		}
	})
}

func TestAddrPortOf(t *testing.T) {
	var w writer
	for _, s := range []string{"198.18.0.1:4242", "[fd00::1]:65535", "127.0.0.1:1"} {
		ep := netip.MustParseAddrPort(s)
		if !w.setDest(ep, ep.Addr().Is6()) {
			t.Fatalf("setDest(%v)", ep)
		}
		var sa unix.RawSockaddrInet6
		copy(unsafeBytesOf(&sa), unsafeByteSlice(w.name, int(w.namelen)))
		if got := addrPortOf(&sa); got != ep {
			t.Fatalf("round trip of %v gave %v", ep, got)
		}
	}
	if got := addrPortOf(&unix.RawSockaddrInet6{Family: unix.AF_UNIX}); got.IsValid() {
		t.Fatalf("AF_UNIX gave %v", got)
	}
}

func TestEmptyDatagrams(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			snd, rcv := open(t, lo.addr, Options{}), open(t, lo.addr, Options{})
			want := [][]byte{{}, []byte("a"), {}, {}, []byte("bc"), []byte("bc")}
			if err := snd.Write(want, rcv.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			got, _ := receive(t, rcv, len(want), 128)
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("datagram %d: %q, want %q", i, got[i], want[i])
				}
			}
		})
	}
}

// TestWriteFullSendBuffer: EAGAIN from sendmmsg drops the rest of the batch
// and is returned, instead of blocking. The kernel's answers are faked.
func TestWriteFullSendBuffer(t *testing.T) {
	snd := open(t, netip.MustParseAddr("127.0.0.1"), Options{DisableGSO: true})
	calls := 0
	snd.w.fn = func(uintptr) bool {
		calls++
		if calls == 1 {
			snd.w.sent, snd.w.errno = 2, 0
		} else {
			snd.w.sent, snd.w.errno = 0, unix.EAGAIN
		}
		return true
	}
	err := snd.Write(payloads(10, 100), netip.MustParseAddrPort("127.0.0.1:9"))
	if !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("Write = %v, want EAGAIN", err)
	}
	if s := snd.Stats().Snapshot(); s.DatagramsSentTotal != 2 || s.SendErrorsTotal != 8 || calls != 2 {
		t.Fatalf("stats %+v after %d calls", s, calls)
	}
}
