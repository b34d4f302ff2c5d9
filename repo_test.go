// SPDX-License-Identifier: MIT

// Package monami_test holds the repository's own rules as tests: formatting,
// one package doc per package, and the import graph of docs/internals.md.
package monami_test
