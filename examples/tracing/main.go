package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/telemetry"
	"github.com/jetq/jetq/tracing"
)

// The payloads and task definitions, shared by producer and worker.
type (
	// EmailArgs is the payload of email.send.
	EmailArgs struct {
		To string `json:"to"`
	}
	// InvoiceArgs is the payload of invoice.render.
	InvoiceArgs struct {
		Order string `json:"order"`
	}
	// ChargeArgs is the payload of payment.capture.
	ChargeArgs struct {
		Card string `json:"card"`
	}
)

var (
	fast          = tasks.WithBackoff(tasks.Backoff{Initial: 100 * time.Millisecond, Jitter: -1})
	SendEmail     = tasks.Define[EmailArgs]("email.send")
	RenderInvoice = tasks.Define[InvoiceArgs]("invoice.render", tasks.WithMaxAttempts(3), fast)
	CapturePay    = tasks.Define[ChargeArgs]("payment.capture", tasks.WithMaxAttempts(3), fast)
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tracing example:", err)
		os.Exit(1)
	}
}

// run runs the example, printing what it did to out.
func run(out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

	// 1. Telemetry: OTLP when an endpoint is configured, else in memory.
	endpoint := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	var memory *tracetest.InMemoryExporter
	var shutdown func(context.Context) error
	disabled := strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true")
	switch {
	case disabled:
		// As the OpenTelemetry SDKs do: record nothing, export nothing.
		shutdown = func(context.Context) error { return nil }
	case endpoint != "":
		if _, set := os.LookupEnv("OTEL_METRICS_EXPORTER"); !set {
			// Jaeger stores traces only; OTEL_METRICS_EXPORTER=otlp sends the
			// metrics too, to a collector that takes them.
			os.Setenv("OTEL_METRICS_EXPORTER", "none")
		}
		var err error
		if shutdown, err = telemetry.Setup(ctx, "jetq-example"); err != nil {
			return err
		}
	default:
		memory = tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(memory))
		otel.SetTracerProvider(tp)
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
		shutdown = tp.Shutdown
	}
	defer shutdown(context.Background())
	tracer := otel.Tracer("example/http")

	// 2. An embedded NATS server.
	srv, err := embedded.Start(ctx)
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	nc, err := srv.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	// 3. Handlers, each with a span of its own under the process span.
	finished := make(chan string, 10)
	watch := func(next tasks.Handler) tasks.Handler {
		return func(ctx context.Context, env *tasks.Envelope) error {
			err := next(ctx, env)
			if a := env.Outcome.Action; a == tasks.ActionAck || a == tasks.ActionDeadLetter {
				finished <- env.Name + ": " + a.String()
			}
			return err
		}
	}
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, SendEmail, func(ctx context.Context, t *tasks.Task[EmailArgs]) error {
		_, span := tracer.Start(ctx, "smtp DATA", trace.WithSpanKind(trace.SpanKindClient))
		defer span.End()
		return nil
	})
	tasks.MustHandle(reg, RenderInvoice, func(ctx context.Context, t *tasks.Task[InvoiceArgs]) error {
		_, span := tracer.Start(ctx, "render pdf")
		defer span.End()
		if t.Attempt == 1 {
			return errors.New("template cache cold")
		}
		return nil
	})
	tasks.MustHandle(reg, CapturePay, func(ctx context.Context, t *tasks.Task[ChargeArgs]) error {
		_, span := tracer.Start(ctx, "POST /v1/charges", trace.WithSpanKind(trace.SpanKindClient))
		defer span.End()
		span.SetAttributes(attribute.Int("http.response.status_code", 402))
		return tasks.Permanent(errors.New("card declined"))
	})
	// The tracing middleware goes first, so that it sees the settlement last.
	w, err := consumer.New(js, reg, consumer.WithLogger(log),
		consumer.WithMiddleware(tracing.Consumer(), watch),
		consumer.WithDeadLetterMiddleware(tracing.DeadLetter()))
	if err != nil {
		return err
	}
	wctx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	workerDone := make(chan error, 1)
	go func() { workerDone <- w.Run(wctx) }()

	// 4. Two requests, each enqueueing inside its server span.
	p, err := producer.New(js, producer.WithLogger(log), producer.WithMiddleware(tracing.Producer()))
	if err != nil {
		return err
	}
	var traces []trace.SpanContext
	request := func(route string, enqueue func(ctx context.Context) error) error {
		rctx, span := tracer.Start(ctx, route, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		traces = append(traces, span.SpanContext())
		return enqueue(rctx)
	}
	if err := request("POST /signup", func(ctx context.Context) error {
		if _, err := producer.Enqueue(ctx, p, SendEmail, EmailArgs{To: "ada@example.com"}); err != nil {
			return err
		}
		_, err := producer.Enqueue(ctx, p, RenderInvoice, InvoiceArgs{Order: "o-1001"})
		return err
	}); err != nil {
		return err
	}
	if err := request("POST /checkout", func(ctx context.Context) error {
		_, err := producer.Enqueue(ctx, p, CapturePay, ChargeArgs{Card: "4000-0000-0000-0002"})
		return err
	}); err != nil {
		return err
	}

	// 5. Wait for the three tasks, then stop the worker so every span ends.
	for range 3 {
		select {
		case f := <-finished:
			fmt.Fprintln(out, "finished", f)
		case <-ctx.Done():
			return fmt.Errorf("tasks did not finish: %w", ctx.Err())
		}
	}
	stopWorker()
	if err := <-workerDone; err != nil {
		return err
	}

	// 6. Where to look. The in-memory exporter forgets its spans on
	// shutdown; the OTLP exporters send theirs then.
	fmt.Fprintln(out)
	if disabled {
		fmt.Fprintln(out, "no traces: OpenTelemetry is disabled (OTEL_SDK_DISABLED=true); unset it to record them")
		return nil
	}
	for _, sc := range traces {
		if memory != nil {
			fmt.Fprintf(out, "trace %s\n", sc.TraceID())
			printTrace(out, memory.GetSpans(), sc.TraceID())
		} else {
			fmt.Fprintf(out, "trace %s  http://localhost:16686/trace/%s\n", sc.TraceID(), sc.TraceID())
		}
	}
	if err := shutdown(ctx); err != nil {
		return err
	}
	if memory == nil {
		fmt.Fprintf(out, "exported to %s as service jetq-example\n", endpoint)
	}
	return nil
}

