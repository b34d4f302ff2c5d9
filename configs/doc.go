// SPDX-License-Identifier: MIT

// Package configs is the TOML configuration of monami's daemons: the schema
// of the mobile router ([MobileRouter], mr.toml) and of the home agent
// ([HomeAgent], ha.toml), their defaults, and strict validation.
//
// Loading is strict: an unknown key, a missing required key or a bad value
// is an error, every problem in a file is reported at once (errors.Join of
// [*Error]), and each names the file, the line and the key path (for
// example "mr.toml:14: uplink[1].bid: must be between 1 and 65535"). A
// daemon never starts on a configuration it half understands.
//
// Only cmd/ (and the testbed) import this package; components take their own
// Options. Keys are Ed25519: base64 of the 32-byte seed (private) or of the
// 32-byte public key, as printed by `monami-mr genkey`. The examples in
// configs/examples document every key; [Examples] embeds them. Everything
// here is safe for concurrent use; loaded configurations are plain values.
package configs
