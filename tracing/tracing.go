package tracing

// ScopeName is the instrumentation scope of the tracer and meter this
// package uses: its import path, as OpenTelemetry contrib instrumentations do.
const ScopeName = "github.com/jetq/jetq/tracing"

// Version is the instrumentation scope version reported with ScopeName. It
// changes when the spans or metrics this package emits change.
const Version = "0.1.0"
