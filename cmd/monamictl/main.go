// SPDX-License-Identifier: MIT

// Command monamictl is the operator's and requesters' client of a running
// monami mobile router, over its local control socket (package
// signaling/control): it adds, lists and withdraws the caller's traffic
// policies, shows the compiled filter rules, the paths and the home
// agent's addresses, follows path events, and asks for a reload.
//
// Usage:
//
//	monamictl [-socket /run/monami/mr.sock] [-timeout 30s] <command>
//
//	policy add FILE [-lifetime 10m]   add a policy (FILE "-" is stdin); prints its id
//	policy list [-all]                list your policies (-all: everyone's, root only)
//	policy rm ID                      withdraw one of your policies
//	rules [-format json|nft|iptables] print the compiled filter rules
//	paths                             list the paths
//	peer                              list the home agent's addresses
//	events [-n N]                     follow path and rule events until ^C (or N events)
//	reload                            re-read the policy configuration
//
// Exit status: 0 on success, 1 if the router (or the socket) answered with
// an error, every line of which is printed to stderr, 2 on a usage error.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
