package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"strings"
)

// Match is a condition on a task's JSON payload: the value at Path, a
// dot-separated path of object keys such as "customer.id", equals Value,
// a JSON value compared as JSON (42 matches 42 and 42.0, "42" matches
// "42", and key order and spacing of objects do not matter). A payload
// that is not JSON, or has nothing at Path, does not match.
type Match struct {
	Path  string
	Value string
}

// ParseMatch reads a match as the command line and the dashboard write it,
// "<path>=<value>": "customer.id=42", `customer.name="Ada"`. A value that
// is not JSON is taken as a string, so customer.name=Ada matches "Ada"
// too. It returns an error wrapping [ErrInvalidQuery] for text without
// '=' or a malformed path.
func ParseMatch(s string) (*Match, error) {
	path, value, ok := strings.Cut(s, "=")
	if !ok {
		return nil, fmt.Errorf("%w: match %q has no '=': write <path>=<value>, such as customer.id=42", ErrInvalidQuery, s)
	}
	path = strings.TrimSpace(path)
	value = strings.TrimSpace(value)
	if !json.Valid([]byte(value)) {
		b, _ := json.Marshal(value)
		value = string(b)
	}
	m := &Match{Path: path, Value: value}
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

// String is m as [ParseMatch] reads it.
func (m Match) String() string { return m.Path + "=" + m.Value }

// check reports a malformed match.
func (m *Match) check() error {
	if m.Path == "" {
		return fmt.Errorf("%w: match has no path: name a payload field, such as customer.id", ErrInvalidQuery)
	}
	for key := range strings.SplitSeq(m.Path, ".") {
		if key == "" {
			return fmt.Errorf("%w: match path %q has an empty key: write keys separated by single dots, such as customer.id", ErrInvalidQuery, m.Path)
		}
	}
	if !json.Valid([]byte(m.Value)) {
		return fmt.Errorf("%w: match value %q is not JSON: quote a string (\"Ada\"), or write a number, true, false or null", ErrInvalidQuery, m.Value)
	}
	return nil
}

// matcher tests payloads against a checked match.
type matcher struct {
	path []string
	want any
}

func newMatcher(m *Match) *matcher {
	if m == nil {
		return nil
	}
	want, _ := decodeJSON([]byte(m.Value))
	return &matcher{path: strings.Split(m.Path, "."), want: want}
}

// matches reports whether payload has the match's value at its path; nil
// matches everything.
func (mt *matcher) matches(payload []byte) bool {
	if mt == nil {
		return true
	}
	v, ok := decodeJSON(payload)
	if !ok {
		return false
	}
	for _, key := range mt.path {
		obj, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = obj[key]; !ok {
			return false
		}
	}
	return equalJSON(v, mt.want)
}

// decodeJSON decodes b with numbers kept as written; ok is false for what
// is not JSON.
func decodeJSON(b []byte) (v any, ok bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return v, d.Decode(&v) == nil
}

// equalJSON compares decoded JSON values, numbers by value.
func equalJSON(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		b, ok := b.(json.Number)
		if !ok {
			return false
		}
		x, okx := new(big.Rat).SetString(string(a))
		y, oky := new(big.Rat).SetString(string(b))
		return okx && oky && x.Cmp(y) == 0
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !equalJSON(av, bv) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equalJSON(a[i], b[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}