// printTrace prints the spans of one trace as a tree, children in start
// order, with the attempt and settlement of process spans.
func printTrace(out io.Writer, spans tracetest.SpanStubs, id trace.TraceID) {
	slices.SortFunc(spans, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
	children := map[trace.SpanID][]tracetest.SpanStub{}
	var roots []tracetest.SpanStub
	for _, s := range spans {
		switch {
		case s.SpanContext.TraceID() != id:
		case s.Parent.IsValid():
			children[s.Parent.SpanID()] = append(children[s.Parent.SpanID()], s)
		default:
			roots = append(roots, s)
		}
	}
	var show func(s tracetest.SpanStub, depth int)
	show = func(s tracetest.SpanStub, depth int) {
		var notes []string
		for _, kv := range s.Attributes {
			switch kv.Key {
			case "jetq.task.attempt":
				notes = append(notes, "attempt "+kv.Value.Emit())
			case "jetq.outcome", "jetq.dead_letter.reason":
				notes = append(notes, kv.Value.Emit())
			}
		}
		line := strings.Repeat("  ", depth+1) + s.Name
		if len(notes) > 0 {
			line += "  [" + strings.Join(notes, ", ") + "]"
		}
		fmt.Fprintf(out, "%-84s %6.1f ms\n", line, float64(s.EndTime.Sub(s.StartTime).Microseconds())/1000)
		for _, c := range children[s.SpanContext.SpanID()] {
			show(c, depth+1)
		}
	}
	for _, r := range roots {
		show(r, 0)
	}
}
