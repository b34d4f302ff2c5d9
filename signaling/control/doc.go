// SPDX-License-Identifier: MIT

// Package control is monami's local control API: HTTP+JSON over a unix
// socket (default /run/monami/mr.sock), through which local programs
// ("requesters") add, list and withdraw their own traffic policies, each
// with a lifetime; an operator reads the compiled filter rules and asks for a
// reload; and applications list the paths and the peer's (home agent's)
// addresses and follow path changes as a stream of events. It is the local
// half of the policy exchanger (module E of the seed paper, requirement R2:
// several concurrent requesters) and the application-facing view of the
// paths and the peer's locators (seed 003's getsockname / getpeername, and
// its "be told when the set changes"). cmd/monamictl is its command-line
// client.
//
// It owns the socket, the wire format, the caller's identity and the event
// fan-out ([Hub]); it does not own policies, rules or paths. Those live in
// the daemon, which implements [Backend]: this package hands it the policy
// text (TOML) unparsed and shows what it returns.
//
// # Identity and access
//
// A requester is the uid of the process at the other end of the socket, read
// with SO_PEERCRED when the connection is accepted, never anything the
// request says. [Listen] makes the socket owner-only (0600), so by default
// only the daemon's own uid (root) can connect; an operator who wants other
// local users to submit policies changes the mode or owner of the socket
// (or of its directory) deliberately. Every policy belongs to the requester
// that added it: a requester lists and removes its own, and only uid 0 may
// list everyone's (?all=1) or remove another's (the Backend enforces the
// latter and answers [ErrForbidden]).
//
// # Endpoints (version 1)
//
//	POST   /v1/policies        {"policy": "<TOML>", "lifetime": "10m"} → 201 PolicyInfo
//	GET    /v1/policies[?all=1] → 200 {"policies": [PolicyInfo...]}
//	DELETE /v1/policies/{id}   → 204; 404 unknown; 403 someone else's
//	GET    /v1/rules?format=json|nft|iptables → 200 the backend's body
//	GET    /v1/paths           → 200 {"seq": N, "paths": [PathView...]}
//	GET    /v1/peer            → 200 {"seq": N, "addrs": [PeerAddr...]}
//	GET    /v1/events          → 200 NDJSON, one Event per line, until the client goes
//	POST   /v1/reload          → 204; 400 with every error
//
// Errors are {"error": "<one line>", "errors": ["<each problem>", ...]} with
// status 400 (bad input, a refused policy or reload: every message of an
// errors.Join from the Backend is listed), 403, 404, 405, 413 (body over
// MaxBody, default 1 MiB), 500, or 503 while the server stops. Request
// bodies must be one JSON object with no unknown fields. A lifetime is a Go
// duration string from 0 (no expiry, also the default) to 720h (30 days).
//
// # Following paths without a gap
//
// Events carry a sequence number (Seq) assigned by [Hub.Publish], strictly
// increasing by one. GET /v1/paths and GET /v1/peer return, next to the
// list, the Seq of the last event published before the list was taken. A
// client that wants the current set and every later change:
//
//  1. opens GET /v1/events (the subscription exists once the response
//     headers have arrived, which is when [Client.Events] returns);
//  2. lists with GET /v1/paths, getting seq S;
//  3. applies the streamed events with Seq > S and ignores those ≤ S.
//
// This is gap-free provided the daemon updates its state before it
// publishes the matching event (then every event ≤ S is already in the
// list; an event > S may be too, and applying it again is harmless because
// a path event carries the whole PathView). A "lagged" event means the
// client read too slowly and the events from Seq−N+1 to Seq (N in Detail)
// were dropped for it: it lists again, as in step 2, and goes on.
//
// # Concurrency and lifecycle
//
// [Serve] (or [Server.Serve]) blocks until its context ends, then stops
// accepting, gives in-flight requests a moment to finish, closes every
// connection (event streams included) and returns after every handler has
// returned. Handlers call the Backend concurrently, from one goroutine per
// connection; the Backend must be safe for concurrent use and should not
// block for long. [Hub.Publish] never blocks: each subscriber has a bounded
// queue, and a slow one loses events (counted) instead of slowing the
// publisher or any other subscriber. Non-stream responses have a write
// deadline (WriteTimeout, default 10 s), and so does each event written to
// a stream, so a stuck client holds nothing but its own connection.
// [Client] is safe for concurrent use.
//
// Metrics: [Server.Stats] (requests, client errors, server errors, streams,
// stream write failures) and [Hub.Stats] (events published, dropped,
// lagged episodes).
//
// The package imports only the standard library and golang.org/x/sys/unix;
// in particular not the classifier (the daemon parses policies), not the
// data plane and not monami/configs.
package control
