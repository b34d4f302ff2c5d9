// SPDX-License-Identifier: MIT

// Package udpconn is the kernel UDP socket of one monami path: one socket
// per uplink on the mobile router, bound to that uplink's interface with
// SO_BINDTODEVICE so the kernel routes its datagrams out of that uplink
// only, and the data listener(s) of the home agent (unbound). It implements
// paths.Conn with batched system calls and UDP offloads:
//
//   - Write groups consecutive datagrams of equal size (the last of a group
//     may be shorter; at most 64 datagrams and 65507 bytes per group) into
//     one message with a UDP_SEGMENT control message (UDP GSO), one iovec
//     per datagram so no payload is copied, and sends all messages of a
//     batch with one sendmmsg. If the kernel refuses GSO (EIO, or EINVAL
//     before any GSO send succeeded) the Conn falls back to one datagram per
//     message for good and counts it.
//   - Read receives with recvmmsg and UDP_GRO: one coalesced read of several
//     equal-size segments (the last may be shorter) is split into
//     consecutive entries of bufs. To leave room for splitting, a Read with
//     GRO receives into at most len(bufs)/64 (at least one) buffers; pass
//     BatchSize buffers. Segments that still do not fit are kept and
//     returned by the next Read, so any len(bufs) >= 1 loses nothing.
//
// Listen applies the same interface binding and buffer sizing to a plain
// *net.UDPConn (the QUIC signaling socket of an uplink).
//
// Concurrency: as paths.Conn — one goroutine may Read while another
// Writes; Read and Write each own separate preallocated scratch space
// (message headers, iovecs, control buffers, socket addresses) and make no
// allocation in the steady state. Close may be called from any goroutine
// and unblocks Read. The package holds no goroutines and no global state,
// and imports only package paths of monami.
//
// # Errors
//
// After Close, Read and Write return errors for which errors.Is(err,
// net.ErrClosed) holds. Write never blocks and returns the kernel's error
// for datagrams it refused, as a bare syscall.Errno (so that it does not
// allocate): EAGAIN (the socket send buffer is full: the rest of the batch
// is dropped rather than stalling the caller's other paths), ENOBUFS (qdisc
// or device queue full), ECONNREFUSED (a pending ICMP error),
// ENETUNREACH/EHOSTUNREACH/ENETDOWN (no route via the bound device, for
// instance after the uplink lost its address), EMSGSIZE (datagram too
// large) or EPERM (firewall). Except for EAGAIN, only the refused
// message's datagrams are lost and the rest of the batch is still sent.
// All of these are transient: the caller counts the datagrams as dropped
// (SendErrorsTotal counts them too) and goes on. Write returns ErrEndpoint
// for an endpoint of the wrong family.
// Read returns any other socket error as a bare syscall.Errno; such errors
// are transient and the caller may read again. Link-local IPv6 endpoints
// carry no zone: Read does not report one, and Write relies on the socket
// being bound to an interface.
//
// # Metrics
//
// Stats counters (exported by cmd as udpconn_<name>_total): datagrams_sent,
// bytes_sent, datagrams_received, bytes_received, send_errors (datagrams
// the kernel refused), truncated (datagrams dropped because they did not
// fit the read buffer), gso_fallbacks.
package udpconn
