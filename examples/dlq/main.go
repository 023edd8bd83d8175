package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Invoice is the payload of invoice.send.
type Invoice struct {
	Number int    `json:"number"`
	To     string `json:"to"`
}

// SendInvoice gives up after three attempts, a fraction of a second apart.
var SendInvoice = tasks.Define[Invoice]("invoice.send", tasks.WithMaxAttempts(3),
	tasks.WithBackoff(tasks.Backoff{Initial: 100 * time.Millisecond, Max: 200 * time.Millisecond}))

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "dlq example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)
	srv, err := embedded.Start(ctx)
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	nc, err := srv.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	// The handler needs the mail server, which is down at first.
	var mailUp atomic.Bool
	sent := make(chan *tasks.Task[Invoice], 1)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, SendInvoice, func(ctx context.Context, t *tasks.Task[Invoice]) error {
		if !mailUp.Load() {
			fmt.Printf("  attempt %d: mail server unreachable\n", t.Attempt)
			return errors.New("dial tcp mail.example.com:587: connection refused")
		}
		sent <- t
		return nil
	})
	w, err := consumer.New(js, reg, consumer.WithLogger(quiet), consumer.WithForwarder())
	if err != nil {
		return err
	}
	go func() { _ = w.Run(ctx) }()
	defer w.Shutdown(context.Background())

	p, err := producer.New(js, producer.WithLogger(quiet))
	if err != nil {
		return err
	}
	r, err := producer.Enqueue(ctx, p, SendInvoice, Invoice{Number: 1001, To: "ada@example.com"}, producer.WithID("invoice:1001"))
	if err != nil {
		return err
	}
	fmt.Printf("1. enqueued invoice.send %s; the mail server is down\n", r.ID)

	// 2. It fails its way into the dead-letter stream.
	in, err := inspect.New(js)
	if err != nil {
		return err
	}
	var entries []inspect.DeadLetter
	for len(entries) == 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the task never reached the dead-letter stream: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if entries, err = in.DeadLetters(ctx, inspect.DeadLetterFilter{Task: "invoice.send"}); err != nil {
			return err
		}
	}
	e := entries[0]
	fmt.Printf("2. dead-lettered: record %d, task %s, reason %s after %d deliveries\n   error: %s\n   payload: %s\n",
		e.Seq, e.ID, e.Reason, e.Deliveries, e.Error, e.Payload)

	// 3. The cause is fixed, and the task replayed.
	mailUp.Store(true)
	fmt.Println("3. the mail server is back; replaying the record")
	if err := in.ReplayDeadLetter(ctx, e.Seq); err != nil {
		return err
	}
	select {
	case t := <-sent:
		fmt.Printf("4. sent invoice %d to %s: task %s, attempt %d\n", t.Payload.Number, t.Payload.To, t.ID, t.Attempt)
	case <-ctx.Done():
		return fmt.Errorf("the replayed task never ran: %w", ctx.Err())
	}
	st, err := in.DeadLetterStats(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("5. the dead-letter stream holds %d record(s)\n", st.Total)
	return nil
}
