package schema

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
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
