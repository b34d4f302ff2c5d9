// SPDX-License-Identifier: MIT

package usage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// version is the version of the file format that this package reads and
// writes.
const version = 1

// maxName bounds an uplink's name in the file (configs allows 32 bytes).
const maxName = 64

// file is the usage file.
type file struct {
	Version int       `json:"version"`
	Uplinks *[]record `json:"uplinks"`
}

// record is one uplink's counts: the current day and month windows, by
// their starts, and the bytes counted in each.
type record struct {
	Name       string    `json:"name"`
	DayStart   time.Time `json:"day_start"`
	MonthStart time.Time `json:"month_start"`
	BytesToday uint64    `json:"bytes_today"`
	BytesMonth uint64    `json:"bytes_month"`
}

func (r record) equal(o record) bool {
	return r.Name == o.Name && r.DayStart.Equal(o.DayStart) && r.MonthStart.Equal(o.MonthStart) &&
		r.BytesToday == o.BytesToday && r.BytesMonth == o.BytesMonth
}

// decode parses a usage file strictly: the version must be ours, every
// field known, the uplinks present, each with a name (distinct) and both
// window starts, and nothing may follow.
func decode(b []byte) ([]record, error) {
	// Find the version first, so that a file of another version is
	// reported as such rather than by its unknown fields.
	var v struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if v.Version == nil {
		return nil, errors.New("no version: not a usage file")
	}
	if *v.Version != version {
		return nil, fmt.Errorf("version %d, want %d", *v.Version, version)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the usage object")
	}
	if f.Uplinks == nil {
		return nil, errors.New("no uplinks")
	}
	recs := *f.Uplinks
	seen := make(map[string]bool, len(recs))
	for i, r := range recs {
		switch {
		case r.Name == "" || len(r.Name) > maxName || !utf8.ValidString(r.Name):
			return nil, fmt.Errorf("uplinks[%d]: bad name %q", i, r.Name)
		case seen[r.Name]:
			return nil, fmt.Errorf("uplinks[%d]: %q twice", i, r.Name)
		case r.DayStart.IsZero() || r.MonthStart.IsZero():
			return nil, fmt.Errorf("uplinks[%d] (%s): no window start", i, r.Name)
		}
		seen[r.Name] = true
	}
	return recs, nil
}

// encode formats recs as a usage file. It fails only on a time outside
// the years 0 to 9999 (a clock gone wild).
func encode(recs []record) ([]byte, error) {
	if recs == nil {
		recs = []record{}
	}
	b, err := json.MarshalIndent(file{Version: version, Uplinks: &recs}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
