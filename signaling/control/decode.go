// SPDX-License-Identifier: MIT

package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// addRequest is the body of POST /v1/policies.
type addRequest struct {
	// Policy is the policy text (TOML), passed to the Backend unparsed.
	Policy string `json:"policy"`
	// Lifetime is a Go duration string, "0" to "720h"; empty means 0 (no
	// expiry).
	Lifetime string `json:"lifetime,omitempty"`
}

// decodeAddRequest parses a POST /v1/policies body: exactly one JSON
// object with a non-empty "policy" and an optional "lifetime", no other
// fields and nothing after it. Errors wrap ErrBadRequest.
func decodeAddRequest(body []byte) (doc []byte, lifetime time.Duration, err error) {
	var req addRequest
	if err := decodeStrict(body, &req); err != nil {
		return nil, 0, err
	}
	if strings.TrimSpace(req.Policy) == "" {
		return nil, 0, fmt.Errorf("%w: policy is empty", ErrBadRequest)
	}
	lifetime, err = parseLifetime(req.Lifetime)
	if err != nil {
		return nil, 0, err
	}
	return []byte(req.Policy), lifetime, nil
}

// decodeStrict decodes body as exactly one JSON object into v, refusing
// unknown fields and trailing data. Errors wrap ErrBadRequest.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Errorf("%w: empty body", ErrBadRequest)
	}
	if body = bytes.TrimLeft(body, " \t\r\n"); body[0] != '{' {
		return fmt.Errorf("%w: body is not a json object", ErrBadRequest)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: decode body: %w", ErrBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the json object", ErrBadRequest)
	}
	return nil
}

// parseLifetime parses a policy lifetime: a Go duration from 0 (no expiry)
// to MaxLifetime; "" is 0. Errors wrap ErrBadRequest.
func parseLifetime(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if len(s) > 32 {
		return 0, fmt.Errorf("%w: lifetime too long a string", ErrBadRequest)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%w: lifetime: %w", ErrBadRequest, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("%w: lifetime %s is negative", ErrBadRequest, s)
	}
	if d > MaxLifetime {
		return 0, fmt.Errorf("%w: lifetime %s is over the maximum of %s", ErrBadRequest, s, MaxLifetime)
	}
	return d, nil
}

// formatLifetime is the inverse of parseLifetime for the client.
func formatLifetime(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// parseBool parses a boolean query parameter: "" (absent), "0", "false",
// "no" are false; "1", "true", "yes" are true.
func parseBool(name, s string) (bool, error) {
	switch strings.ToLower(s) {
	case "", "0", "false", "no":
		return false, nil
	case "1", "true", "yes":
		return true, nil
	}
	return false, fmt.Errorf("%w: %s=%q is not a boolean", ErrBadRequest, name, truncate(s, 32))
}

// parseFormat checks a rule format; "" means FormatJSON.
func parseFormat(s string) (string, error) {
	switch s {
	case "":
		return FormatJSON, nil
	case FormatJSON, FormatNft, FormatIptables:
		return s, nil
	}
	return "", fmt.Errorf("%w: unknown rule format %q (want json, nft or iptables)", ErrBadRequest, truncate(s, 32))
}

// maxIDLen is the longest policy ID accepted in a URL.
const maxIDLen = 128

// validID reports whether id can name a policy: 1–128 printable ASCII
// characters, no space and no '/'.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := range len(id) {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '/' {
			return false
		}
	}
	return true
}

// truncate shortens s to at most n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
