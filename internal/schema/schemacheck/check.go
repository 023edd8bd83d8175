package schemacheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/jetq/jetq/internal/schema"
)

// maxProblems is how many differences Check reports.
const maxProblems = 5

// ErrSchema is wrapped by Check's error when the schema itself cannot be
// read or compiled; the document was not checked.
var ErrSchema = errors.New("schemacheck: unusable schema")

// Check reports how the JSON document doc differs from the JSON Schema
// text: nil when it matches, otherwise an error listing up to five
// differences; an error wrapping [ErrSchema] when text is no usable schema.
func Check(text string, doc []byte) error {
	sch, err := compile(text)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSchema, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	err = sch.Validate(v)
	var ve *jsonschema.ValidationError
	if err == nil || !errors.As(err, &ve) {
		return err
	}
	var hints schema.Schema // for the field meant; none when unreadable
	_ = json.Unmarshal([]byte(text), &hints)
	var ps []problem
	for _, leaf := range leaves(ve, nil) {
		ps = append(ps, describe(leaf, v, &hints)...)
	}
	slices.SortStableFunc(ps, func(a, b problem) int {
		if c := strings.Compare(a.path, b.path); c != 0 {
			return c
		}
		return a.rank - b.rank
	})
	msgs := make([]string, 0, maxProblems)
	for _, p := range ps[:min(len(ps), maxProblems)] {
		msgs = append(msgs, p.path+": "+p.msg)
	}
	if more := len(ps) - maxProblems; more > 0 {
		return fmt.Errorf("%s; and %d more", strings.Join(msgs, "; "), more)
	}
	return errors.New(strings.Join(msgs, "; "))
}

// compile compiles the schema text as draft 2020-12, which package schema
// writes.
func compile(text string) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	const url = "jetq:payload.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// problem is one difference: where, how bad a kind (missing fields before
// unknown ones at one path), and what.
type problem struct {
	path string
	rank int
	msg  string
}

// leaves are the errors of ve without causes: the differences themselves.
func leaves(ve *jsonschema.ValidationError, out []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		return append(out, ve)
	}
	for _, c := range ve.Causes {
		out = leaves(c, out)
	}
	return out
}

// printer words the validator's own messages for the kinds not told apart.
var printer = message.NewPrinter(language.English)

// describe words one difference in the document doc.
func describe(ve *jsonschema.ValidationError, doc any, hints *schema.Schema) []problem {
	path, v, s := locate(ve.InstanceLocation, doc, hints)
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		out := make([]problem, len(k.Missing))
		for i, name := range k.Missing {
			out[i] = problem{path, 0, fmt.Sprintf("missing required field %q", name)}
		}
		return out
	case *kind.AdditionalProperties:
		out := make([]problem, len(k.Properties))
		for i, name := range k.Properties {
			msg := fmt.Sprintf("unknown field %q", name)
			if near := nearest(s, name); near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", near)
			}
			out[i] = problem{path, 1, msg}
		}
		return out
	case *kind.Type:
		return []problem{{path, 2, fmt.Sprintf("want %s, got %s", strings.Join(k.Want, " or "), jsonType(v))}}
	}
	return []problem{{path, 3, ve.ErrorKind.LocalizedString(printer)}}
}

// locate follows the instance location tokens through the document and the
// schema, and returns the location as a JSON path ("$.items[2].id"), the
// value there and its schema (nil when unknown).
func locate(tokens []string, doc any, s *schema.Schema) (string, any, *schema.Schema) {
	path := "$"
	for _, tok := range tokens {
		switch d := doc.(type) {
		case []any:
			i, _ := strconv.Atoi(tok)
			path += "[" + tok + "]"
			if i >= 0 && i < len(d) {
				doc = d[i]
			}
			if s != nil {
				s = s.Items
			}
		case map[string]any:
			path += "." + tok
			doc = d[tok]
			if s != nil {
				if fs, ok := s.Properties[tok]; ok {
					s = fs
				} else {
					s = s.AdditionalProperties
				}
			}
		}
	}
	return path, doc, s
}

// nearest is the property of s that k names in another letter case.
func nearest(s *schema.Schema, k string) string {
	if s == nil {
		return ""
	}
	for name := range s.Properties {
		if strings.EqualFold(name, k) {
			return name
		}
	}
	return ""
}

// jsonType is the JSON type of a value read with json.Number: an integer
// is told from another number.
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
