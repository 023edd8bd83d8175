package schemacheck

import (
	"errors"
	"strings"
	"testing"
)

// argsSchema is what package schema writes for a struct with an embedded
// struct's id, strings, a []string, an int, a float, a time.Time, a
// pointer to a struct, a map, a ",string" int64, an interface and a
// pointer to itself (recursion: {}), as a worker records it.
const argsSchema = `{"type":"object","properties":{"addr":{"type":["object","null"],"properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false},"at":{"type":"string","format":"date-time"},"big":{"type":"string"},"cc":{"type":["array","null"],"items":{"type":"string"}},"count":{"type":"integer"},"extra":{},"id":{"type":"string"},"labels":{"type":["object","null"],"additionalProperties":{"type":"string"}},"next":{},"ratio":{"type":"number"},"to":{"type":"string"}},"required":["count","id","to"],"additionalProperties":false}`

// intsSchema is what package schema writes for []int.
const intsSchema = `{"type":["array","null"],"items":{"type":"integer"}}`

func TestCheck(t *testing.T) {
	t.Parallel()
	s := argsSchema
	for _, tc := range []struct {
		doc  string
		want string // "" when valid
	}{
		{`{"id":"1","to":"a@b","count":2}`, ""},
		{`{"id":"1","to":"a@b","count":2,"cc":["x"],"ratio":1,"at":"2026-01-01T00:00:00Z","addr":{"city":"Oslo"},"labels":{"a":"b"},"big":"12","extra":[1],"next":{"id":"2","to":"c","count":0,"next":null}}`, ""},
		{`{"id":"1","to":"a@b","count":2,"cc":null,"addr":null}`, ""},
		{`{"id":"1","to":"a@b"}`, `$: missing required field "count"`},
		{`{"id":"1","to":"a@b","count":2,"too":1}`, `$: unknown field "too"`},
		{`{"id":"1","To":"a@b","count":2}`, `$: missing required field "to"; $: unknown field "To" (did you mean "to"?)`},
		{`{"id":"1","to":5,"count":2.5}`, `$.count: want integer, got number; $.to: want string, got integer`},
		{`{"id":"1","to":"x","count":1,"cc":[1],"addr":{"city":"O","zip":1},"labels":{"a":1}}`, `$.addr: unknown field "zip"; $.cc[0]: want string, got integer; $.labels.a: want string, got integer`},
		{`[]`, `$: want object, got array`},
		{`{"to":null,"id":"1","count":1}`, `$.to: want string, got null`},
	} {
		err := Check(s, []byte(tc.doc))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Check(%s): %v", tc.doc, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("Check(%s) = %v, want %q", tc.doc, err, tc.want)
		}
	}
	if err := Check(s, []byte(`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}`)); err == nil || !strings.HasSuffix(err.Error(), "and 4 more") {
		t.Errorf("many problems: %v", err)
	}
	if err := Check(intsSchema, []byte(`[1,"a"]`)); err == nil || err.Error() != `$[1]: want integer, got string` {
		t.Errorf("[]int schema and a string element: %v", err)
	}
	if err := Check(`{"type": 5}`, []byte(`{}`)); !errors.Is(err, ErrSchema) {
		t.Errorf("an unusable schema: %v, want ErrSchema", err)
	}
	if err := Check(s, []byte(`{"id":`)); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("a document that is not JSON: %v", err)
	}
}
