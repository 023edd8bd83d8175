package telemetry

import (
	"context"
	"errors"
	"fmt"
	"sync"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// exportErrors keeps count of one signal's failed exports. The SDK's batch
// span processor and periodic metric reader pass those errors to otel.Handle
// only, so without it an unreachable collector would go unreported by
// shutdown. It is safe for concurrent use.
type exportErrors struct {
	signal string // "span" or "metric"

	mu       sync.Mutex
	exports  int   // since the last report
	failures int   // of them
	lost     int   // spans in the failed exports; 0 for metrics
	last     error // the last failure's
}

// done records one export of n items that returned err.
func (e *exportErrors) done(n int, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.exports++
	if err != nil {
		e.failures++
		e.lost += n
		e.last = err
	}
}

// report returns err, what the SDK's own flush or shutdown returned, and the
// failures since the last report, which it then forgets; nil when there were
// none and err is nil. err is left out when it is the last failure: the SDK
// returns the error of an export it ran itself, already counted here.
func (e *exportErrors) report(err error) error {
	e.mu.Lock()
	exports, failures, lost, last := e.exports, e.failures, e.lost, e.last
	e.exports, e.failures, e.lost, e.last = 0, 0, 0, nil
	e.mu.Unlock()
	if failures == 0 {
		return err
	}
	var summary error
	if lost > 0 {
		summary = fmt.Errorf("%d of %s failed, losing %s; the last: %w",
			failures, plural(exports, e.signal+" export"), plural(lost, e.signal), last)
	} else {
		summary = fmt.Errorf("%d of %s failed; the last: %w", failures, plural(exports, e.signal+" export"), last)
	}
	if err == nil || errors.Is(err, last) {
		return summary
	}
	return errors.Join(err, summary)
}

// plural is n and noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// spanExporter records the outcome of every export in errs.
type spanExporter struct {
	sdktrace.SpanExporter
	errs *exportErrors
}

func (e spanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	e.errs.done(len(spans), err)
	return err
}

// flushReporter is a span processor whose ForceFlush also returns the
// export failures since the previous one, so that
// TracerProvider.ForceFlush does not report success while spans are lost.
type flushReporter struct {
	sdktrace.SpanProcessor
	errs *exportErrors
}

func (p flushReporter) ForceFlush(ctx context.Context) error {
	if err := p.errs.report(p.SpanProcessor.ForceFlush(ctx)); err != nil {
		return fmt.Errorf("telemetry: force flush: %w", err)
	}
	return nil
}

// metricExporter records the outcome of every export in errs.
type metricExporter struct {
	sdkmetric.Exporter
	errs *exportErrors
}

func (e metricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := e.Exporter.Export(ctx, rm)
	e.errs.done(0, err)
	return err
}
