package tracing_test

import (
	"context"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/tracing"
)

func TestHeaderCarrierKeepsKeysLowerCase(t *testing.T) {
	t.Parallel()
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	member, _ := baggage.NewMember("tenant", "acme")
	bag, _ := baggage.New(member)
	ctx := baggage.ContextWithBaggage(trace.ContextWithSpanContext(context.Background(), sc), bag)

	h := tasks.Header{"Jetq-Id": {"42"}}
	propagators.Inject(ctx, tracing.HeaderCarrier(h))

	if got, want := h.Get("traceparent"), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"; got != want {
		t.Errorf("traceparent: got %q, want %q", got, want)
	}
	if got := h.Get("baggage"); got != "tenant=acme" {
		t.Errorf("baggage: got %q, want tenant=acme", got)
	}
	for _, k := range []string{"Traceparent", "Baggage"} {
		if _, ok := h[k]; ok {
			t.Errorf("header has canonicalised key %q", k)
		}
	}
	keys := tracing.HeaderCarrier(h).Keys()
	slices.Sort(keys)
	if want := []string{"Jetq-Id", "baggage", "traceparent"}; !slices.Equal(keys, want) {
		t.Errorf("keys: got %v, want %v", keys, want)
	}

	out := propagators.Extract(context.Background(), tracing.HeaderCarrier(h))
	if got := trace.SpanContextFromContext(out); !got.Equal(sc.WithRemote(true)) {
		t.Errorf("extracted %v, want %v", got, sc)
	}
	if got := baggage.FromContext(out).Member("tenant").Value(); got != "acme" {
		t.Errorf("extracted baggage tenant=%q, want acme", got)
	}
}

func TestHeaderCarrierGetAndValues(t *testing.T) {
	t.Parallel()
	c := tracing.HeaderCarrier{"baggage": {"a=1", "b=2"}}
	for _, tc := range []struct {
		key        string
		get        string
		values     []string
		explaining string
	}{
		{"baggage", "a=1", []string{"a=1", "b=2"}, "first of several"},
		{"Baggage", "", nil, "keys are case-sensitive"},
		{"traceparent", "", nil, "absent"},
	} {
		if got := c.Get(tc.key); got != tc.get {
			t.Errorf("Get(%q) (%s): got %q, want %q", tc.key, tc.explaining, got, tc.get)
		}
		if got := c.Values(tc.key); !slices.Equal(got, tc.values) {
			t.Errorf("Values(%q) (%s): got %q, want %q", tc.key, tc.explaining, got, tc.values)
		}
	}
	c.Set("baggage", "c=3")
	if got := c.Values("baggage"); !slices.Equal(got, []string{"c=3"}) {
		t.Errorf("after Set: got %q, want [c=3]", got)
	}
}

func TestReplayHeaderIsTheWireHeader(t *testing.T) {
	t.Parallel()
	if tracing.ReplayHeader != wire.HeaderReplayOf {
		t.Errorf("tracing.ReplayHeader %q, wire.HeaderReplayOf %q: a replay would not be recognised", tracing.ReplayHeader, wire.HeaderReplayOf)
	}
}
