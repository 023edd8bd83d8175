package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/dlq"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Inspect a dead-lettered task and replay it once its cause is fixed.
func ExampleInspector() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)
	srv, err := embedded.Start(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := srv.Connect()
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}

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
	if _, err := producer.Enqueue(ctx, p, charge, 4200, producer.WithID("order:7")); err != nil {
		log.Fatal(err)
	}

	in, err := dlq.NewInspector(js)
	if err != nil {
		log.Fatal(err)
	}
	var entries []dlq.Entry
	for len(entries) == 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond) // the worker files the record as it settles the task
		if entries, err = in.List(ctx, dlq.Filter{Task: "payment.charge"}); err != nil {
			log.Fatal(err)
		}
	}
	if len(entries) == 0 {
		log.Fatal("the task was never dead-lettered")
	}
	e := entries[0]
	fmt.Printf("%s %s: %s after %d delivery (%s)\n", e.Task, e.ID, e.Reason, e.Deliveries, e.Error)

	close(fixed) // the customer updated their card
	if err := in.Replay(ctx, e.Seq); err != nil {
		log.Fatal(err)
	}
	fmt.Println("charged", <-done)
	// Output:
	// payment.charge order:7: permanent after 1 delivery (permanent: card expired)
	// charged order:7
}

// Run a forwarder next to the workers, so that tasks whose worker died on
// their last attempt are dead-lettered too. Workers can run it themselves
// instead: consumer.WithForwarder().
func ExampleForwarder() {
	ctx := context.Background() // cancel it to stop the forwarder
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	f, err := dlq.NewForwarder(js, dlq.WithReplicas(3))
	if err != nil {
		log.Fatal(err)
	}
	if err := f.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// Page through the newest records of one task, a page at a time.
func ExampleInspector_List() {
	var (
		ctx = context.Background()
		in  *dlq.Inspector // from dlq.NewInspector
	)
	f := dlq.Filter{Task: "email.send", Order: dlq.NewestFirst, Limit: 50}
	for {
		page, err := in.List(ctx, f)
		if err != nil || len(page) == 0 {
			return
		}
		for _, e := range page {
			fmt.Println(e.Seq, e.FailedAt, e.Reason, e.Error)
		}
		f.After = page[len(page)-1].Seq
	}
}
