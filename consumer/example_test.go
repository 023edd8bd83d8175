package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// A worker retries a failing task with backoff until it succeeds, and
// stops gracefully when its ctx is cancelled.
func ExampleWorker_Run() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	srv, _ := embedded.Start(ctx)
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)

	resize := tasks.Define[string]("image.resize",
		tasks.WithMaxAttempts(5), tasks.WithBackoff(tasks.Backoff{Initial: 50 * time.Millisecond}))
	done := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, resize, func(ctx context.Context, t *tasks.Task[string]) error {
		if t.Attempt < 3 {
			fmt.Printf("attempt %d: storage busy\n", t.Attempt)
			return errors.New("storage busy")
		}
		fmt.Printf("attempt %d: resized %s\n", t.Attempt, t.Payload)
		close(done)
		return nil
	})

	p, _ := producer.New(js, producer.WithLogger(quiet))
	if _, err := producer.Enqueue(ctx, p, resize, "cat.png"); err != nil {
		panic(err)
	}
	w, _ := consumer.New(js, reg, consumer.WithConcurrency(4), consumer.WithLogger(quiet))
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error)
	go func() { stopped <- w.Run(runCtx) }()
	<-done
	stop()
	fmt.Println("Run returned", <-stopped)

	// Output:
	// attempt 1: storage busy
	// attempt 2: storage busy
	// attempt 3: resized cat.png
	// Run returned <nil>
}
