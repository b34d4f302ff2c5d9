// SPDX-License-Identifier: MIT

package configs

import "embed"

// Examples holds examples/mr.toml and examples/ha.toml: complete, commented
// configurations of both daemons.
//
//go:embed examples/*.toml
var Examples embed.FS
