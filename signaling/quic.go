// SPDX-License-Identifier: MIT

package signaling

import (
	"time"

	"github.com/quic-go/quic-go"

	"monami/signaling/msg"
)

// Timers of the signaling connection.
const (
	keepAlivePeriod  = 5 * time.Second
	maxIdleTimeout   = 15 * time.Second
	handshakeTimeout = 5 * time.Second
	// setupTimeout bounds the binding update / acknowledgement exchange
	// after the handshake, and the dial as a whole.
	setupTimeout = 10 * time.Second
	// rejectLinger is how long the HA waits, after a rejecting
	// acknowledgement, for the MR to read it and close.
	rejectLinger = 2 * time.Second
	// requestedLifetime is the binding lifetime the MR asks for.
	requestedLifetime = 600 * time.Second
)

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
