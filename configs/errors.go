// SPDX-License-Identifier: MIT

package configs

import (
	"bufio"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Error is one problem in a configuration file.
type Error struct {
	File string
	Line int    // 0 if unknown
	Key  string // dotted key path, e.g. "uplink[1].bid"; "" for syntax errors
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// problems collects the errors of one file.
type problems struct {
	file  string
	lines lineIndex
	errs  []*Error
}

// add records a problem with key (a dotted path as in the lineIndex).
func (p *problems) add(key, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: p.lines.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
	es := make([]error, len(p.errs))
	for i, e := range p.errs {
		es[i] = e
	}
	return errors.Join(es...)
}

// lineIndex maps key paths ("uplink[1].bid", "router") to the line where
// they are written, by a light scan of the source: table headers, arrays of
// tables and "key =" lines. It does not need to understand every TOML form:
// a key it cannot place gets the line of its table, or none.
type lineIndex map[string]int

func indexLines(src []byte) lineIndex {
	idx := lineIndex{}
	counts := map[string]int{}
	table := ""
	sc := bufio.NewScanner(strings.NewReader(string(src)))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || l[0] == '#':
		case strings.HasPrefix(l, "[["):
			name := strings.TrimSpace(strings.Trim(strings.SplitN(l, "]]", 2)[0], "[ "))
			table = name + "[" + strconv.Itoa(counts[name]) + "]"
			counts[name]++
			idx.set(table, n)
		case l[0] == '[':
			table = strings.TrimSpace(strings.Trim(strings.SplitN(l, "]", 2)[0], "[ "))
			idx.set(table, n)
		default:
			k, _, ok := strings.Cut(l, "=")
			if !ok {
				continue
			}
			k = strings.Trim(strings.TrimSpace(k), `"'`)
			if table != "" {
				k = table + "." + k
			}
			idx.set(k, n)
		}
	}
	return idx
}

func (idx lineIndex) set(k string, n int) {
	if _, ok := idx[k]; !ok {
		idx[k] = n
	}
}

// line returns the line of key, or of its nearest enclosing table.
func (idx lineIndex) line(key string) int {
	for k := key; k != ""; {
		if n, ok := idx[k]; ok {
			return n
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

// suggest returns a known key within edit distance 2 of k, or "".
func suggest(k string, known []string) string {
	best, bd := "", 3
	for _, c := range known {
		if d := editDistance(k, c); d < bd {
			best, bd = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
