package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/schedule"
	"github.com/jetq/jetq/tasks"
)

// The task definitions.
var (
	Remind = tasks.Define[string]("mail.remind")
	Rollup = tasks.Define[string]("metrics.rollup")
	// A password-reset mail is not worth sending a second late.
	Reset = tasks.Define[string]("password.reset", tasks.WithExpiry(time.Second), tasks.WithStateTracking())
	Sync  = tasks.Define[int]("account.sync")
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "scheduling:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
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
	p, err := producer.New(js, producer.WithLogger(quiet))
	if err != nil {
		return err
	}
	in, err := inspect.New(js, inspect.WithLogger(quiet))
	if err != nil {
		return err
	}
	start := time.Now()
	since := func() string { return fmt.Sprintf("%4.1fs", time.Since(start).Seconds()) }

	// 1. Expiry: enqueued while no worker runs, it is past its deadline by
	// the time one starts, and is dropped unrun.
	if _, err := producer.Enqueue(ctx, p, Reset, "ann@example.com", producer.WithID("reset:ann")); err != nil {
		return err
	}

	// 2. Delayed tasks: one runs in 2 s, one is cancelled before it fires.
	if _, err := producer.Enqueue(ctx, p, Remind, "trial ends tomorrow", producer.WithID("remind:42"), producer.WithDelay(2*time.Second)); err != nil {
		return err
	}
	if _, err := producer.Enqueue(ctx, p, Remind, "never mind", producer.WithID("remind:43"), producer.WithDelay(2*time.Second)); err != nil {
		return err
	}
	waiting, err := in.Tasks(ctx, inspect.Query{State: inspect.Scheduled})
	if err != nil {
		return err
	}
	fmt.Printf("%s delayed: %d waiting\n", since(), len(waiting.Tasks))
	if err := in.Cancel(ctx, inspect.Ref{ID: "remind:43"}); err != nil {
		return err
	}
	fmt.Printf("%s cancelled remind:43\n", since())

	// 3. A periodic task, declared at start-up by two instances of a service:
	// the declaration is stored once and fires once per tick.
	rollup := schedule.Periodic{Name: "rollup", Schedule: "@every 2s"}
	for range 2 {
		s, err := schedule.New(js, schedule.WithLogger(quiet))
		if err != nil {
			return err
		}
		if err := schedule.Declare(ctx, s, Rollup, rollup, "hourly totals"); err != nil {
			return err
		}
	}
	periodic, err := in.PeriodicTasks(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("%s periodic: %d declared (%s)\n", since(), len(periodic), periodic[0].Schedule)

	// 4. A unique task: while one with the key is queued or running, another
	// enqueue returns its ID and stores nothing.
	first, err := producer.Enqueue(ctx, p, Sync, 7, producer.WithUnique("account:7", time.Minute))
	if err != nil {
		return err
	}
	for range 2 {
		again, err := producer.Enqueue(ctx, p, Sync, 7, producer.WithUnique("account:7", time.Minute))
		if err != nil {
			return err
		}
		fmt.Printf("%s unique: again gives duplicate=%v, same ID=%v\n", since(), again.Duplicate, again.ID == first.ID)
	}

	time.Sleep(1200 * time.Millisecond) // reset:ann passes its deadline

	var mu sync.Mutex
	var seen []string
	note := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf(format, args...))
	}
	reminded := make(chan struct{})
	ticked := make(chan string, 8)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, Remind, func(ctx context.Context, t *tasks.Task[string]) error {
		note("ran %s", t.ID)
		close(reminded)
		return nil
	})
	tasks.MustHandle(reg, Rollup, func(ctx context.Context, t *tasks.Task[string]) error {
		ticked <- t.ID
		return nil
	})
	tasks.MustHandle(reg, Reset, func(ctx context.Context, t *tasks.Task[string]) error {
		note("ran %s (it should have expired)", t.ID)
		return nil
	})
	tasks.MustHandle(reg, Sync, func(ctx context.Context, t *tasks.Task[int]) error { return nil })
	w, err := consumer.New(js, reg, consumer.WithLogger(quiet))
	if err != nil {
		return err
	}
	go func() { _ = w.Run(ctx) }()
	defer w.Shutdown(ctx) //nolint:errcheck

	select {
	case <-reminded:
	case <-ctx.Done():
		return errors.New("the delayed task never ran")
	}
	fmt.Printf("%s delayed: remind:42 ran\n", since())
	select {
	case id := <-ticked:
		fmt.Printf("%s periodic: ran tick %s\n", since(), id)
	case <-ctx.Done():
		return errors.New("the periodic task never fired")
	}
	if err := in.RemovePeriodic(ctx, rollup.Name); err != nil {
		return err
	}

	st, err := in.Status(ctx, "reset:ann")
	if err != nil {
		return err
	}
	fmt.Printf("%s expiry: reset:ann is %s\n", since(), st.State)
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seen {
		if s != "ran remind:42" {
			return errors.New(s)
		}
	}
	fmt.Println("done: remind:43 never ran, reset:ann never reached its handler")
	return nil
}
