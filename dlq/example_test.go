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
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)
	srv, err := embedded.Start(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown()
	connect := func() (*nats.Conn, jetstream.JetStream) {
		nc, err := srv.Connect()
		if err != nil {
			log.Fatal(err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			log.Fatal(err)
		}
		return nc, js
	}
	nc, js := connect()
	defer nc.Close()

	f, err := dlq.NewForwarder(js, dlq.WithLogger(quiet)) // dlq.WithReplicas(3) in a cluster
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = f.Run(ctx) }() // cancel ctx to stop it

	// A worker that dies in the middle of the task's only attempt.
	resize := tasks.Define[string]("image.resize", tasks.WithMaxAttempts(1), tasks.WithAckWait(time.Second))
	wnc, wjs := connect()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, resize, func(ctx context.Context, t *tasks.Task[string]) error {
		wnc.Close() // the process is killed: no ack, no record
		return nil
	})
	w, err := consumer.New(wjs, reg, consumer.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = w.Run(ctx) }()
	p, err := producer.New(js, producer.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := producer.Enqueue(ctx, p, resize, "cat.png", producer.WithID("resize:cat")); err != nil {
		log.Fatal(err)
	}

	in, err := dlq.NewInspector(js)
	if err != nil {
		log.Fatal(err)
	}
	var entries []dlq.Entry
	for len(entries) == 0 && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond) // about an ack wait after the worker died
		if entries, err = in.List(ctx, dlq.Filter{}); err != nil {
			log.Fatal(err)
		}
	}
	if len(entries) == 0 {
		log.Fatal("the task was never dead-lettered")
	}
	fmt.Println(entries[0].ID, entries[0].Reason, string(entries[0].Payload))
	// Output:
	// resize:cat max_deliveries "cat.png"
}

// Page through the newest records of one task, a page at a time.
func ExampleInspector_List() {
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
	send := tasks.Define[string]("email.send")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, send, func(ctx context.Context, t *tasks.Task[string]) error {
		return tasks.Permanent(fmt.Errorf("no mailbox %s", t.Payload))
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
	in, err := dlq.NewInspector(js)
	if err != nil {
		log.Fatal(err)
	}
	for i, to := range []string{"ada", "bob", "cy", "dee", "eve"} {
		if _, err := producer.Enqueue(ctx, p, send, to, producer.WithID("mail:"+to)); err != nil {
			log.Fatal(err)
		}
		// Filed one after the other: wait for this one's record.
		for st, _ := in.Stats(ctx); st.Total <= i && ctx.Err() == nil; st, _ = in.Stats(ctx) {
			time.Sleep(5 * time.Millisecond)
		}
	}

	f := dlq.Filter{Task: "email.send", Order: dlq.NewestFirst, Limit: 2}
	for n := 1; ; n++ {
		page, err := in.List(ctx, f)
		if err != nil {
			log.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		fmt.Print("page ", n, ":")
		for _, e := range page {
			fmt.Print(" ", e.ID, " (", e.Error, ")")
		}
		fmt.Println()
		f.After = page[len(page)-1].Seq
	}
	// Output:
	// page 1: mail:eve (permanent: no mailbox eve) mail:dee (permanent: no mailbox dee)
	// page 2: mail:cy (permanent: no mailbox cy) mail:bob (permanent: no mailbox bob)
	// page 3: mail:ada (permanent: no mailbox ada)
}
