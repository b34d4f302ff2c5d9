// SPDX-License-Identifier: MIT

package linkem

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Dist is a jitter distribution.
type Dist uint8

const (
	// Uniform jitter is drawn from [-Jitter, +Jitter].
	Uniform Dist = iota
	// Normal jitter is drawn from a normal distribution with standard
	// deviation Jitter, clamped to ±3 Jitter.
	Normal
)

func (d Dist) String() string {
	if d == Normal {
		return "normal"
	}
	return "uniform"
}

// GilbertElliott is a two-state bursty loss model. Before each frame the
// state moves Good→Bad with probability P and Bad→Good with probability R;
// the frame is then lost with probability LossBad in the bad state and
// LossGood in the good state. The stationary loss rate is
// (R·LossGood + P·LossBad)/(P+R) and the mean bad-state run is 1/R frames.
// P == 0 disables the model.
type GilbertElliott struct {
	P, R, LossBad, LossGood float64
}

// Params are the impairments of one direction. The zero value is a
// transparent wire.
type Params struct {
	// Rate is the link rate in bytes of Ethernet frame per second; 0 is
	// unlimited (no queue either).
	Rate int64
	// Burst is the token-bucket depth in bytes; 0 means one frame, i.e. a
	// plain serializing link.
	Burst int
	// QueueBytes bounds the bytes waiting for tokens; a frame that does not
	// fit is dropped (drop-tail). 0: QueueTime at Rate if set, else the
	// default max(Rate·max(2·Delay, 20 ms), 32 KiB).
	QueueBytes int
	// QueueTime sizes the queue as Rate·QueueTime when QueueBytes is 0.
	QueueTime time.Duration

	// Delay is added to every frame after the queue.
	Delay time.Duration
	// Jitter varies Delay per frame (see Dist). Without Reorder, frames
	// keep their order: a frame is never released before its predecessor.
	Jitter time.Duration
	Dist   Dist

	// Loss is the probability (0..1) that a frame is dropped at random.
	Loss float64
	// GE adds bursty loss on top of Loss.
	GE GilbertElliott
	// Duplicate is the probability that a frame is sent twice.
	Duplicate float64
	// Reorder is the probability that a frame skips Delay and Jitter and so
	// overtakes frames held in the delay line. When Reorder > 0, jittered
	// frames may also overtake each other.
	Reorder float64

	// Blackhole drops every frame silently.
	Blackhole bool
}

// DefaultQueueTime and MinQueueBytes size the default queue.
const (
	DefaultQueueTime = 20 * time.Millisecond
	MinQueueBytes    = 32 << 10
)

// QueueLimit returns the effective queue bound in bytes (0 when Rate is 0:
// no queue).
func (p *Params) QueueLimit() int {
	if p.Rate <= 0 {
		return 0
	}
	if p.QueueBytes > 0 {
		return p.QueueBytes
	}
	t := p.QueueTime
	if t <= 0 {
		t = max(2*p.Delay, DefaultQueueTime)
		return max(int(float64(p.Rate)*t.Seconds()), MinQueueBytes)
	}
	return max(int(float64(p.Rate)*t.Seconds()), 1)
}

// Keys returns the parameter names accepted by Set, in display order.
func Keys() []string {
	return []string{"rate", "burst", "queue", "delay", "jitter", "dist", "loss",
		"ge_p", "ge_r", "ge_bad", "ge_good", "dup", "reorder", "blackhole"}
}

