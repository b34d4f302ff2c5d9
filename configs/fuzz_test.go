// SPDX-License-Identifier: MIT

package configs

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

// checkParse asserts the contract of a Parse function: either a
// configuration that passes Validate, or only *Error values naming the
// file, reported the same way twice.
func checkParse[C interface{ Validate() error }](t *testing.T, parse func(string, []byte) (C, error), b []byte) {
	c, err := parse("f.toml", b)
	if err == nil {
		if verr := c.Validate(); verr != nil {
			t.Fatalf("accepted a configuration that Validate rejects: %v", verr)
		}
		return
	}
	if !isNil(c) {
		t.Fatal("a configuration returned with an error")
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		ce, ok := e.(*Error)
		if !ok {
			t.Fatalf("%T in the error: %v", e, e)
		}
		if ce.File != "f.toml" || ce.Msg == "" || ce.Line < 0 || !strings.HasPrefix(ce.Error(), "f.toml") {
			t.Fatalf("malformed error %#v", ce)
		}
	}
	if _, again := parse("f.toml", b); again == nil || again.Error() != err.Error() {
		t.Fatalf("two reports of one input:\n%v\n%v", err, again)
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatal("errors.As found no *Error")
	}
}

func isNil[C any](c C) bool {
	var zero C
	return any(c) == any(zero)
}

func FuzzParseMobileRouter(f *testing.F) {
	f.Add([]byte(minMR))
	f.Add(example(f, "mr.toml"))
	f.Add([]byte(strings.Replace(minMR, "bid = 2", "bid = 0\nbdi = 1\nsource = \"fd00::1\"\nport = -1", 1)))
	f.Add([]byte(strings.Replace(minMR, "bid = 2", "bid = 1\nmatch = \"wwan[\"\ntype = \"wwan\"\nmax_links = 65\ncost = nan\n"+
		"cap_daily = \"1.5TiB\"\ncap_monthly = -1\ncap_reset_day = 29\ntags = [\"a\", \"a\", \"B\"]", 1) +
		"\n[policy]\nfiles = [\"\", \"/\"]\ndefault_prefer = [\"loss\", \"price\"]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkParse(t, ParseMobileRouter, b)
	})
}

// FuzzParseSize: parseSize never panics, and what it accepts is the number
// times the unit, rounded down.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"500MB", "1.5TB", "2GiB", "0.5B", "18446744073709551615B", "18446.744073709551616PB", ".5 kB", "1..2GB", "-1GB", "5gb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseSize(s)
		if err != nil {
			if v != 0 {
				t.Fatalf("parseSize(%q) = %d with error %v", s, v, err)
			}
			return
		}
		t2 := strings.TrimSpace(s)
		i := strings.LastIndexAny(t2, "0123456789.") + 1
		num, unit := t2[:i], strings.TrimSpace(t2[i:])
		x, perr := strconv.ParseFloat(num, 64)
		if perr != nil {
			t.Fatalf("parseSize(%q) accepted %q, not a number", s, num)
		}
		var mult float64
		for _, u := range sizeUnits {
			if u.name == unit {
				mult = float64(u.mult)
			}
		}
		if mult == 0 {
			t.Fatalf("parseSize(%q) accepted unit %q", s, unit)
		}
		if want := x * mult; math.Abs(float64(v)-want) > 1+want*1e-12 {
			t.Fatalf("parseSize(%q) = %d, want about %g", s, v, want)
		}
		if unit == "B" && !strings.Contains(num, ".") {
			if u, err := strconv.ParseUint(num, 10, 64); err != nil || u != v {
				t.Fatalf("parseSize(%q) = %d, want %d", s, v, u)
			}
		}
	})
}

func FuzzParseHomeAgent(f *testing.F) {
	f.Add([]byte(minHA))
	f.Add(example(f, "ha.toml"))
	f.Add([]byte(strings.Replace(minHA, "198.18.11.0/24", "198.18.10.1/25", 1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkParse(t, ParseHomeAgent, b)
	})
}
