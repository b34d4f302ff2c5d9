// SPDX-License-Identifier: MIT

package anchor

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"monami/bench/topo"
	"monami/configs"
)

// TestMonamiConfigs: the generated files pass the daemons' own parser.
func TestMonamiConfigs(t *testing.T) {
	mrPriv, mrPub, err := configs.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	haPriv, haPub, err := configs.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("%d uplinks", n), func(t *testing.T) {
			var s topo.Spec
			for i := range n {
				s.Uplinks = append(s.Uplinks, topo.UplinkSpec{Name: "wan" + string(rune('1'+i))})
			}
			mr, ha := MonamiConfigs(s, configs.FormatPrivateKey(mrPriv), configs.FormatPublicKey(mrPub),
				configs.FormatPrivateKey(haPriv), configs.FormatPublicKey(haPub), "")
			m, err := configs.ParseMobileRouter("mr.toml", []byte(mr))
			if err != nil {
				t.Fatalf("router config rejected: %v\n%s", err, mr)
			}
			if len(m.Uplinks) != n {
				t.Errorf("%d uplinks, want %d", len(m.Uplinks), n)
			}
			if _, err := configs.ParseHomeAgent("ha.toml", []byte(ha)); err != nil {
				t.Fatalf("home agent config rejected: %v\n%s", err, ha)
			}
		})
	}
}

func TestGenkeyParse(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "fake")
	script := "#!/bin/sh\necho 'private_key = \"AAA=\"'\necho 'public_key = \"BBB=\"'\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	priv, pub, err := genkey(fake)
	if err != nil || priv != "AAA=" || pub != "BBB=" {
		t.Errorf("genkey = %q %q %v", priv, pub, err)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("#!/bin/sh\necho nothing\n"), 0o755)
	if _, _, err := genkey(bad); err == nil {
		t.Error("genkey accepted output without keys")
	}
}

func TestBinsBuilt(t *testing.T) {
	dir := t.TempDir()
	b := Bins{MonamiMR: filepath.Join(dir, "monami-mr"), MonamiHA: filepath.Join(dir, "monami-ha")}
	if b.Built() {
		t.Error("missing binaries reported as built")
	}
	os.WriteFile(b.MonamiMR, nil, 0o755)
	os.WriteFile(b.MonamiHA, nil, 0o755)
	if !b.Built() || (Bins{}).Built() {
		t.Error("Built wrong")
	}
}
