package schema

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

type Address struct {
	City string `json:"city"`
}

type Base struct {
	ID string `json:"id"`
}

type Args struct {
	Base
	To      string            `json:"to"`
	CC      []string          `json:"cc,omitempty"`
	Count   int               `json:"count"`
	Ratio   float64           `json:"ratio,omitzero"`
	At      time.Time         `json:"at,omitempty"`
	Addr    *Address          `json:"addr,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Big     int64             `json:"big,string,omitempty"`
	Extra   any               `json:"extra,omitempty"`
	Skipped string            `json:"-"`
	hidden  string
	Next    *Args `json:"next,omitempty"`
}

func TestTypeName(t *testing.T) {
	for _, tc := range []struct {
		t    reflect.Type
		want string
	}{
		{reflect.TypeFor[Args](), "github.com/jetq/jetq/internal/schema.Args"},
		{reflect.TypeFor[*Args](), "*github.com/jetq/jetq/internal/schema.Args"},
		{reflect.TypeFor[[]string](), "[]string"},
		{reflect.TypeFor[json.RawMessage](), "encoding/json.RawMessage"},
		{reflect.TypeFor[int](), "int"},
	} {
		if got := TypeName(tc.t); got != tc.want {
			t.Errorf("TypeName(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}

func TestForAndCheck(t *testing.T) {
	s := For(reflect.TypeFor[Args]())
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Schema
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if b2, _ := json.Marshal(&back); string(b2) != string(b) {
		t.Fatalf("schema does not round trip:\n%s\n%s", b, b2)
	}
	if !strings.Contains(string(b), `"required":["count","id","to"]`) || !strings.Contains(string(b), `"additionalProperties":false`) {
		t.Errorf("schema: %s", b)
	}
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
}

func TestForAcceptsAnything(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[json.RawMessage](), reflect.TypeFor[any]()} {
		if s := For(typ); s != nil {
			t.Errorf("For(%v) = %+v, want nil", typ, s)
		}
	}
	if s := For(reflect.TypeFor[[]int]()); s == nil || Check(s, []byte(`[1,"a"]`)) == nil {
		t.Errorf("[]int schema %+v accepts a string element", s)
	}
}
