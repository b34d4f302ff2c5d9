// SPDX-License-Identifier: MIT

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"monami/signaling/control"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // the router or the socket answered with an error
	exitUsage = 2
)

// maxPolicyFile bounds a policy file read by "policy add"; the server
// refuses bodies over 1 MiB by default anyway.
const maxPolicyFile = 4 << 20

const usageText = `usage: monamictl [-socket PATH] [-timeout D] <command>

commands:
  policy add FILE [-lifetime 10m]    add a policy (FILE "-" is stdin); prints its id
  policy list [-all]                 list your policies (-all: everyone's, root only)
  policy rm ID                       withdraw one of your policies
  rules [-format json|nft|iptables]  print the compiled filter rules
  paths                              list the paths
  peer                               list the home agent's addresses
  events [-n N]                      follow events until interrupted (or N events)
  reload                             re-read the policy configuration

global flags:
`

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// run is main without the process: it parses args, runs one command with
// output on stdout and stderr, and returns the exit status. An interrupt
// or termination signal ends "events" (and any other command) cleanly.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runContext(ctx, args, os.Stdin, stdout, stderr)
}

// cli is one invocation.
type cli struct {
	ctx     context.Context
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	client  *control.Client
	timeout time.Duration
}

// runContext is run with the context, and stdin, given.
func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("monamictl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", control.DefaultSocket, "the router's control `socket`")
	timeout := fs.Duration("timeout", 30*time.Second, "give up on a request after this `duration` (not on events)")
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	if *timeout <= 0 {
		fmt.Fprintln(stderr, "monamictl: -timeout must be positive")
		return exitUsage
	}
	c := &cli{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, client: control.Dial(*socket), timeout: *timeout}
	defer c.client.Close()

	err := c.dispatch(fs.Arg(0), fs.Args()[1:])
	if ue, ok := errors.AsType[*usageError](err); ok {
		fmt.Fprintf(stderr, "monamictl: %s\n", ue.msg)
		fmt.Fprintln(stderr, "run 'monamictl -h' for usage")
		return exitUsage
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		printError(stderr, err)
		return exitError
	}
	return exitOK
}

// printError prints every line of err: each error the router listed, or
// the error itself.
func printError(w io.Writer, err error) {
	if ae, ok := errors.AsType[*control.APIError](err); ok {
		for _, m := range ae.Errors {
			fmt.Fprintf(w, "monamictl: %s\n", m)
		}
		return
	}
	for line := range strings.SplitSeq(err.Error(), "\n") {
		fmt.Fprintf(w, "monamictl: %s\n", line)
	}
}

func (c *cli) dispatch(cmd string, args []string) error {
	switch cmd {
	case "policy":
		if len(args) == 0 {
			return usagef("policy: want add, list or rm")
		}
		switch args[0] {
		case "add":
			return c.policyAdd(args[1:])
		case "list", "ls":
			return c.policyList(args[1:])
		case "rm", "remove":
			return c.policyRm(args[1:])
		}
		return usagef("policy: unknown command %q (want add, list or rm)", args[0])
	case "rules":
		return c.rules(args)
	case "paths":
		return c.paths(args)
	case "peer":
		return c.peer(args)
	case "events":
		return c.events(args)
	case "reload":
		return c.reload(args)
	case "help":
		return flag.ErrHelp
	}
	return usagef("unknown command %q", cmd)
}

// flags returns a flag set for a subcommand. It prints nothing itself:
// parse turns its errors into usage errors, and prints its flags for -h.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "usage of monamictl %s:\n", name)
		fs.SetOutput(c.stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses args with fs, letting flags and positional arguments come
// in any order ("policy add FILE -lifetime 10m"), and checks the number of
// positional arguments.
func parse(fs *flag.FlagSet, args []string, positional ...string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if i := len(args) - len(rest); i > 0 && args[i-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) != len(positional) {
		if len(positional) == 0 {
			return nil, usagef("%s: unexpected argument %q", fs.Name(), pos[0])
		}
		return nil, usagef("%s: want %s", fs.Name(), strings.Join(positional, " "))
	}
	return pos, nil
}

// reqCtx bounds one request.
func (c *cli) reqCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, c.timeout)
}

