package schema

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Schema is one node of the subset of JSON Schema this package writes.
type Schema struct {
	Type                 []string           `json:"type,omitempty"`
	Format               string             `json:"format,omitempty"`
	Items                *Schema            `json:"items,omitempty"`
	Properties           map[string]*Schema `json:"properties,omitempty"`
	Required             []string           `json:"required,omitempty"`
	AdditionalProperties *Schema            `json:"additionalProperties,omitempty"`
	// Closed is "additionalProperties": false, which a *Schema cannot say.
	Closed bool `json:"-"`
}

// MarshalJSON writes "additionalProperties": false for a closed object and a
// single type as a string.
func (s *Schema) MarshalJSON() ([]byte, error) {
	type plain Schema
	out := struct {
		Type any `json:"type,omitempty"`
		*plain
		AdditionalProperties any `json:"additionalProperties,omitempty"`
	}{plain: (*plain)(s)}
	switch len(s.Type) {
	case 0:
	case 1:
		out.Type = s.Type[0]
	default:
		out.Type = s.Type
	}
	switch {
	case s.Closed:
		out.AdditionalProperties = false
	case s.AdditionalProperties != nil:
		out.AdditionalProperties = s.AdditionalProperties
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Schema) UnmarshalJSON(b []byte) error {
	type plain Schema
	var in struct {
		Type json.RawMessage `json:"type"`
		*plain
		AdditionalProperties json.RawMessage `json:"additionalProperties"`
	}
	in.plain = (*plain)(s)
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	s.Type = nil
	if len(in.Type) > 0 {
		var one string
		if json.Unmarshal(in.Type, &one) == nil {
			s.Type = []string{one}
		} else if err := json.Unmarshal(in.Type, &s.Type); err != nil {
			return fmt.Errorf("schema type: %w", err)
		}
	}
	s.AdditionalProperties, s.Closed = nil, false
	switch a := bytes.TrimSpace(in.AdditionalProperties); {
	case len(a) == 0, string(a) == "true":
	case string(a) == "false":
		s.Closed = true
	default:
		s.AdditionalProperties = new(Schema)
		if err := json.Unmarshal(a, s.AdditionalProperties); err != nil {
			return err
		}
	}
	return nil
}

// TypeName is t's name with its full package path, such as
// "github.com/acme/app.EmailArgs" or "*github.com/acme/app.EmailArgs";
// unnamed types are written as reflect writes them ("[]string").
func TypeName(t reflect.Type) string {
	switch {
	case t == nil:
		return "interface {}"
	case t.Name() != "" && t.PkgPath() != "":
		return t.PkgPath() + "." + t.Name()
	case t.Kind() == reflect.Pointer && t.Name() == "":
		return "*" + TypeName(t.Elem())
	}
	return t.String()
}

// For returns the schema of t, or nil when t accepts any JSON value (an
// interface, json.RawMessage, a type with its own UnmarshalJSON): then there
// is nothing to check.
func For(t reflect.Type) *Schema {
	s := forType(t, map[reflect.Type]bool{})
	if s.any() {
		return nil
	}
	return s
}

// any reports whether s accepts every value.
func (s *Schema) any() bool {
	return len(s.Type) == 0 && s.Format == "" && s.Items == nil && s.Properties == nil && s.AdditionalProperties == nil && !s.Closed
}

var (
	timeType            = reflect.TypeFor[time.Time]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func forType(t reflect.Type, seen map[reflect.Type]bool) *Schema {
	if t == timeType {
		return &Schema{Type: []string{"string"}, Format: "date-time"}
	}
	pt := reflect.PointerTo(t)
	switch {
	case t.Implements(jsonUnmarshalerType) || pt.Implements(jsonUnmarshalerType):
		return &Schema{}
	case t.Implements(textUnmarshalerType) || pt.Implements(textUnmarshalerType):
		return &Schema{Type: []string{"string"}}
	}
	switch t.Kind() {
	case reflect.Bool:
		return &Schema{Type: []string{"boolean"}}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return &Schema{Type: []string{"integer"}}
	case reflect.Float32, reflect.Float64:
		return &Schema{Type: []string{"number"}}
	case reflect.String:
		return &Schema{Type: []string{"string"}}
	case reflect.Pointer:
		return nullable(forType(t.Elem(), seen))
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !reflect.PointerTo(t.Elem()).Implements(textUnmarshalerType) {
			return &Schema{Type: []string{"string", "null"}} // base64
		}
		return nullable(&Schema{Type: []string{"array"}, Items: forType(t.Elem(), seen)})
	case reflect.Array:
		return &Schema{Type: []string{"array"}, Items: forType(t.Elem(), seen)}
	case reflect.Map:
		return nullable(&Schema{Type: []string{"object"}, AdditionalProperties: forType(t.Elem(), seen)})
	case reflect.Struct:
		if seen[t] {
			return &Schema{}
		}
		seen[t] = true
		defer delete(seen, t)
		s := &Schema{Type: []string{"object"}, Properties: map[string]*Schema{}, Closed: true}
		addFields(s, t, seen)
		return s
	}
	return &Schema{} // interfaces; channels, functions and complex numbers do not encode
}

// nullable adds null to the types s accepts; a schema accepting anything
// already does.
func nullable(s *Schema) *Schema {
	if len(s.Type) > 0 && !slices.Contains(s.Type, "null") {
		s.Type = append(s.Type, "null")
	}
	return s
}

// addFields adds the JSON fields of struct t to s: embedded structs without
// a json name are inlined, as encoding/json does; a field already there (an
// outer one) wins.
func addFields(s *Schema, t reflect.Type, seen map[reflect.Type]bool) {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct && !reflect.PointerTo(et).Implements(jsonUnmarshalerType) {
				if !seen[et] {
					seen[et] = true
					addFields(s, et, seen)
					delete(seen, et)
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, ok := s.Properties[name]; ok {
			continue
		}
		fs := forType(ft, seen)
		if hasOpt(opts, "string") {
			fs = &Schema{Type: []string{"string"}}
		}
		s.Properties[name] = fs
		if !hasOpt(opts, "omitempty") && !hasOpt(opts, "omitzero") {
			s.Required = append(s.Required, name)
		}
	}
	slices.Sort(s.Required)
}

func hasOpt(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// maxProblems is how many differences Check reports.
const maxProblems = 5

// Check reports how the JSON document doc differs from s: nil when it
// matches, otherwise an error listing up to five differences, each with its
// JSON path ("$.to", "$.items[2].id").
func Check(s *Schema, doc []byte) error {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	var c checker
	c.check(s, v, "$")
	switch {
	case len(c.problems) == 0:
		return nil
	case c.more > 0:
		return fmt.Errorf("%s; and %d more", strings.Join(c.problems, "; "), c.more)
	}
	return fmt.Errorf("%s", strings.Join(c.problems, "; "))
}

type checker struct {
	problems []string
	more     int
}

func (c *checker) add(format string, args ...any) {
	if len(c.problems) == maxProblems {
		c.more++
		return
	}
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *checker) check(s *Schema, v any, path string) {
	if s == nil || s.any() {
		return
	}
	if got := jsonType(v); len(s.Type) > 0 && !typeMatches(s.Type, got) {
		c.add("%s: want %s, got %s", path, strings.Join(s.Type, " or "), got)
		return
	}
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			c.check(s.Items, e, fmt.Sprintf("%s[%d]", path, i))
		}
	case map[string]any:
		for _, name := range s.Required {
			if _, ok := v[name]; !ok {
				c.add("%s: missing required field %q", path, name)
			}
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := path + "." + k
			if fs, ok := s.Properties[k]; ok {
				c.check(fs, v[k], p)
				continue
			}
			switch {
			case s.Closed:
				if near := c.nearest(s, k); near != "" {
					c.add("%s: unknown field %q (did you mean %q?)", path, k, near)
				} else {
					c.add("%s: unknown field %q", path, k)
				}
			case s.AdditionalProperties != nil:
				c.check(s.AdditionalProperties, v[k], p)
			}
		}
	}
}

// nearest is the property of s that k names in another letter case.
func (c *checker) nearest(s *Schema, k string) string {
	for name := range s.Properties {
		if strings.EqualFold(name, k) {
			return name
		}
	}
	return ""
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		if _, err := strconv.ParseInt(v.String(), 10, 64); err == nil {
			return "integer"
		}
		if _, err := strconv.ParseUint(v.String(), 10, 64); err == nil {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// typeMatches reports whether a value of JSON type got is one of want: an
// integer is also a number. A "date-time" is checked by its type only.
func typeMatches(want []string, got string) bool {
	if slices.Contains(want, got) {
		return true
	}
	return got == "integer" && slices.Contains(want, "number")
}
