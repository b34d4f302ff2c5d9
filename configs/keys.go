// SPDX-License-Identifier: MIT

package configs

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// GenerateKey returns a new Ed25519 key pair for private_key and
// public_key, from crypto/rand.
func GenerateKey() (priv ed25519.PrivateKey, pub ed25519.PublicKey, err error) {
	pub, priv, err = ed25519.GenerateKey(rand.Reader)
	return priv, pub, err
}

// FormatPrivateKey returns the configuration form of k (private_key): the
// standard base64 of its 32-byte seed. It returns "" if k is not an Ed25519
// private key.
func FormatPrivateKey(k ed25519.PrivateKey) string {
	if len(k) != ed25519.PrivateKeySize {
		return ""
	}
	return base64.StdEncoding.EncodeToString(k.Seed())
}

// FormatPublicKey returns the configuration form of k (public_key): the
// standard base64 of its 32 bytes.
func FormatPublicKey(k ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(k) }

// ParsePrivateKey parses the configuration form of a private key, the
// standard base64 of a 32-byte Ed25519 seed; surrounding space is ignored.
// Its errors never quote s.
func ParsePrivateKey(s string) (ed25519.PrivateKey, error) {
	b, err := decodeKey(s, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("not a private key: %w", err)
	}
	return ed25519.NewKeyFromSeed(b), nil
}

// ParsePublicKey parses the configuration form of a public key, the
// standard base64 of a 32-byte Ed25519 public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := decodeKey(s, ed25519.PublicKeySize)
	if err != nil {
		return nil, fmt.Errorf("not a public key: %w", err)
	}
	return ed25519.PublicKey(b), nil
}

func decodeKey(s string, size int) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("want the standard base64 of %d bytes", size)
	}
	if len(b) != size {
		return nil, fmt.Errorf("want the standard base64 of %d bytes, not %d", size, len(b))
	}
	return b, nil
}

// maxKeyFile bounds what is read of a private_key_file.
const maxKeyFile = 4096

// readKeyFile reads a private_key_file: a regular file, not writable by
// everyone, holding the base64 private key, or the TOML lines `genkey`
// prints (whose private_key is used).
func readKeyFile(path string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return nil, fmt.Errorf("%s is writable by everyone; chmod 600 it", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("%s: too long for a key file", path)
	}
	text := string(b)
	if strings.Contains(text, "private_key") {
		var kv struct {
			PrivateKey string `toml:"private_key"`
		}
		if _, err := toml.Decode(text, &kv); err == nil && kv.PrivateKey != "" {
			text = kv.PrivateKey
		}
	}
	k, err := ParsePrivateKey(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}
