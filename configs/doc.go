// SPDX-License-Identifier: MIT

// Package configs is the TOML configuration of monami's daemons: the schema
// of the mobile router ([MobileRouter], mr.toml) and of the home agent
// ([HomeAgent], ha.toml), their defaults, and strict validation.
//
// Loading is strict. An unknown key (keys are case-sensitive), a key of the
// wrong type, a missing required key or a bad value is an error; every
// problem in a file is reported at once, as the errors.Join of [*Error]
// values, each naming the file, the line and the dotted key path, and
// saying what would be valid:
//
//	mr.toml:14: uplink[1].bid: must be between 1 and 65535, not 70000
//	mr.toml:21: uplink[1].bdi: unknown key; did you mean bid?
//
// A daemon never starts on a configuration it half understands. Defaults
// are applied in one place (setDefaults) and documented on each field,
// with the valid range; [MobileRouter.Validate] and [HomeAgent.Validate]
// check a configuration built in code the same way.
//
// Syntax: configs/examples/mr.toml and ha.toml document every key, in the
// CoreDNS "Syntax" manner, and [Examples] embeds them; a test loads them.
// Keys are Ed25519: private_key is the standard base64 of the 32-byte seed,
// public_key of the 32-byte public key ([GenerateKey], [FormatPrivateKey],
// [FormatPublicKey], as printed by `monami-mr genkey`).
//
// Only cmd/ (and the testbed) import this package; components take their
// own Options. It imports the standard library, BurntSushi/toml and paths.
// It has no state: every function is safe for concurrent use, and a loaded
// configuration is a plain value.
package configs
