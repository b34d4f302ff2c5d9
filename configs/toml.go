// SPDX-License-Identifier: MIT

package configs

import (
	"fmt"
	"time"
)

// The strict TOML loaders (this package's configurations, the classifier's
// policy files) walk the maps BurntSushi/toml decodes into; these helpers
// read that shape the same way for both.

// TypeName names the TOML type of a decoded value, with its article, for
// error messages: "a string", "an array of tables", ...
func TypeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date-time"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

// TableArray returns the elements of v, a decoded array of tables
// ([[name]]); ok is false if v is not an array. An element that is not a
// table (an inline array of other values) is returned as it is, for the
// caller to report with TypeName.
func TableArray(v any) (elems []any, ok bool) {
	switch v := v.(type) {
	case []map[string]any:
		elems = make([]any, len(v))
		for i, e := range v {
			elems[i] = e
		}
		return elems, true
	case []any:
		return v, true
	}
	return nil, false
}
