// SPDX-License-Identifier: MIT

package control

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDecodeAddRequest: the POST /v1/policies body decoder never panics,
// every error is a bad request, and what it accepts is within bounds and
// survives a round trip through the client's encoding.
func FuzzDecodeAddRequest(f *testing.F) {
	for _, s := range []string{
		`{"policy": "[[rule]]\nname = \"video\"", "lifetime": "10m"}`,
		`{"policy": "x"}`,
		`{"policy": "x", "lifetime": "720h"}`,
		`{"policy": "x", "lifetime": "-1s"}`,
		`{"policy": "x", "extra": 1}`,
		`{"policy": "x"} trailing`,
		`null`, `[]`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, lifetime, err := decodeAddRequest(body)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		if len(strings.TrimSpace(string(doc))) == 0 || !utf8.Valid(doc) {
			t.Fatalf("accepted policy %q", doc)
		}
		if lifetime < 0 || lifetime > MaxLifetime {
			t.Fatalf("accepted lifetime %v", lifetime)
		}
		again, err := json.Marshal(addRequest{Policy: string(doc), Lifetime: formatLifetime(lifetime)})
		if err != nil {
			t.Fatal(err)
		}
		doc2, lifetime2, err := decodeAddRequest(again)
		if err != nil || string(doc2) != string(doc) || lifetime2 != lifetime {
			t.Fatalf("round trip: %q %v %v, want %q %v", doc2, lifetime2, err, doc, lifetime)
		}
	})
}

// FuzzParseLifetime: accepted lifetimes are within bounds and print back
// to themselves.
func FuzzParseLifetime(f *testing.F) {
	for _, s := range []string{"", "0", "10m", "1h30m", "720h", "720h0m1s", "-1s", "1e3h", "9223372036854775807ns", "1.5h", "µs"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseLifetime(s)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		if d < 0 || d > MaxLifetime {
			t.Fatalf("%q accepted as %v", s, d)
		}
		if d2, err := parseLifetime(formatLifetime(d)); err != nil || d2 != d {
			t.Fatalf("%q: %v prints as %q, parses back as %v, %v", s, d, formatLifetime(d), d2, err)
		}
	})
}

// FuzzRequestParams covers the other request parsers: the policy ID of
// DELETE /v1/policies/{id}, ?all= and ?format=.
func FuzzRequestParams(f *testing.F) {
	for _, s := range []string{"p1", "uid:1000/3", "", "a b", "json", "nft", "iptables", "1", "true", "NO", strings.Repeat("x", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validID(s) {
			if s == "" || len(s) > maxIDLen || strings.ContainsAny(s, "/ \t\n") {
				t.Fatalf("id %q accepted", s)
			}
		}
		if _, err := parseBool("all", s); err != nil && !errors.Is(err, ErrBadRequest) {
			t.Fatalf("parseBool error %v", err)
		}
		format, err := parseFormat(s)
		if err == nil && format != FormatJSON && format != FormatNft && format != FormatIptables {
			t.Fatalf("format %q accepted as %q", s, format)
		}
	})
}

// FuzzDecodeEvent: the client's reader of the event stream never panics,
// and an event it accepts re-encodes to one line that decodes the same.
func FuzzDecodeEvent(f *testing.F) {
	ev := Event{Seq: 7, Time: time.Unix(1700000000, 5).UTC(), Kind: KindPathChanged,
		Path: &PathView{BID: 10, Name: "wan1", State: "up", RTTMillis: 12.5, Tags: []string{"cheap"}}, Detail: "rtt"}
	b, _ := json.Marshal(ev)
	f.Add(b)
	f.Add([]byte(`{"seq":1,"time":"2026-01-01T00:00:00Z","kind":"lagged","detail":"dropped 3 events"}`))
	f.Add([]byte(`{"seq":2,"kind":"future-kind","new":true}`))
	f.Add([]byte(`{"kind":""}`))
	f.Add([]byte(`{"seq":-1}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, err := decodeEvent(line)
		if err != nil {
			return
		}
		if ev.Kind == "" {
			t.Fatal("event without a kind accepted")
		}
		out, err := json.Marshal(ev)
		if err != nil {
			return // e.g. a time outside the years JSON can hold
		}
		if strings.Contains(string(out), "\n") {
			t.Fatalf("encoded event spans lines: %s", out)
		}
		ev2, err := decodeEvent(out)
		if err != nil {
			t.Fatalf("re-decode %s: %v", out, err)
		}
		if ev2.Seq != ev.Seq || ev2.Kind != ev.Kind || ev2.Detail != ev.Detail || !ev2.Time.Equal(ev.Time) {
			t.Fatalf("round trip %+v → %+v", ev, ev2)
		}
	})
}

// FuzzDecodeAPIError: the client's reader of error bodies never panics and
// always produces a one-line message and at least one error.
func FuzzDecodeAPIError(f *testing.F) {
	b, _ := json.Marshal(newErrorBody(errors.Join(errors.New("a"), errors.New("b"))))
	f.Add(400, b)
	f.Add(404, []byte(`{"error":"not found"}`))
	f.Add(500, []byte("plain text\nsecond line"))
	f.Add(413, []byte(``))
	f.Add(0, []byte(`{"error":"x","errors":["","\n"]}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := decodeAPIError(status, body)
		if e.Status != status || e.Message == "" || len(e.Errors) == 0 {
			t.Fatalf("%+v", e)
		}
		if strings.Contains(e.Message, "\n") {
			t.Fatalf("message %q spans lines", e.Message)
		}
		for _, m := range e.Errors {
			if m == "" || strings.Contains(m, "\n") {
				t.Fatalf("error line %q", m)
			}
		}
		if status == http.StatusNotFound && !errors.Is(e, ErrNotFound) {
			t.Fatal("404 does not unwrap to ErrNotFound")
		}
	})
}
