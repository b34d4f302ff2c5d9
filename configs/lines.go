// SPDX-License-Identifier: MIT

package configs

import (
	"strconv"
	"strings"
)

// BurntSushi/toml v1.6 keeps the position of each key to itself: MetaData
// has no accessor, and only a decoding error carries one (ParseError.Position,
// keyed without array indexes, so every [[uplink]] shares one entry). So
// lineIndex finds the lines itself, by a second, lenient pass over a file
// the TOML parser has already accepted.

// lineIndex maps key paths to the 1-based line where each is written.
// Paths are as in Error.Key: "router", "router.prefixes",
// "router.prefixes[1]" (the line of that element of a multi-line array),
// "uplink[1]" (its [[uplink]] header), "uplink[1].bid". Keys that need
// quoting are quoted as in toml.Key.String.
type lineIndex map[string]int

// line returns the line of key or, if key is not written (a missing key),
// of its nearest enclosing table or array; 0 if none is written.
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

func (idx lineIndex) set(k string, n int) {
	if _, ok := idx[k]; !ok {
		idx[k] = n
	}
}

// joinKey returns the path of key k inside the table at path parent.
func joinKey(parent, k string) string {
	if !isBareKey(k) {
		k = strconv.Quote(k)
	}
	if parent == "" {
		return k
	}
	return parent + "." + k
}

func isBareKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isBareKeyByte(k[i]) {
			return false
		}
	}
	return true
}

func isBareKeyByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// maxDepth bounds the nesting of arrays and inline tables that indexLines
// descends into; deeper values are skipped a byte at a time.
const maxDepth = 64

// indexLines indexes the keys of src, which should be valid TOML. On
// anything it does not expect it moves on by one byte, so it always ends,
// in time linear in len(src), and never panics.
func indexLines(src []byte) lineIndex {
	s := &lineScanner{src: src, line: 1, idx: lineIndex{}, arrays: map[string]int{}}
	table := ""
	for {
		s.blank(true)
		if s.eof() {
			return s.idx
		}
		start, line := s.i, s.line
		if s.src[s.i] == '[' {
			array := s.peek(1) == '['
			s.i++
			if array {
				s.i++
			}
			table = s.resolve(s.key(), array)
			s.idx.set(table, line)
		} else {
			path := table
			for _, k := range s.key() {
				path = joinKey(path, k)
				s.idx.set(path, line)
			}
			s.blank(false)
			if s.peek(0) == '=' {
				s.i++
				s.value(path, 0)
			}
		}
		// What is left of the line is a comment, a header's closing
		// brackets, or something the parser accepted that we skip.
		for !s.eof() && s.src[s.i] != '\n' {
			s.i++
		}
		if s.i == start {
			s.i++
		}
	}
}

type lineScanner struct {
	src    []byte
	i      int // next byte
	line   int // line of src[i]
	idx    lineIndex
	arrays map[string]int // path of an array of tables → elements so far
}

func (s *lineScanner) eof() bool { return s.i >= len(s.src) }

func (s *lineScanner) peek(off int) byte {
	if s.i+off < len(s.src) {
		return s.src[s.i+off]
	}
	return 0
}

// advance moves past one byte, counting lines.
func (s *lineScanner) advance() {
	if s.src[s.i] == '\n' {
		s.line++
	}
	s.i++
}

// blank skips spaces and tabs and, if newlines, also line ends and comments.
func (s *lineScanner) blank(newlines bool) {
	for !s.eof() {
		switch c := s.src[s.i]; {
		case c == ' ' || c == '\t' || c == '\r':
			s.i++
		case c == '\n' && newlines:
			s.advance()
		case c == '#' && newlines:
			for !s.eof() && s.src[s.i] != '\n' {
				s.i++
			}
		default:
			return
		}
	}
}

// resolve returns the path of the table header with key k: a key that
// names an array of tables refers to its last element, and a new
// [[array]] element gets the next index.
func (s *lineScanner) resolve(k []string, array bool) string {
	path := ""
	for i, seg := range k {
		path = joinKey(path, seg)
		if array && i == len(k)-1 {
			n := s.arrays[path]
			s.arrays[path] = n + 1
			s.idx.set(path, s.line) // the array itself, at its first header
			return indexPath(path, n)
		}
		if n := s.arrays[path]; n > 0 {
			path = indexPath(path, n-1)
		}
	}
	return path
}

