package tracing_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/tracing"
)

// A task enqueued inside a request is processed in the request's trace:
// its send span, one process span per attempt, and the handler's own spans
// under each attempt. In a real program, telemetry.Setup installs the
// providers and the middlewares need no options.
func Example() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	srv, _ := embedded.Start(ctx)
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)

	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	opts := []tracing.Option{tracing.WithTracerProvider(tp), tracing.WithPropagators(propagation.TraceContext{})}

	thumbnail := tasks.Define[string]("image.thumbnail",
		tasks.WithBackoff(tasks.Backoff{Initial: 20 * time.Millisecond}))
	done := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, thumbnail, func(ctx context.Context, t *tasks.Task[string]) error {
		_, span := tp.Tracer("app").Start(ctx, "resize "+t.Payload)
		defer span.End()
		if t.Attempt == 1 {
			return errors.New("storage busy")
		}
		close(done)
		return nil
	})
	w, _ := consumer.New(js, reg, consumer.WithLogger(quiet), consumer.WithMiddleware(tracing.Consumer(opts...)))
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error)
	go func() { stopped <- w.Run(runCtx) }()

	p, _ := producer.New(js, producer.WithLogger(quiet), producer.WithMiddleware(tracing.Producer(opts...)))
	reqCtx, req := tp.Tracer("app").Start(ctx, "POST /photos")
	if _, err := producer.Enqueue(reqCtx, p, thumbnail, "cat.png"); err != nil {
		panic(err)
	}
	req.End()
	<-done
	stop()
	<-stopped

	printTree(spans.GetSpans())

	// Output:
	// POST /photos
	//   send jetq.task.default.image.thumbnail
	//     process jetq.task.default.image.thumbnail [retry]
	//       resize cat.png
	//     process jetq.task.default.image.thumbnail [ack]
	//       resize cat.png
}

// printTree prints spans indented under their parents, in start order, with
// the jetq.outcome of process spans.
func printTree(spans tracetest.SpanStubs) {
	slices.SortFunc(spans, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
	depth := map[trace.SpanID]int{}
	for _, s := range spans {
		d := 0
		if s.Parent.IsValid() {
			d = depth[s.Parent.SpanID()] + 1
		}
		depth[s.SpanContext.SpanID()] = d
		line := strings.Repeat("  ", d) + s.Name
		for _, kv := range s.Attributes {
			if kv.Key == "jetq.outcome" {
				line += " [" + kv.Value.AsString() + "]"
			}
		}
		fmt.Println(line)
	}
}
