// SPDX-License-Identifier: MIT

// Command monami-mr is the monami mobile router: it captures traffic on a
// TUN device and carries it to the home agent over every configured uplink.
//
// Usage:
//
//	monami-mr -config mr.toml [-check] [-log-level info] [-log-format text] [-debug-addr 127.0.0.1:9400]
//	monami-mr genkey
//
// See configs/examples/mr.toml for the configuration, and the README.
package main

import (
	"os"

	"monami/cmd/internal/node"
)

func main() { node.MobileRouterProgram.Main(os.Args[1:]) }
