package schema

import (
	"encoding/json"
	"reflect"
	"slices"
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

func TestFor(t *testing.T) {
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
}

func TestForAcceptsAnything(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[json.RawMessage](), reflect.TypeFor[any]()} {
		if s := For(typ); s != nil {
			t.Errorf("For(%v) = %+v, want nil", typ, s)
		}
	}
	if s := For(reflect.TypeFor[[]int]()); s == nil || s.Items == nil || !slices.Equal(s.Items.Type, []string{"integer"}) {
		t.Errorf("[]int schema %+v: want items of type integer", s)
	}
}
