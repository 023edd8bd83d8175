package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/dlq"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Inspect a dead-lettered task and replay it once its cause is fixed.
func ExampleInspector() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	srv, _ := embedded.Start(ctx)
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)

	charge := tasks.Define[int]("payment.charge")
	fixed := make(chan struct{})
	done := make(chan string)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, charge, func(ctx context.Context, t *tasks.Task[int]) error {
		select {
		case <-fixed:
			done <- t.ID
			return nil
		default:
			return tasks.Permanent(errors.New("card expired"))
		}
	})
	w, _ := consumer.New(js, reg, consumer.WithLogger(quiet))
	go func() { _ = w.Run(ctx) }()
	defer w.Shutdown(ctx)
	p, _ := producer.New(js, producer.WithLogger(quiet))
	_, _ = producer.Enqueue(ctx, p, charge, 4200, producer.WithID("order:7"))

	in, _ := dlq.NewInspector(js)
	var entries []dlq.Entry
	for len(entries) == 0 {
		time.Sleep(10 * time.Millisecond)
		entries, _ = in.List(ctx, dlq.Filter{Task: "payment.charge"})
	}
	e := entries[0]
	fmt.Printf("%s %s: %s (%s)\n", e.Task, e.ID, e.Reason, e.Error)

	close(fixed) // the customer updated their card
	if err := in.Replay(ctx, e.Seq); err != nil {
		panic(err)
	}
	fmt.Println("charged", <-done)
	// Output:
	// payment.charge order:7: permanent (permanent: card expired)
	// charged order:7
}
