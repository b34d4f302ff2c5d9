// SPDX-License-Identifier: MIT

package configs

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem in a configuration: a TOML syntax error, an unknown
// key, a missing required key or a bad value. Load, Parse and Validate
// return the errors.Join of every problem found, each an *Error, so
// errors.As finds the first and the joined error's Unwrap() []error lists
// them all, in line order.
type Error struct {
	// File is the file's name as given to Load or Parse (MobileRouter.File
	// or HomeAgent.File for Validate); it may be empty.
	File string
	// Line is the 1-based line of the key or, for a missing key, of its
	// enclosing table header; 0 if there is none (or after Validate of a
	// configuration that was not parsed).
	Line int
	// Key is the dotted key path, with 0-based indexes for arrays and
	// arrays of tables: "uplink[1].bid", "router.prefixes[0]". It is empty
	// for TOML syntax errors.
	Key string
	// Msg says what is wrong and what would be valid.
	Msg string
}

// Error formats e as "FILE:LINE: KEY: MSG", leaving out the parts that are
// unknown ("FILE: KEY: MSG" for a missing key of a missing table).
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// problems collects the errors of one file in two phases: reading the TOML
// (types, syntax of values, unknown keys) and then validating the result.
// A validation problem about a key that already has a reading problem (or
// about its parent or child) is dropped: it would only restate it.
type problems struct {
	file  string
	lines lineIndex // nil when validating a configuration built in code
	errs  []*Error

	validating bool
	readKeys   []string // keys with a problem from the reading phase
}

// add records a problem with key, a dotted path as in lineIndex.
func (p *problems) add(key, format string, args ...any) {
	if p.validating {
		for _, k := range p.readKeys {
			if related(k, key) {
				return
			}
		}
	} else {
		p.readKeys = append(p.readKeys, key)
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: p.lines.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// related reports whether a and b are the same key, or one is inside the
// other ("uplink[1]" and "uplink[1].bid", "router.prefixes" and
// "router.prefixes[0]").
func related(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return strings.HasPrefix(b, a) && (len(a) == len(b) || b[len(a)] == '.' || b[len(a)] == '[')
}

// err returns the problems in line order, joined, or nil.
func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(p.errs, func(a, b *Error) int { return a.Line - b.Line })
	es := make([]error, len(p.errs))
	for i, e := range p.errs {
		es[i] = e
	}
	return errors.Join(es...)
}

// Suggest returns the key of known that k was probably meant to be: the
// same but for case, or within edit distance 2 (and closer than k's own
// length); "" if none is. The loaders of other TOML files (the policy
// files) name unknown keys with it too.
func Suggest(k string, known []string) string {
	best, bd := "", 3
	for _, c := range known {
		if strings.EqualFold(k, c) {
			return c
		}
		if d := editDistance(k, c); d < bd && d < len(k) {
			best, bd = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes; for
// strings longer than 256 bytes (no key is) the longer length, so that a
// hostile file costs no quadratic time.
func editDistance(a, b string) int {
	if len(a) > 256 || len(b) > 256 {
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
