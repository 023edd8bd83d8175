package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// A task whose first attempt failed waits out its backoff in the retrying
// list, with its attempt, its next attempt and its last error; RetryNow
// runs it now, as its second attempt.
func ExampleInspector_RetryNow() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	srv, err := embedded.Start(ctx)
	if err != nil {
		panic(err)
	}
	defer srv.Shutdown()
	nc, _ := srv.Connect()
	defer nc.Close()
	js, _ := jetstream.New(nc)

	charge := tasks.Define[Invoice]("invoice.charge")
	charged := make(chan string)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, charge, func(ctx context.Context, t *tasks.Task[Invoice]) error {
		if t.Attempt == 1 {
			return tasks.RetryAfter(time.Hour, errors.New("card declined"))
		}
		charged <- fmt.Sprintf("attempt %d charged %s", t.Attempt, t.Payload.Customer)
		return nil
	})
	w, _ := consumer.New(js, reg, consumer.WithLogger(quiet), consumer.WithPresenceInterval(100*time.Millisecond))
	wctx, stop := context.WithCancel(ctx)
	ran := make(chan error)
	go func() { ran <- w.Run(wctx) }()
	defer func() { stop(); <-ran }()
	p, _ := producer.New(js, producer.WithLogger(quiet))
	if _, err := producer.Enqueue(ctx, p, charge, Invoice{Customer: "ada", Cents: 1200}, producer.WithID("charge-1")); err != nil {
		panic(err)
	}

	in, _ := inspect.New(js, inspect.WithLogger(quiet))
	// The worker lists the retry it set in its next presence write.
	var t inspect.TaskInfo
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for deadline := time.Now().Add(10 * time.Second); t.Attempt == 0; <-poll.C {
		page, err := in.Tasks(ctx, inspect.Query{State: inspect.Retrying, Task: "invoice.charge"})
		if err != nil || time.Now().After(deadline) {
			panic(fmt.Sprint("not listed as retrying: ", err))
		}
		if len(page.Tasks) == 1 {
			t = page.Tasks[0]
		}
	}
	fmt.Printf("%s: attempt %d failed (%s), next in %v\n", t.ID, t.Attempt, t.LastError, time.Until(t.NextAttemptAt).Round(time.Hour))
	if err := in.RetryNow(ctx, t.Ref()); err != nil {
		panic(err)
	}
	fmt.Println(<-charged)
	// Output:
	// charge-1: attempt 1 failed (retry after 1h0m0s: card declined), next in 1h0m0s
	// attempt 2 charged ada
}
