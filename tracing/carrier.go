package tracing

import (
	"go.opentelemetry.io/otel/propagation"

	"github.com/jetq/jetq/tasks"
)

// HeaderCarrier adapts a task header to propagation.TextMapCarrier with the
// keys exactly as propagators name them: "traceparent", "tracestate" and
// "baggage" stay lower-case, as non-Go NATS clients look them up.
// propagation.HeaderCarrier would not do: it canonicalises keys the way
// http.Header does ("Traceparent"), and NATS headers are case-sensitive.
//
// Set on a nil HeaderCarrier panics, as assigning to a nil map does. It is
// as safe for concurrent use as the map it wraps.
type HeaderCarrier tasks.Header

var (
	_ propagation.TextMapCarrier = HeaderCarrier{}
	_ propagation.ValuesGetter   = HeaderCarrier{}
)

// Get returns the first value of key, or "" when there is none.
func (c HeaderCarrier) Get(key string) string { return tasks.Header(c).Get(key) }

// Values returns every value of key.
func (c HeaderCarrier) Values(key string) []string { return tasks.Header(c).Values(key) }

// Set replaces the values of key with value.
func (c HeaderCarrier) Set(key, value string) { tasks.Header(c).Set(key, value) }

// Keys returns the header's keys, in no particular order.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// ReplayHeader marks a task put back on its work subject from the
// dead-letter stream; whatever replays it sets it, to the record's ID such
// as "JETQ_TASKS:42", and keeps the original headers, trace context
// included. [Consumer] processes a task carrying ReplayHeader in a
// span of its own, linked to the original trace rather than inside it, as if
// [WithLinkOnly] were given: the original trace has ended with the
// dead-lettering, and a replay may come days later.
const ReplayHeader = "Jetq-Replay-Of"