func (c *cli) policyAdd(args []string) error {
	fs := c.flags("policy add")
	lifetime := fs.Duration("lifetime", 0, "withdraw the policy after this `duration` (0: never; at most 720h)")
	pos, err := parse(fs, args, "FILE")
	if err != nil {
		return err
	}
	if *lifetime < 0 || *lifetime > control.MaxLifetime {
		return usagef("policy add: -lifetime must be between 0 and %s", control.MaxLifetime)
	}
	doc, err := c.readPolicy(pos[0])
	if err != nil {
		return err
	}
	ctx, cancel := c.reqCtx()
	defer cancel()
	info, err := c.client.AddPolicy(ctx, doc, *lifetime)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, info.ID)
	for _, m := range info.Errors {
		fmt.Fprintf(c.stderr, "error: %s\n", m)
	}
	for _, m := range info.Warnings {
		fmt.Fprintf(c.stderr, "warning: %s\n", m)
	}
	return nil
}

// readPolicy reads a policy file, or stdin for "-".
func (c *cli) readPolicy(name string) ([]byte, error) {
	var r io.Reader = c.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	doc, err := io.ReadAll(io.LimitReader(r, maxPolicyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	if len(doc) > maxPolicyFile {
		return nil, fmt.Errorf("read policy: %s is over %d bytes", name, maxPolicyFile)
	}
	return doc, nil
}

func (c *cli) policyList(args []string) error {
	fs := c.flags("policy list")
	all := fs.Bool("all", false, "list every requester's policies (root only)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	ctx, cancel := c.reqCtx()
	defer cancel()
	ps, err := c.client.ListPolicies(ctx, *all)
	if err != nil {
		return err
	}
	now := time.Now()
	tw := tabwriter.NewWriter(c.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREQUESTER\tNAME\tRULES\tADDED\tEXPIRES\tFEEDBACK")
	for _, p := range ps {
		expires := "never"
		if !p.Expires.IsZero() {
			expires = p.Expires.Local().Format(time.DateTime) + " (in " + p.Expires.Sub(now).Round(time.Second).String() + ")"
		}
		feedback := ""
		if n := len(p.Errors); n > 0 {
			feedback = plural(n, "error")
		}
		if n := len(p.Warnings); n > 0 {
			feedback = strings.TrimPrefix(feedback+", "+plural(n, "warning"), ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", p.ID, p.Requester, dash(p.Name), p.Rules,
			p.Added.Local().Format(time.DateTime), expires, dash(feedback))
	}
	return tw.Flush()
}

func (c *cli) policyRm(args []string) error {
	pos, err := parse(c.flags("policy rm"), args, "ID")
	if err != nil {
		return err
	}
	ctx, cancel := c.reqCtx()
	defer cancel()
	return c.client.RemovePolicy(ctx, pos[0])
}

func (c *cli) rules(args []string) error {
	fs := c.flags("rules")
	format := fs.String("format", control.FormatJSON, "`format`: json, nft or iptables")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	switch *format {
	case control.FormatJSON, control.FormatNft, control.FormatIptables:
	default:
		return usagef("rules: unknown format %q (want json, nft or iptables)", *format)
	}
	ctx, cancel := c.reqCtx()
	defer cancel()
	body, _, err := c.client.Rules(ctx, *format)
	if err != nil {
		return err
	}
	if _, err := c.stdout.Write(body); err != nil {
		return err
	}
	if len(body) > 0 && body[len(body)-1] != '\n' {
		fmt.Fprintln(c.stdout)
	}
	return nil
}

func (c *cli) paths(args []string) error {
	if _, err := parse(c.flags("paths"), args); err != nil {
		return err
	}
	ctx, cancel := c.reqCtx()
	defer cancel()
	ps, _, err := c.client.Paths(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "BID\tNAME\tIFACE\tSTATE\tRTT\tJITTER\tLOSS\tCAPACITY\tCOST/GB\tMETERED\tLOCAL\tREMOTE\tTAGS")
	for _, p := range ps {
		metered := "no"
		if p.Metered {
			metered = "yes"
		}
		if p.CapReached {
			metered += " (cap reached)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			p.BID, dash(p.Name), dash(p.Interface), dash(p.State),
			millis(p.RTTMillis), millis(p.JitterMillis), percent(p.Loss), rate(p.CapacityBps), cost(p.CostPerGB),
			metered, dash(p.Local), dash(p.Remote), dash(strings.Join(p.Tags, ",")))
	}
	return tw.Flush()
}

func (c *cli) peer(args []string) error {
	if _, err := parse(c.flags("peer"), args); err != nil {
		return err
	}
	ctx, cancel := c.reqCtx()
	defer cancel()
	addrs, _, err := c.client.PeerAddrs(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tKIND")
	for _, a := range addrs {
		fmt.Fprintf(tw, "%s\t%s\n", a.Addr, dash(a.Kind))
	}
	return tw.Flush()
}

func (c *cli) reload(args []string) error {
	if _, err := parse(c.flags("reload"), args); err != nil {
		return err
	}
	ctx, cancel := c.reqCtx()
	defer cancel()
	return c.client.Reload(ctx)
}

// events prints one line per event until the context ends (an interrupt:
// exit 0), n events were printed, or the stream ends (an error).
func (c *cli) events(args []string) error {
	fs := c.flags("events")
	n := fs.Int("n", 0, "exit after `N` events (0: follow until interrupted)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *n < 0 {
		return usagef("events: -n must not be negative")
	}
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	st, err := c.client.Events(ctx)
	if err != nil {
		if c.ctx.Err() != nil {
			return nil // interrupted
		}
		return err
	}
	defer st.Close()
	for i := 0; *n == 0 || i < *n; i++ {
		ev, err := st.Next()
		if err != nil {
			if c.ctx.Err() != nil {
				return nil // interrupted
			}
			if errors.Is(err, io.EOF) {
				return errors.New("event stream ended: the router went away")
			}
			return err
		}
		fmt.Fprintln(c.stdout, formatEvent(ev))
	}
	return nil
}

// formatEvent renders an event on one line.
func formatEvent(ev control.Event) string {
	var b strings.Builder
	b.WriteString(ev.Time.Local().Format("2006-01-02T15:04:05.000Z07:00"))
	b.WriteString(" #")
	b.WriteString(strconv.FormatUint(ev.Seq, 10))
	b.WriteByte(' ')
	b.WriteString(ev.Kind)
	if p := ev.Path; p != nil {
		fmt.Fprintf(&b, " bid=%d", p.BID)
		if p.Name != "" {
			b.WriteString(" name=" + p.Name)
		}
		if p.Interface != "" {
			b.WriteString(" iface=" + p.Interface)
		}
		if p.State != "" {
			b.WriteString(" state=" + p.State)
		}
		b.WriteString(" rtt=" + millis(p.RTTMillis) + " loss=" + percent(p.Loss))
	}
	if ev.Detail != "" {
		b.WriteString(" " + strconv.Quote(ev.Detail))
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func millis(v float64) string {
	if v == 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
}

func percent(v float64) string { return strconv.FormatFloat(v*100, 'f', 1, 64) + "%" }

func cost(v float64) string {
	if v == 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// rate renders bits per second with an SI prefix.
func rate(bps float64) string {
	switch {
	case bps <= 0:
		return "-"
	case bps >= 1e9:
		return strconv.FormatFloat(bps/1e9, 'f', 1, 64) + "Gbit/s"
	case bps >= 1e6:
		return strconv.FormatFloat(bps/1e6, 'f', 1, 64) + "Mbit/s"
	case bps >= 1e3:
		return strconv.FormatFloat(bps/1e3, 'f', 1, 64) + "kbit/s"
	}
	return strconv.FormatFloat(bps, 'f', 0, 64) + "bit/s"
}
