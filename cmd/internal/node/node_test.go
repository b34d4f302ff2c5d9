// SPDX-License-Identifier: MIT

package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	wgtun "golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/netstack"

	"monami/configs"
	"monami/paths"
	"monami/paths/udpconn"
	"monami/tun/tuntest"
)

// pair is a mobile router and a home agent composed in-process: real
// signaling (QUIC over loopback), real data-plane sockets on loopback, and a
// gVisor netstack behind each TUN standing for the LAN host (MR side) and
// the server (HA side). No root needed.
type pair struct {
	mr       *MobileRouter
	ha       *HomeAgent
	host     *netstack.Net // the LAN host behind the MR
	server   *netstack.Net // the server behind the HA
	cancel   context.CancelFunc
	mrConfig string
}

var (
	hostAddrs   = []netip.Addr{netip.MustParseAddr("198.18.10.2"), netip.MustParseAddr("fd00:10::2")}
	serverAddrs = []netip.Addr{netip.MustParseAddr("198.18.20.2"), netip.MustParseAddr("fd00:20::2")}
)

// loopbackEnv opens everything on loopback and puts a netstack behind the
// TUN; interfaces are ignored because binding to one needs privileges.
func loopbackEnv(t *testing.T, addrs []netip.Addr, stack **netstack.Net) Env {
	return Env{
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		OpenTUN: func(c configs.TUN, _ []netip.Prefix) (wgtun.Device, error) {
			dev, n, err := tuntest.NetstackTUN(addrs, c.MTU)
			*stack = n
			return dev, err
		},
		OpenPath: func(_ string, laddr netip.AddrPort) (paths.Conn, error) {
			return udpconn.Open(udpconn.Options{Source: laddr})
		},
		ListenPacket: func(_ string, laddr netip.AddrPort) (net.PacketConn, error) {
			return udpconn.Listen("", laddr)
		},
	}
}

// mrSpec is one mobile router of a test rig.
type mrSpec struct {
	name     string
	prefixes string // TOML array body, as configured at the HA
	claims   string // what the MR itself announces (defaults to prefixes)
	host     []netip.Addr
}

var defaultMR = mrSpec{name: "mr1", prefixes: `"198.18.10.0/24", "fd00:10::/64"`, host: hostAddrs}

func startPair(t *testing.T, cipher string) *pair {
	t.Helper()
	ps := startRig(t, cipher, defaultMR)
	ps[0].waitUp(t)
	return ps[0]
}

// startRig starts one home agent serving every spec, and one mobile router
// per spec; it does not wait for sessions.
func startRig(t *testing.T, cipher string, specs ...mrSpec) []*pair {
	t.Helper()
	haPriv, haPub, err := configs.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	haToml := fmt.Sprintf(`
[home_agent]
private_key = %q
signaling = "127.0.0.1:0"
data = ["127.0.0.1:0"]

[tun]
mtu = 1420
`, configs.FormatPrivateKey(haPriv))
	privs := make([]string, len(specs))
	for i, sp := range specs {
		priv, pub, err := configs.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		privs[i] = configs.FormatPrivateKey(priv)
		haToml += fmt.Sprintf("\n[[mobile_router]]\nname = %q\npublic_key = %q\nprefixes = [%s]\n", sp.name, configs.FormatPublicKey(pub), sp.prefixes)
	}
	haCfg, err := configs.ParseHomeAgent("ha.toml", []byte(haToml))
	if err != nil {
		t.Fatal(err)
	}
	var server *netstack.Net
	ha, err := NewHomeAgent(haCfg, loopbackEnv(t, serverAddrs, &server))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := ha.Run(ctx); err != nil {
			t.Errorf("home agent: %v", err)
		}
	})
	var out []*pair
	for i, sp := range specs {
		claims := sp.claims
		if claims == "" {
			claims = sp.prefixes
		}
		p := &pair{ha: ha, server: server, cancel: cancel}
		p.mrConfig = fmt.Sprintf(`
[router]
private_key = %q
prefixes = [%s]
state_dir = %q
control_socket = ""

[home_agent]
public_key = %q
signaling = %q
data = [%q]

[tun]
mtu = 1420

[data]
cipher = %q

[[uplink]]
name = "up1"
interface = "lo"
bid = 1
source = "127.0.0.1"

[[uplink]]
name = "up2"
interface = "lo"
bid = 2
source = "127.0.0.1"
`, privs[i], claims, t.TempDir(), configs.FormatPublicKey(haPub), ha.SignalingAddr(), ha.DataAddrs()[0], cipher)
		mrCfg, err := configs.ParseMobileRouter("mr.toml", []byte(p.mrConfig))
		if err != nil {
			t.Fatal(err)
		}
		p.mr, err = NewMobileRouter(mrCfg, loopbackEnv(t, sp.host, &p.host))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := p.mr.Run(ctx); err != nil {
				t.Errorf("mobile router %s: %v", sp.name, err)
			}
		})
		out = append(out, p)
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return out
}

