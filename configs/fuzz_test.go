// SPDX-License-Identifier: MIT

package configs

import (
	"errors"
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
	f.Fuzz(func(t *testing.T, b []byte) {
		checkParse(t, ParseMobileRouter, b)
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
