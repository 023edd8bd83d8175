// Package schema describes a payload's Go type as a small JSON Schema, so
// that a tool without the Go type (the jetq command line) can refuse the
// payloads a producer could not have written; package schemacheck checks
// documents against it.
//
// The schemas are a subset of JSON Schema (draft 2020-12), derived from the
// Go type the way encoding/json reads and writes it:
//
//   - bool is "boolean", integers are "integer", floats are "number",
//     strings, []byte and types that unmarshal from text are "string",
//     time.Time is a "string" with format "date-time";
//   - slices and arrays are "array" with "items"; maps are "object" with
//     "additionalProperties";
//   - a struct is an "object" whose "properties" are its exported fields
//     under their json names (json:"-" skipped, fields of embedded structs
//     inlined), with "additionalProperties": false; a field is "required"
//     unless its tag says omitempty or omitzero, since encoding/json always
//     writes such a field, so every payload a producer encodes has it;
//   - pointers, slices, maps and interfaces also accept null;
//   - interfaces, types with their own UnmarshalJSON, and a type met again
//     inside itself (recursion) accept anything: {}.
//
// The generator is this package's own rather than
// github.com/invopop/jsonschema: that module would add five modules (a YAML
// v4 release candidate among them) and about 0.64 MB to every program that
// defines a task, and writes $defs and $ref that the schemas recorded on
// consumers so far do not use. Field names match exactly, where
// encoding/json would also accept another letter case.
package schema
