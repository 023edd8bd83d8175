package workflow_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/workflow"
)

var (
	double = tasks.DefineResult[int, int]("example.double")
	report = tasks.Define[string]("example.report")
)

// A chord: three members run in parallel, and the callback reads their
// results in member order once all have succeeded.
func ExampleChord() {
	ctx := context.Background()
	srv, _ := embedded.Start(ctx)
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)
	quiet := slog.New(slog.DiscardHandler)

	done := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandleResult(reg, double, func(ctx context.Context, t *tasks.Task[int]) (int, error) {
		return 2 * t.Payload, nil
	})
	tasks.MustHandle(reg, report, func(ctx context.Context, t *tasks.Task[string]) error {
		results, err := workflow.Results[int](ctx)
		fmt.Println(t.Payload, results, err)
		close(done)
		return nil
	})
	w, _ := consumer.New(js, reg, consumer.WithLogger(quiet))
	go func() { _ = w.Run(ctx) }()
	defer w.Shutdown(ctx)
	p, _ := producer.New(js, producer.WithLogger(quiet))

	chord := workflow.Chord("doubles",
		[]workflow.Step{workflow.Task("one", double, 1), workflow.Task("two", double, 2), workflow.Task("three", double, 3)},
		workflow.Task("report", report, "doubled:"),
	).With(workflow.WithID("doubles-1"), workflow.Force()) // Force: the worker is still starting
	run, err := workflow.Start(ctx, p, chord)
	fmt.Println(run.ID, err)
	<-done
	// Output:
	// doubles-1 <nil>
	// doubled: [2 4 6] <nil>
}
