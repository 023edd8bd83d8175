// Package schemacheck checks JSON documents against the JSON Schemas that
// package schema derives from Go payload types, with a standard validator
// (github.com/santhosh-tekuri/jsonschema/v6, draft 2020-12), and words the
// differences for a person: unknown fields (with the field meant when only
// the letter case differs), missing required fields and values of the
// wrong JSON type, each with its JSON path ("$.to", "$.items[2].id").
//
// It is apart from package schema so that only the jetq command line, which
// checks payloads, links the validator; every program that defines a task
// derives schemas.
package schemacheck