// waitUp waits until the session is up and both paths are confirmed.
func (p *pair) waitUp(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st := p.mr.Status()
		up := st.Signaling.Connected && len(st.Tunnel.Paths) == 2
		for _, ps := range st.Tunnel.Paths {
			up = up && ps.Up
		}
		if up {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("paths did not come up: %+v", p.mr.Status())
}

// transfer sends n pseudo-random bytes from the LAN host to the server over
// TCP and checks that the server got exactly those bytes.
func (p *pair) transfer(t *testing.T, dst netip.Addr, port uint16, n int64) {
	t.Helper()
	l, err := p.server.ListenTCPAddrPort(netip.AddrPortFrom(dst, port))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type result struct {
		n   int64
		sum [32]byte
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer c.Close()
		h := sha256.New()
		n, err := io.Copy(h, c)
		got <- result{n, [32]byte(h.Sum(nil)), err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := p.host.DialContextTCPAddrPort(ctx, netip.AddrPortFrom(dst, port))
	if err != nil {
		t.Fatalf("dial %s: %v", dst, err)
	}
	h := sha256.New()
	src := rand.NewChaCha8([32]byte{byte(port)})
	if _, err := io.CopyN(io.MultiWriter(c, h), src, n); err != nil {
		t.Fatalf("send: %v", err)
	}
	c.CloseWrite()
	r := <-got
	c.Close()
	if r.err != nil {
		t.Fatalf("receive: %v", r.err)
	}
	if r.n != n || r.sum != [32]byte(h.Sum(nil)) {
		t.Fatalf("server got %d bytes (sha256 %x), sent %d (sha256 %x)", r.n, r.sum[:8], n, h.Sum(nil)[:8])
	}
}

func TestEndToEndTCP(t *testing.T) {
	for _, cipher := range []string{"aes-256-gcm", "chacha20-poly1305"} {
		t.Run(cipher, func(t *testing.T) {
			p := startPair(t, cipher)
			// Many flows over IPv4 and IPv6 inner packets: both uplinks must
			// carry some, and every byte must arrive intact.
			var wg sync.WaitGroup
			for i := range 8 {
				dst := serverAddrs[i%2]
				wg.Go(func() { p.transfer(t, dst, uint16(8000+i), 1<<20) })
			}
			wg.Wait()
			st := p.mr.Status()
			for _, ps := range st.Tunnel.Paths {
				if ps.TxBytes < 64<<10 {
					t.Errorf("path %d carried only %d bytes up; flows are not spread over both uplinks", ps.BID, ps.TxBytes)
				}
			}
			// Duplicates are allowed as far as the other side sent hedged
			// copies (a path that looked silent for a moment on a loaded
			// machine).
			ha := p.ha.Status()
			var mrHedged, haHedged uint64
			for _, ps := range st.Tunnel.Paths {
				mrHedged += ps.Hedged
			}
			for _, pe := range ha.Peers {
				for _, ps := range pe.Paths {
					haHedged += ps.Hedged
				}
			}
			for reason, n := range st.Tunnel.Drops {
				if n > 0 && (reason != "duplicate" || n > haHedged) {
					t.Errorf("mobile router dropped %d packets (%s)", n, reason)
				}
			}
			for reason, n := range ha.Drops {
				if n > 0 && (reason != "duplicate" || n > mrHedged) {
					t.Errorf("home agent dropped %d packets (%s)", n, reason)
				}
			}
		})
	}
}

func TestEndToEndUDPAndPing(t *testing.T) {
	p := startPair(t, "aes-256-gcm")
	for _, i := range []int{0, 1} {
		dst := netip.AddrPortFrom(serverAddrs[i], 9000)
		srv, err := p.server.ListenUDPAddrPort(dst)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		cl, err := p.host.DialUDPAddrPort(netip.AddrPortFrom(hostAddrs[i], 0), dst)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		// Echo every datagram back: uplink and downlink over the same path.
		go func() {
			buf := make([]byte, 2048)
			for {
				n, from, err := srv.ReadFrom(buf)
				if err != nil {
					return
				}
				srv.WriteTo(buf[:n], from)
			}
		}()
		buf := make([]byte, 2048)
		for k := range 200 {
			msg := bytes.Repeat([]byte{byte(k)}, 1+k*5)
			if _, err := cl.Write(msg); err != nil {
				t.Fatal(err)
			}
			cl.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, err := cl.Read(buf)
			if err != nil {
				t.Fatalf("datagram %d (%d bytes) over %s: no echo: %v", k, len(msg), dst, err)
			}
			if !bytes.Equal(buf[:n], msg) {
				t.Fatalf("datagram %d: echo differs", k)
			}
		}
		// ICMP echo through the tunnel.
		pc, err := p.host.DialPingAddr(hostAddrs[i], serverAddrs[i])
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		if err := ping(pc, i == 1); err != nil {
			t.Errorf("ping %s: %v", serverAddrs[i], err)
		}
	}
}

// ping sends one ICMP echo request on pc and waits for the reply.
func ping(pc *netstack.PingConn, v6 bool) error {
	req := []byte{8, 0, 0, 0, 0, 1, 0, 1, 'm', 'o', 'n', 'a', 'm', 'i'}
	if v6 {
		req[0] = 128
	}
	if _, err := pc.Write(req); err != nil {
		return err
	}
	pc.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 1500)
	n, err := pc.Read(buf)
	if err != nil {
		return err
	}
	if n < 8 || !bytes.Equal(buf[8:n], req[8:]) {
		return fmt.Errorf("bad echo reply % x", buf[:n])
	}
	return nil
}

// TestOneHomeAgentManyRouters: one home agent serves two mobile routers at
// once, each over its own prefixes, and refuses a third that claims the
// first one's prefix.
func TestOneHomeAgentManyRouters(t *testing.T) {
	host2 := []netip.Addr{netip.MustParseAddr("198.18.11.2"), netip.MustParseAddr("fd00:11::2")}
	ps := startRig(t, "aes-256-gcm",
		defaultMR,
		mrSpec{name: "mr2", prefixes: `"198.18.11.0/24", "fd00:11::/64"`, host: host2},
		mrSpec{name: "thief", prefixes: `"198.18.12.0/24"`, claims: `"198.18.10.0/24"`, host: []netip.Addr{netip.MustParseAddr("198.18.10.2")}},
	)
	ps[0].waitUp(t)
	ps[1].waitUp(t)
	var wg sync.WaitGroup
	for i, p := range ps[:2] {
		wg.Go(func() { p.transfer(t, serverAddrs[i], uint16(9100+i), 2<<20) })
	}
	wg.Wait()
	st := ps[0].ha.Status()
	sessions := map[string]bool{}
	for _, pe := range st.Peers {
		sessions[pe.Name] = pe.Session
	}
	if !sessions["mr1"] || !sessions["mr2"] || sessions["thief"] {
		t.Fatalf("sessions at the home agent: %v; want mr1 and mr2 only", sessions)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ps[2].mr.Status().Signaling.Failures == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the prefix thief never got its refusal")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s := ps[2].mr.Status().Signaling; s.Connected || s.Sessions != 0 {
		t.Fatalf("a router claiming another router's prefix got a session: %+v", s)
	}
}

// TestMetrics scrapes the router's and the home agent's collectors.
func TestMetrics(t *testing.T) {
	p := startPair(t, "aes-256-gcm")
	for name, c := range map[string]prometheus.Collector{"mr": p.mr.Collector(), "ha": p.ha.Collector()} {
		reg := prometheus.NewRegistry()
		reg.MustRegister(c)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := map[string]bool{}
		for _, mf := range mfs {
			got[mf.GetName()] = true
		}
		want := []string{"monami_path_tx_bytes_total", "monami_path_up", "monami_tunnel_drops_total", "monami_signaling_session"}
		if name == "mr" {
			want = append(want, "monami_path_srtt_seconds", "monami_path_loss_ratio")
		}
		for _, w := range want {
			if !got[w] {
				t.Errorf("%s: metric %s missing (have %v)", name, w, got)
			}
		}
	}
}
