// SPDX-License-Identifier: MIT

package signaling

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"time"

	"monami/paths"
)

// ALPN is the TLS application protocol of the signaling connection.
const ALPN = "monami/1"

// exporterLabel is the TLS exporter label of the data-plane keys.
const exporterLabel = "EXPORTER-monami-data-v1"

// KeyLen is the length of one data-plane key.
const KeyLen = 32

// Session is one established signaling session as the data plane needs it:
// the receiver indices and the keys of both directions.
type Session struct {
	// Peer names the other side: the MR's configured name on the HA, the
	// HA's address on the MR.
	Peer string
	// Generation counts key generations within one signaling connection.
	Generation uint32
	// LocalIndex is the receiver index the peer writes in the frames it
	// sends to us; PeerIndex is the one we write in frames we send.
	LocalIndex, PeerIndex uint32
	// Suite is the data-plane AEAD (msg.SuiteAES256GCM, ...).
	Suite uint8
	// SendKey seals what we send; RecvKey opens what we receive.
	SendKey, RecvKey [KeyLen]byte
	// BIDs are the MR's registered paths.
	BIDs []paths.BID
	// Uplink names the socket the MR's connection was set up on
	// (ClientOptions.ListenAll); empty on the HA.
	Uplink string
}

// NewTLSCertificate returns a self-signed X.509 certificate over priv's
// public key, with priv as its private key. Its subject, serial and validity
// carry no meaning: peers check only the public key.
func NewTLSCertificate(priv ed25519.PrivateKey) (tls.Certificate, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return tls.Certificate{}, fmt.Errorf("ed25519 private key of %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "monami"},
		NotBefore:    time.Unix(0, 0).UTC(),
		NotAfter:     time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	pub := priv.Public()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, nil
}

var (
	errPeerCertificates = errors.New("peer must present exactly one certificate")
	errPeerKeyType      = errors.New("peer certificate key is not ed25519")
	errUnknownPeer      = errors.New("peer key is not allowed")
)

// peerKey returns the Ed25519 key of the single certificate the peer
// presented.
func peerKey(cs tls.ConnectionState) (ed25519.PublicKey, error) {
	if len(cs.PeerCertificates) != 1 {
		return nil, errPeerCertificates
	}
	pub, ok := cs.PeerCertificates[0].PublicKey.(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return nil, errPeerKeyType
	}
	return pub, nil
}

// baseTLSConfig is the part of the TLS configuration both sides share.
// InsecureSkipVerify turns off chain verification only; VerifyConnection
// (set by the caller) pins the key.
func baseTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates:       []tls.Certificate{cert},
		MinVersion:         tls.VersionTLS13,
		NextProtos:         []string{ALPN},
		InsecureSkipVerify: true,
		ServerName:         "monami",
	}
}

// deriveKeys exports the data-plane keys of a session from the TLS
// connection: MR→HA then HA→MR.
func deriveKeys(cs *tls.ConnectionState, gen, mrIndex, haIndex uint32) (mrToHA, haToMR [KeyLen]byte, err error) {
	var ctx [12]byte
	binary.BigEndian.PutUint32(ctx[0:], gen)
	binary.BigEndian.PutUint32(ctx[4:], mrIndex)
	binary.BigEndian.PutUint32(ctx[8:], haIndex)
	km, err := cs.ExportKeyingMaterial(exporterLabel, ctx[:], 2*KeyLen)
	if err != nil {
		return mrToHA, haToMR, fmt.Errorf("export keying material: %w", err)
	}
	copy(mrToHA[:], km[:KeyLen])
	copy(haToMR[:], km[KeyLen:])
	clear(km)
	return mrToHA, haToMR, nil
}

// randomIndex returns a random nonzero receiver index.
func randomIndex() uint32 {
	var b [4]byte
	for {
		rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
		if v := binary.BigEndian.Uint32(b[:]); v != 0 {
			return v
		}
	}
}
