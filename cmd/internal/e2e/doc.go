// SPDX-License-Identifier: MIT

// Package e2e holds monami's end-to-end tests in network namespaces: the
// real monami-mr and monami-ha binaries with kernel TUN devices, sockets
// bound to veth uplinks and real QUIC, in the topology of package testbed.
// The tests are behind the build tag netns and need root:
//
//	go test -tags netns -count=1 ./cmd/internal/e2e
//
// They skip cleanly without root. They create namespaces named mnt<pid>-*
// and delete them when they end.
package e2e
