package consumer_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// A handler whose input is not there yet snoozes its task instead of
// failing it: a task of two attempts waits three times and still runs as
// its first attempt.
func Example_snooze() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	srv, _ := embedded.Start(ctx)
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)

	report := tasks.Define[string]("report.build", tasks.WithMaxAttempts(2))
	done := make(chan struct{})
	checks := 0
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, report, func(ctx context.Context, t *tasks.Task[string]) error {
		if checks++; checks <= 3 {
			fmt.Printf("attempt %d: %s not uploaded yet; again in a moment\n", t.Attempt, t.Payload)
			return tasks.Snooze(100 * time.Millisecond)
		}
		fmt.Printf("attempt %d: built the report from %s\n", t.Attempt, t.Payload)
		close(done)
		return nil
	})

	p, _ := producer.New(js, producer.WithLogger(quiet))
	if _, err := producer.Enqueue(ctx, p, report, "sales.csv"); err != nil {
		panic(err)
	}
	w, _ := consumer.New(js, reg, consumer.WithLogger(quiet))
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error)
	go func() { stopped <- w.Run(runCtx) }()
	<-done
	stop()
	<-stopped

	// Output:
	// attempt 1: sales.csv not uploaded yet; again in a moment
	// attempt 1: sales.csv not uploaded yet; again in a moment
	// attempt 1: sales.csv not uploaded yet; again in a moment
	// attempt 1: built the report from sales.csv
}