// Set assigns one parameter from its text form:
//
//	rate=50mbit     rate: <n>[k|m|g]bit (bits/s) or <n>[k|m|g]bps (bytes/s); 0 = unlimited
//	burst=16kb      token-bucket depth: <n>[b|kb|mb] (1024-based)
//	queue=256kb     queue bound in bytes, or queue=50ms (time at rate); 0 = default
//	delay=20ms      fixed delay
//	jitter=5ms      jitter amplitude; dist=uniform|normal
//	loss=5%         random loss: a percentage, or a fraction without "%"
//	ge_p=1% ge_r=20% ge_bad=100% ge_good=0%   Gilbert-Elliott
//	dup=1%          duplication
//	reorder=1%      reordering
//	blackhole=on    on|off|true|false|1|0
func (p *Params) Set(key, value string) error {
	var err error
	switch key {
	case "rate":
		p.Rate, err = ParseRate(value)
	case "burst":
		p.Burst, err = parseSize(value)
	case "queue":
		if d, derr := time.ParseDuration(value); derr == nil && value != "0" {
			if d < 0 {
				return fmt.Errorf("queue %q: negative", value)
			}
			p.QueueTime, p.QueueBytes = d, 0
			return nil
		}
		p.QueueBytes, err = parseSize(value)
		p.QueueTime = 0
	case "delay":
		p.Delay, err = parseDuration(value)
	case "jitter":
		p.Jitter, err = parseDuration(value)
	case "dist":
		switch value {
		case "uniform":
			p.Dist = Uniform
		case "normal":
			p.Dist = Normal
		default:
			err = errors.New("want uniform or normal")
		}
	case "loss":
		p.Loss, err = ParseProb(value)
	case "ge_p":
		p.GE.P, err = ParseProb(value)
	case "ge_r":
		p.GE.R, err = ParseProb(value)
	case "ge_bad":
		p.GE.LossBad, err = ParseProb(value)
	case "ge_good":
		p.GE.LossGood, err = ParseProb(value)
	case "dup":
		p.Duplicate, err = ParseProb(value)
	case "reorder":
		p.Reorder, err = ParseProb(value)
	case "blackhole":
		p.Blackhole, err = parseBool(value)
	default:
		return fmt.Errorf("unknown parameter %q (known: %s)", key, strings.Join(Keys(), ", "))
	}
	if err != nil {
		return fmt.Errorf("%s=%s: %w", key, value, err)
	}
	return nil
}

// Get returns the text form of one parameter, as accepted by Set.
func (p *Params) Get(key string) string {
	switch key {
	case "rate":
		return FormatRate(p.Rate)
	case "burst":
		return strconv.Itoa(p.Burst) + "b"
	case "queue":
		if p.QueueTime > 0 {
			return p.QueueTime.String()
		}
		return strconv.Itoa(p.QueueBytes) + "b"
	case "delay":
		return p.Delay.String()
	case "jitter":
		return p.Jitter.String()
	case "dist":
		return p.Dist.String()
	case "loss":
		return formatProb(p.Loss)
	case "ge_p":
		return formatProb(p.GE.P)
	case "ge_r":
		return formatProb(p.GE.R)
	case "ge_bad":
		return formatProb(p.GE.LossBad)
	case "ge_good":
		return formatProb(p.GE.LossGood)
	case "dup":
		return formatProb(p.Duplicate)
	case "reorder":
		return formatProb(p.Reorder)
	case "blackhole":
		if p.Blackhole {
			return "on"
		}
		return "off"
	}
	return ""
}

// Apply parses a space-separated list of key=value assignments (see Set)
// and applies them in order. On error p is unchanged.
func (p *Params) Apply(spec string) error {
	q := *p
	for f := range strings.FieldsSeq(spec) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return fmt.Errorf("%q: want key=value", f)
		}
		if err := q.Set(k, v); err != nil {
			return err
		}
	}
	if err := q.Validate(); err != nil {
		return err
	}
	*p = q
	return nil
}

// String returns the parameters that differ from the zero value in the
// form accepted by Apply ("" for a transparent wire).
func (p Params) String() string {
	var zero Params
	var b strings.Builder
	for _, k := range Keys() {
		if v := p.Get(k); v != zero.Get(k) {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(k + "=" + v)
		}
	}
	return b.String()
}

