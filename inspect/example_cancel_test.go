package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Cancel stops a running task on whichever worker runs it: its handler's
// ctx ends with cause tasks.ErrCancelled, and the task reads status
// cancelled, neither retried nor dead-lettered. A task cancelled already,
// or an unknown ID, is refused.
func ExampleInspector_Cancel_running() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)
	js, stop := connect(ctx)
	defer stop()

	export := tasks.Define[string]("report.export", tasks.WithStateTracking())
	started, stopped := make(chan struct{}), make(chan error, 1)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, export, func(ctx context.Context, t *tasks.Task[string]) error {
		close(started)
		<-ctx.Done() // a long export, checking its ctx
		stopped <- context.Cause(ctx)
		return ctx.Err()
	})
	w, err := consumer.New(js, reg, consumer.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = w.Run(ctx) }()
	defer w.Shutdown(ctx)
	p, err := producer.New(js, producer.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := producer.Enqueue(ctx, p, export, "2026 sales", producer.WithID("export:7")); err != nil {
		log.Fatal(err)
	}
	<-started

	in, err := inspect.New(js, inspect.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	if err := in.Cancel(ctx, inspect.Ref{ID: "export:7"}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("handler stopped:", errors.Is(<-stopped, tasks.ErrCancelled))
	st, err := in.WaitStatus(ctx, "export:7")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("status:", st.State)
	fmt.Println("again:", errors.Is(in.Cancel(ctx, inspect.Ref{ID: "export:7"}), inspect.ErrMovedOn))
	fmt.Println("unknown:", errors.Is(in.Cancel(ctx, inspect.Ref{ID: "export:8"}), inspect.ErrNotFound))
	// Output:
	// handler stopped: true
	// status: cancelled
	// again: true
	// unknown: true
}
