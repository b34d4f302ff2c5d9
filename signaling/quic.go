// SPDX-License-Identifier: MIT

package signaling

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"time"

	"github.com/quic-go/quic-go"

	"monami/signaling/msg"
)

// Timers of the signaling connection.
const (
	keepAlivePeriod = 5 * time.Second
	// heartbeatInterval: while a session is up, the MR sends a padded
	// heartbeat message on the signaling stream this often (~80 bytes on
	// the wire, about 0.6 kbit/s). quic-go answers only packets larger than
	// 42 bytes with a stateless reset, which its PINGs are not; a restarted
	// HA resets the heartbeat's packet, so the MR notices the restart
	// within a second of the HA listening again. While the data plane
	// hears from the HA (ClientOptions.HeardFrom) the heartbeat is
	// skipped: a restarted HA would have lost the session's keys and
	// answer no probe.
	heartbeatInterval = time.Second
	maxIdleTimeout    = 15 * time.Second
	handshakeTimeout  = 5 * time.Second
	// setupTimeout bounds the binding update / acknowledgement exchange
	// after the handshake, and the dial as a whole.
	setupTimeout = 10 * time.Second
	// rejectLinger is how long the HA waits, after a rejecting
	// acknowledgement, for the MR to read it and close.
	rejectLinger = 2 * time.Second
	// requestedLifetime is the binding lifetime the MR asks for.
	requestedLifetime = 600 * time.Second
)

// typeHeartbeat is the message type of the MR's heartbeat: a monami
// addition, outside the RFC numbers and the reserved msg types; the HA
// reads and ignores it.
const typeHeartbeat msg.Type = 127

// heartbeat is the heartbeat message: 32 bytes of zero padding.
var heartbeat = msg.Raw{Type: typeHeartbeat, Body: make([]byte, 32)}

// Application error codes in CONNECTION_CLOSE.
const (
	codeClose    quic.ApplicationErrorCode = 0 // orderly shutdown
	codeProtocol quic.ApplicationErrorCode = 1 // unexpected or malformed message
	codeRejected quic.ApplicationErrorCode = 2 // binding update rejected
	codeReplaced quic.ApplicationErrorCode = 3 // a newer session of the same MR replaced this one
	codeInternal quic.ApplicationErrorCode = 4 // local failure (key export)
)

// quicConfig is the QUIC configuration of both sides. Only the MR sends
// keepalives; the HA accepts one bidirectional stream per connection plus
// slack, and no unidirectional ones.
func quicConfig(client bool) *quic.Config {
	c := &quic.Config{
		HandshakeIdleTimeout:  handshakeTimeout,
		MaxIdleTimeout:        maxIdleTimeout,
		MaxIncomingStreams:    4,
		MaxIncomingUniStreams: -1,
		EnableDatagrams:       false,
	}
	if client {
		c.KeepAlivePeriod = keepAlivePeriod
		c.MaxIncomingStreams = -1
	}
	return c
}

// supportedSuite reports whether the data plane knows suite.
func supportedSuite(suite uint8) bool {
	return suite == msg.SuiteAES256GCM || suite == msg.SuiteChaCha20Poly1305
}

// resetKey derives the QUIC stateless reset key from the node's identity,
// so it survives restarts: a restarted HA can then reset the connections
// its previous life had, and the MRs reconnect at once instead of waiting
// for the idle timeout.
func resetKey(priv ed25519.PrivateKey) (*quic.StatelessResetKey, error) {
	k, err := hkdf.Key(sha256.New, priv.Seed(), nil, "monami quic stateless reset v1", 32)
	if err != nil {
		return nil, err
	}
	var key quic.StatelessResetKey
	copy(key[:], k)
	return &key, nil
}
