package dlq_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/dlq"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

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

	f, err := dlq.NewForwarder(js, dlq.WithLogger(quiet)) // dlq.WithTopology(topology.Topology{Replicas: 3}) in a cluster
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

	in, err := inspect.New(js)
	if err != nil {
		log.Fatal(err)
	}
	var entries []inspect.DeadLetter
	for len(entries) == 0 && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond) // about an ack wait after the worker died
		if entries, err = in.DeadLetters(ctx, inspect.DeadLetterFilter{}); err != nil {
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
