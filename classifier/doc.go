// SPDX-License-Identifier: MIT

// Package classifier owns the decoding of an inner packet's flow key and the
// policy engine that maps flows to paths: the policy model, its TOML
// language, resolution against the current paths, the compiled lookup table
// with its flow cache, and the nftables and iptables encoders. These are
// modules C, D, F and G of the paper's framework (seeds-digest §1.6).
//
// # Flow keys
//
// [Parsed.Decode] reads the version, addresses, protocol, ports (or ICMP
// echo identifier), DSCP and flow label of an IPv4 or IPv6 packet in place;
// [Parsed.Hash] and [Parsed.SymmetricHash] reduce the 5-tuple to a stable
// 64-bit flow hash; and [Pick] maps a flow hash to one of the live BIDs by
// rendezvous hashing, so that losing a path moves only its own flows.
//
// # Policies
//
// A requester writes what each kind of traffic needs, never a BID or an
// interface name (R1.2): a [PolicySet] of [Rule]s, each electing its
// [Policy]s when its [Condition]s hold. [ParsePolicies] reads a policy file:
//
//	[[rule]]
//	name = "ssh-when-wifi"          # 1..64 of A-Z a-z 0-9 _ . -, unique in the file
//	  [[rule.when]]                 # all conditions must hold; none = always
//	  exists = true                 # default; false: no path has these characteristics
//	  tags = ["wifi"]               # any action key below except prefer
//	  [[rule.policy]]
//	  name = "ssh"                  # unique in the rule
//	  target = "both"               # local (default) | peer | both
//	  src = ["2001:db8:0:f011::/64"] # selectors: one value or a list, any-of; absent = any
//	  dst = "198.18.20.0/24"        #   prefixes or addresses
//	  proto = "tcp"                 #   tcp udp icmp icmpv6 sctp udplite gre esp, or 0..255
//	  src_ports = [1024]            #   ports or "lo-hi" ranges (TCP, UDP, UDP-Lite, SCTP)
//	  dst_ports = ["22", "8000-8080"]
//	  dscp = ["ef", 10]             #   0..63, ef, af11..af43, cs0..cs7, le, va
//	  flow_label = [4711]           #   IPv6 only, 20 bits
//	  max_delay = "50ms"            # action: one-way delay, estimated as RTT/2
//	  max_jitter = "10ms"
//	  max_loss = "2%"               #   or a ratio 0.02
//	  min_bandwidth = "1Mbit"       #   bit/s: bit kbit Mbit Gbit Tbit
//	  max_cost = 0.5                #   per GB
//	  metered = false               #   default true: metered paths allowed
//	  require_tags = ["wifi"]       #   "tags" is another name for it
//	  forbid_tags = ["satellite"]
//	  prefer = ["delay", "cost"]    #   ranking; default cost, then delay
//	  mode = "single"               # single | stripe | redundant | drop
//	  copies = 2                    # redundant only: 1..8, default 2
//	  priority = 10                 # higher first; settles contradictions
//	  lifetime = "10m"              # from load time; absent = forever
//	  strict = false                # unsatisfiable: true drops, false falls back
//
// Every problem is reported at once, each a *configs.Error with the file,
// the line and the key path ("rule[0].policy[1].max_delay"), saying what
// would be valid. The model types marshal to JSON in the same vocabulary.
//
// # Resolution
//
// [Resolve] merges the sets of all requesters (R2), elects rules, removes
// duplicates and settles contradictions with a [Warning], and turns each
// elected policy into one [FilterRule] (selector → BIDs and mode), or into a
// [PolicyError] and a fallback rule (R3, R6). The caller resolves again on
// every path event, passing the previous [Resolution] so that flows stay on
// their paths unless a clearly better one appears. [Resolution.Local] goes
// to [Compile] and the encoders; [Resolution.Peer] goes to the home agent,
// which compiles it too.
//
// # Table and flow cache
//
// [Compile] turns filter rules into an immutable [Table] (tuple space
// search over prefixes, protocol and port; see table.go); [Table.Lookup]
// returns the [Decision] of the first matching rule. After a path event,
// [Table.Update] builds the new table from the old one's index, since only
// BIDs and modes changed. A [FlowCache] in front of the table remembers
// recent flows' decisions; its counters ([FlowCache.Snapshot]) are
// hits_total and misses_total. [WriteNft] and [WriteIptables] print the
// rules for the kernel's packet filters, marking packets with their path's
// BID as the NEPL implementation the paper cites does.
//
// # Where it sits and concurrency
//
// The tunnel engine calls Decode, Hash and the table lookup once per packet,
// between the TUN read and the seal (and Decode after the open, to check
// inner addresses). The control plane parses policies, resolves and
// compiles, and swaps the new *Table into the data path atomically. The
// package is pure: no goroutines, no I/O but the io.Writer given to the
// encoders, and no package-level mutable state. Its functions are safe for
// concurrent use; a Table and a Resolution are immutable once returned; a
// Parsed value and a FlowCache belong to the one goroutine that uses them.
// Decode, Hash, Pick, Table.Lookup and FlowCache.Lookup do not allocate.
// It imports the standard library, monami/paths, monami/configs (for its
// error type and line index only) and BurntSushi/toml; it must not import
// tunnel or signaling.
package classifier
