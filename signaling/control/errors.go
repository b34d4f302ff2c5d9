// SPDX-License-Identifier: MIT

package control

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// errorBody is the JSON body of every error response.
type errorBody struct {
	// Error is the whole error on one line.
	Error string `json:"error"`
	// Errors lists each problem: every message of an errors.Join in the
	// error, or just the error.
	Errors []string `json:"errors,omitempty"`
}

// APIError is an error answered by the control server, as a [Client]
// returns it. It unwraps to ErrBadRequest, ErrForbidden or ErrNotFound for
// statuses 400, 403 and 404.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Message is the error on one line.
	Message string
	// Errors lists each problem (at least one).
	Errors []string
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return "control: " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
	}
	return e.Message
}

// Unwrap returns the sentinel matching the status, or nil.
func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return ErrBadRequest
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusNotFound:
		return ErrNotFound
	}
	return nil
}

// statusOf maps a Backend error to a status. refusal says whether an
// unclassified error (an errors.Join of problems included) refuses the
// caller's input (AddPolicy, Reload) → 400, rather than a failure of the
// daemon → 500.
func statusOf(err error, refusal bool) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case refusal:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// newErrorBody renders err: the whole error on one line, and the messages
// of the first errors.Join found in its chain (flattened), or else err's.
func newErrorBody(err error) errorBody {
	b := errorBody{Error: oneLine(err.Error())}
	if j := findJoin(err); j != nil {
		b.Errors = flatten(j.Unwrap(), nil)
	}
	if len(b.Errors) == 0 {
		b.Errors = []string{b.Error}
	}
	return b
}

// multiError is the shape of errors.Join's result (and of fmt.Errorf with
// several %w).
type multiError interface{ Unwrap() []error }

// maxWalk bounds the walk of an error chain, which could be cyclic.
const maxWalk = 64

// findJoin returns the first errors.Join in err's chain, depth first, or
// nil. An errors.Join is told from fmt.Errorf("%w ... %w") by its message,
// which is its errors' messages joined by newlines.
func findJoin(err error) multiError {
	steps := 0
	var walk func(error) multiError
	walk = func(e error) multiError {
		for e != nil && steps < maxWalk {
			steps++
			switch x := e.(type) {
			case multiError:
				if isJoin(e, x.Unwrap()) {
					return x
				}
				for _, c := range x.Unwrap() {
					if j := walk(c); j != nil {
						return j
					}
				}
				return nil
			case interface{ Unwrap() error }:
				e = x.Unwrap()
			default:
				return nil
			}
		}
		return nil
	}
	return walk(err)
}

// isJoin reports whether e's message is its children's joined by newlines.
func isJoin(e error, children []error) bool {
	var sb strings.Builder
	n := 0
	for _, c := range children {
		if c == nil {
			continue
		}
		if n > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(c.Error())
		n++
	}
	return n > 0 && sb.String() == e.Error()
}

// flatten appends the messages of errs to out, expanding nested joins.
func flatten(errs []error, out []string) []string {
	for _, e := range errs {
		if e == nil || len(out) >= 1000 {
			continue
		}
		if m, ok := e.(multiError); ok && isJoin(e, m.Unwrap()) {
			out = flatten(m.Unwrap(), out)
			continue
		}
		for line := range strings.SplitSeq(e.Error(), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				out = append(out, line)
			}
		}
	}
	return out
}

// oneLine joins the lines of a message with "; ".
func oneLine(s string) string {
	if !strings.Contains(s, "\n") {
		return s
	}
	var parts []string
	for line := range strings.SplitSeq(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, "; ")
}
