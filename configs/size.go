// SPDX-License-Identifier: MIT

package configs

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// sizeUnits are the units of a data size (cap_daily, cap_monthly).
var sizeUnits = []struct {
	name string
	mult uint64
}{
	{"B", 1},
	{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"PB", 1e15},
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"PiB", 1 << 50},
}

// maxFracDigits bounds the fraction digits that count: more change a size
// in PiB by less than a byte.
const maxFracDigits = 18

// parseSize parses a data size: a decimal number (with an optional
// fraction) and a unit, with optional space between them ("500MB",
// "1.5 TB", "2GiB"), in bytes, rounded down.
func parseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	whole, frac, _ := strings.Cut(num, ".")
	if whole+frac == "" || strings.Contains(frac, ".") {
		return 0, fmt.Errorf(`%q is not a size: want a number and a unit, like "500MB", "10GB", "2GiB" or "1.5TB", or an integer of bytes`, s)
	}
	var mult uint64
	for _, u := range sizeUnits {
		if u.name == unit {
			mult = u.mult
		}
	}
	if mult == 0 {
		if unit == "" {
			return 0, fmt.Errorf(`%q has no unit: want one like "500MB", or give an integer of bytes`, s)
		}
		return 0, fmt.Errorf("%q: unknown unit %q; want B, kB, MB, GB, TB, PB (powers of 1000) or KiB, MiB, GiB, TiB, PiB (powers of 1024)", s, unit)
	}
	tooLarge := fmt.Errorf("%q is too large: at most 18446744073709551615 bytes (16 EiB)", s)
	var w uint64
	if whole = strings.TrimLeft(whole, "0"); whole != "" {
		v, err := strconv.ParseUint(whole, 10, 64)
		hi, lo := bits.Mul64(v, mult)
		if err != nil || hi != 0 {
			return 0, tooLarge
		}
		w = lo
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > maxFracDigits {
		frac = frac[:maxFracDigits]
	}
	var f uint64
	if frac != "" {
		v, _ := strconv.ParseUint(frac, 10, 64) // at most 18 digits
		pow := uint64(1)
		for range len(frac) {
			pow *= 10
		}
		hi, lo := bits.Mul64(v, mult)
		f, _ = bits.Div64(hi, lo, pow) // hi < pow, as v < pow
	}
	sum, carry := bits.Add64(w, f, 0)
	if carry != 0 {
		return 0, tooLarge
	}
	return sum, nil
}