// key reads a dotted key (bare and quoted parts) and returns its parts.
func (s *lineScanner) key() []string {
	var parts []string
	for {
		s.blank(false)
		if s.eof() {
			return parts
		}
		switch c := s.src[s.i]; {
		case c == '"' || c == '\'':
			start := s.i
			s.str()
			raw := string(s.src[start:s.i])
			if c == '"' {
				if u, err := strconv.Unquote(raw); err == nil {
					raw = u
				} else {
					raw = strings.Trim(raw, `"`)
				}
			} else {
				raw = strings.Trim(raw, "'")
			}
			parts = append(parts, raw)
		case isBareKeyByte(c):
			start := s.i
			for !s.eof() && isBareKeyByte(s.src[s.i]) {
				s.i++
			}
			parts = append(parts, string(s.src[start:s.i]))
		default:
			return parts
		}
		s.blank(false)
		if s.peek(0) != '.' {
			return parts
		}
		s.i++
	}
}

// value skips one value, indexing the elements of arrays and the keys of
// inline tables under path.
func (s *lineScanner) value(path string, depth int) {
	s.blank(false)
	if s.eof() || depth > maxDepth {
		return
	}
	switch s.src[s.i] {
	case '"', '\'':
		s.str()
	case '[':
		s.i++
		for n := 0; ; n++ {
			s.blank(true)
			if s.eof() {
				return
			}
			if s.src[s.i] == ']' {
				s.i++
				return
			}
			start := s.i
			elem := indexPath(path, n)
			s.idx.set(elem, s.line)
			s.value(elem, depth+1)
			s.blank(true)
			if s.peek(0) == ',' {
				s.i++
			} else if s.i == start {
				s.i++ // not a value; blank left no newline here
			}
		}
	case '{':
		s.i++
		for {
			s.blank(true)
			if s.eof() {
				return
			}
			if s.src[s.i] == '}' {
				s.i++
				return
			}
			start, line, p := s.i, s.line, path
			for _, k := range s.key() {
				p = joinKey(p, k)
				s.idx.set(p, line)
			}
			s.blank(false)
			if s.peek(0) == '=' {
				s.i++
				s.value(p, depth+1)
			}
			s.blank(true)
			if s.peek(0) == ',' {
				s.i++
			} else if s.i == start {
				s.i++
			}
		}
	default: // number, boolean, date-time
		for !s.eof() && !strings.ContainsRune(" \t\r\n,]}#", rune(s.src[s.i])) {
			s.i++
		}
	}
}

// str skips a basic or literal string, single- or multi-line, starting at
// its opening quote.
func (s *lineScanner) str() {
	q := s.src[s.i]
	if s.peek(1) == q && s.peek(2) == q {
		s.i += 3
		for !s.eof() {
			switch {
			case q == '"' && s.src[s.i] == '\\':
				s.i++
				if !s.eof() {
					s.advance() // the escaped byte; a newline after a line-ending backslash
				}
			case s.src[s.i] == q && s.peek(1) == q && s.peek(2) == q:
				s.i += 3
				// Up to two more quotes are part of the string.
				for n := 0; n < 2 && s.peek(0) == q; n++ {
					s.i++
				}
				return
			default:
				s.advance()
			}
		}
		return
	}
	s.i++
	for !s.eof() && s.src[s.i] != '\n' {
		c := s.src[s.i]
		s.i++
		if c == q {
			return
		}
		if q == '"' && c == '\\' && !s.eof() && s.src[s.i] != '\n' {
			s.i++
		}
	}
}

// Lines indexes the keys of src, a TOML document the parser has accepted,
// for loaders of other TOML files (the policy files) that report errors as
// *Error with a line. The result maps key paths written as in Error.Key
// ("rule[0].policy[1].max_delay") to their lines.
func Lines(src []byte) LineIndex { return LineIndex{idx: indexLines(src)} }

// LineIndex is the line index [Lines] returns; the zero value knows no
// lines. It is safe for concurrent reads.
type LineIndex struct{ idx lineIndex }

// Line returns the 1-based line where key is written or, if it is not
// (a missing key), the line of its nearest enclosing table or array; 0 if
// none is written.
func (l LineIndex) Line(key string) int { return l.idx.line(key) }
