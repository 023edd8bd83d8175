package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// EmailArgs is the payload of the email.send task.
type EmailArgs struct {
	Recipient string `json:"recipient"`
	Content   string `json:"content"`
}

// Validate runs at enqueue and again before the handler.
func (a EmailArgs) Validate() error {
	if _, err := mail.ParseAddress(a.Recipient); err != nil {
		return fmt.Errorf("recipient %q: %w", a.Recipient, err)
	}
	if a.Content == "" {
		return errors.New("content is required")
	}
	return nil
}

// ReportArgs is the payload of the report.build task.
type ReportArgs struct {
	Month string `json:"month"`
}

// The task definitions, shared by producer and worker.
var (
	SendEmail = tasks.Define[EmailArgs]("email.send",
		tasks.WithMaxAttempts(5), tasks.WithTimeout(10*time.Second),
		tasks.WithBackoff(tasks.Backoff{Initial: 100 * time.Millisecond}))
	BuildReport = tasks.Define[ReportArgs]("report.build",
		tasks.WithQueue("reports"), tasks.WithMaxAttempts(5),
		tasks.WithBackoff(tasks.Backoff{Initial: 200 * time.Millisecond}))
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

	// 1. An embedded NATS server with JetStream: no install, no network.
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

	// 2. Handlers. The outcome middleware watches every settlement so this
	// program knows when all tasks are through.
	var (
		mu       sync.Mutex
		outcomes = map[string]int{}
		attempts = map[string]int{}
		settled  = make(chan struct{}, 100)
	)
	watch := func(next tasks.Handler) tasks.Handler {
		return func(ctx context.Context, env *tasks.Envelope) error {
			err := next(ctx, env)
			mu.Lock()
			attempts[env.Name]++
			outcomes[env.Outcome.Action.String()]++
			mu.Unlock()
			if a := env.Outcome.Action; a == tasks.ActionAck || a == tasks.ActionDeadLetter {
				settled <- struct{}{}
			}
			return err
		}
	}
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, SendEmail, func(ctx context.Context, t *tasks.Task[EmailArgs]) error {
		if strings.HasSuffix(t.Payload.Recipient, "@invalid.example") {
			// The mail server says this mailbox will never exist: retrying is pointless.
			return tasks.Permanent(fmt.Errorf("smtp 550: no such mailbox %s", t.Payload.Recipient))
		}
		fmt.Printf("  sent email to %-24s (task %s)\n", t.Payload.Recipient, t.ID)
		return nil
	})
	tasks.MustHandle(reg, BuildReport, func(ctx context.Context, t *tasks.Task[ReportArgs]) error {
		if t.Attempt <= 2 {
			fmt.Printf("  report %s: attempt %d failed, will retry\n", t.Payload.Month, t.Attempt)
			return fmt.Errorf("warehouse busy (attempt %d)", t.Attempt)
		}
		fmt.Printf("  report %s: built on attempt %d\n", t.Payload.Month, t.Attempt)
		return nil
	})

	// 3. Enqueue: a batch of emails, one report, and an email to a mailbox
	// that does not exist. A malformed address is refused right here.
	p, err := producer.New(js, producer.WithLogger(log))
	if err != nil {
		return err
	}
	fmt.Println("enqueueing:")
	emails := []EmailArgs{
		{Recipient: "ada@example.com", Content: "Welcome aboard"},
		{Recipient: "grace@example.com", Content: "Your invoice"},
		{Recipient: "linus@example.com", Content: "Password reset"},
		{Recipient: "nobody@invalid.example", Content: "Hello?"},
	}
	if _, err := producer.EnqueueBatch(ctx, p, SendEmail, emails); err != nil {
		return err
	}
	if _, err := producer.Enqueue(ctx, p, BuildReport, ReportArgs{Month: "2026-10"}); err != nil {
		return err
	}
	_, err = producer.Enqueue(ctx, p, SendEmail, EmailArgs{Recipient: "not an address", Content: "x"})
	fmt.Printf("  refused at enqueue: %v\n", err)
	if !errors.Is(err, tasks.ErrInvalidPayload) {
		return fmt.Errorf("a malformed address was not refused: %v", err)
	}
	fmt.Printf("  %d tasks enqueued\n\nprocessing:\n", len(emails)+1)

	// 4. A worker, running until every task is through.
	w, err := consumer.New(js, reg, consumer.WithConcurrency(8), consumer.WithLogger(log), consumer.WithMiddleware(watch))
	if err != nil {
		return err
	}
	wctx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	workerDone := make(chan error, 1)
	go func() { workerDone <- w.Run(wctx) }()

	// 5. Wait until every task is done or dead-lettered, then stop the worker.
	for range len(emails) + 1 {
		select {
		case <-settled:
		case <-ctx.Done():
			return fmt.Errorf("tasks did not finish: %w", ctx.Err())
		}
	}
	stopWorker()
	if err := <-workerDone; err != nil {
		return err
	}

	// 6. What the dead-letter stream holds.
	in, err := inspect.New(js)
	if err != nil {
		return err
	}
	entries, err := in.DeadLetters(ctx, inspect.DeadLetterFilter{})
	if err != nil {
		return err
	}
	fmt.Printf("\ndead-letter stream: %d record(s)\n", len(entries))
	for _, e := range entries {
		fmt.Printf("  %s  reason=%s  deliveries=%d\n    error: %s\n    payload: %s\n", e.Task, e.Reason, e.Deliveries, e.Error, e.Payload)
	}

	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("\nsummary: %d acked, %d retried, %d dead-lettered, %d handler runs\n",
		outcomes["ack"], outcomes["retry"], outcomes["dead_letter"], attempts["email.send"]+attempts["report.build"])
	return nil
}