// Validate reports parameters out of range.
func (p *Params) Validate() error {
	var errs []error
	if p.Rate < 0 || p.Burst < 0 || p.QueueBytes < 0 || p.QueueTime < 0 {
		errs = append(errs, errors.New("rate, burst and queue must not be negative"))
	}
	if p.Delay < 0 || p.Jitter < 0 {
		errs = append(errs, errors.New("delay and jitter must not be negative"))
	}
	if p.Delay > time.Minute || p.Jitter > time.Minute {
		errs = append(errs, errors.New("delay and jitter must be at most 1m"))
	}
	for _, q := range []struct {
		n string
		v float64
	}{{"loss", p.Loss}, {"ge_p", p.GE.P}, {"ge_r", p.GE.R}, {"ge_bad", p.GE.LossBad},
		{"ge_good", p.GE.LossGood}, {"dup", p.Duplicate}, {"reorder", p.Reorder}} {
		if !(q.v >= 0 && q.v <= 1) {
			errs = append(errs, fmt.Errorf("%s must be in 0..1 (0%%..100%%)", q.n))
		}
	}
	if p.GE.P > 0 && p.GE.R == 0 {
		errs = append(errs, errors.New("ge_r must be > 0 when ge_p is set (the bad state would never end)"))
	}
	return errors.Join(errs...)
}

// ParseRate parses a rate: <n>[k|m|g]bit in bits per second or
// <n>[k|m|g]bps in bytes per second (decimal multipliers, as tc), and
// returns bytes per second. "0" is unlimited.
func ParseRate(s string) (int64, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "0" {
		return 0, nil
	}
	div := 1.0
	switch {
	case strings.HasSuffix(s, "bit"):
		s, div = strings.TrimSuffix(s, "bit"), 8
	case strings.HasSuffix(s, "bps"):
		s = strings.TrimSuffix(s, "bps")
	default:
		return 0, errors.New("want <n>[k|m|g]bit or <n>[k|m|g]bps")
	}
	mul := 1.0
	switch {
	case strings.HasSuffix(s, "k"):
		s, mul = s[:len(s)-1], 1e3
	case strings.HasSuffix(s, "m"):
		s, mul = s[:len(s)-1], 1e6
	case strings.HasSuffix(s, "g"):
		s, mul = s[:len(s)-1], 1e9
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || v*mul/div > 1e12 {
		return 0, errors.New("want a non-negative number below 8 Tbit/s")
	}
	return int64(math.Round(v * mul / div)), nil
}

// FormatRate formats bytes per second as bits per second ("50mbit").
func FormatRate(bps int64) string {
	if bps == 0 {
		return "0"
	}
	bits := float64(bps) * 8
	switch {
	case bits >= 1e9 && math.Mod(bits, 1e6) == 0:
		return strconv.FormatFloat(bits/1e9, 'f', -1, 64) + "gbit"
	case bits >= 1e6:
		return strconv.FormatFloat(bits/1e6, 'f', -1, 64) + "mbit"
	case bits >= 1e3:
		return strconv.FormatFloat(bits/1e3, 'f', -1, 64) + "kbit"
	}
	return strconv.FormatFloat(bits, 'f', -1, 64) + "bit"
}

// ParseProb parses "5%" (a percentage) or "0.05" (a fraction) as 0.05.
func ParseProb(s string) (float64, error) {
	s = strings.TrimSpace(s)
	div := 1.0
	if t, ok := strings.CutSuffix(s, "%"); ok {
		s, div = t, 100
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v/div >= 0 && v/div <= 1) {
		return 0, errors.New("want a probability: 0%..100% or 0..1")
	}
	return v / div, nil
}

func formatProb(v float64) string {
	return strconv.FormatFloat(v*100, 'f', -1, 64) + "%"
}

func parseSize(s string) (int, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	mul := 1
	switch {
	case strings.HasSuffix(s, "kb"):
		s, mul = strings.TrimSuffix(s, "kb"), 1<<10
	case strings.HasSuffix(s, "mb"):
		s, mul = strings.TrimSuffix(s, "mb"), 1<<20
	case strings.HasSuffix(s, "b"):
		s = strings.TrimSuffix(s, "b")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v*float64(mul) > 1<<32 {
		return 0, errors.New("want a size: <n>[b|kb|mb], at most 4 GiB")
	}
	return int(v * float64(mul)), nil
}

func parseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("want a duration such as 20ms")
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	return d, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "true", "1", "yes":
		return true, nil
	case "off", "false", "0", "no":
		return false, nil
	}
	return false, errors.New("want on or off")
}
