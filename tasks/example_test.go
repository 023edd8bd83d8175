package tasks_test

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

// EmailArgs is the payload of the example task.
type EmailArgs struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
}

// Validate refuses an email without a recipient, at enqueue and at the worker.
func (a EmailArgs) Validate() error {
	if a.To == "" {
		return errors.New("to is required")
	}
	return nil
}

// SendEmail is defined once and used by producers and workers alike.
var SendEmail = tasks.Define[EmailArgs]("email.send",
	tasks.WithMaxAttempts(5), tasks.WithTimeout(30*time.Second))

// Define a task, enqueue it, and handle it on a worker — all against an
// embedded server.
func Example() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	srv, err := embedded.Start(ctx)
	if err != nil {
		panic(err)
	}
	defer srv.Shutdown()
	nc, err := srv.Connect()
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)

	// Enqueue from any service.
	p, _ := producer.New(js, producer.WithLogger(quiet))
	r, err := producer.Enqueue(ctx, p, SendEmail, EmailArgs{To: "ada@example.com", Subject: "Welcome!"},
		producer.WithID("welcome:42"))
	if err != nil {
		panic(err)
	}
	fmt.Println("enqueued", r.ID)

	// Handle on any number of workers.
	done := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, SendEmail, func(ctx context.Context, t *tasks.Task[EmailArgs]) error {
		fmt.Printf("sending %q to %s (task %s, attempt %d of %d)\n",
			t.Payload.Subject, t.Payload.To, t.ID, t.Attempt, t.MaxAttempts)
		close(done)
		return nil
	})
	w, _ := consumer.New(js, reg, consumer.WithLogger(quiet))
	go func() { _ = w.Run(ctx) }()
	<-done
	_ = w.Shutdown(ctx)

	// Output:
	// enqueued welcome:42
	// sending "Welcome!" to ada@example.com (task welcome:42, attempt 1 of 5)
}

// A bad payload is refused at enqueue with an error that says what is wrong.
func ExampleValidator() {
	_, err := SendEmail.Encode(EmailArgs{Subject: "no recipient"})
	fmt.Println(err)
	fmt.Println(errors.Is(err, tasks.ErrInvalidPayload))
	// Output:
	// tasks: invalid payload: task "email.send": to is required
	// true
}

// Handlers choose what a failure means.
func ExamplePermanent() {
	charge := func(ctx context.Context, t *tasks.Task[EmailArgs]) error {
		err := errors.New("card declined")
		if t.Attempt > 0 {
			return tasks.Permanent(err) // dead-letter now: retrying will not help
		}
		return tasks.RetryAfter(time.Minute, err) // rate limited: come back in a minute
	}
	err := charge(context.Background(), &tasks.Task[EmailArgs]{Attempt: 1})
	fmt.Println(err, tasks.IsPermanent(err))
	// Output:
	// permanent: card declined true
}

// New is Define for names that arrive at run time: it returns the error
// instead of panicking.
func ExampleNew() {
	_, err := tasks.New[EmailArgs]("Email Send")
	fmt.Println(err)
	// Output:
	// tasks: invalid name: task name "Email Send" must be lower-case dot-separated tokens of a-z, 0-9, '_' and '-' (like "email.send")
}
