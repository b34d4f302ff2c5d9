// SPDX-License-Identifier: MIT

// Command monami-ha is the monami home agent: it serves many mobile routers,
// forwards their traffic and sends return traffic back over their paths.
//
// Usage:
//
//	monami-ha -config ha.toml [-check] [-log-level info] [-log-format text] [-debug-addr 127.0.0.1:9401]
//	monami-ha genkey
//
// See configs/examples/ha.toml for the configuration, and the README.
package main

import (
	"os"

	"monami/cmd/internal/node"
)

func main() { node.HomeAgentProgram.Main(os.Args[1:]) }
