package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Order is the payload of every seeded task: a customer to filter on and a
// note the size of a small real payload.
type Order struct {
	Customer int    `json:"customer"`
	Note     string `json:"note"`
}

// sizes is how many tasks of each state the deployment holds.
type sizes struct {
	types                                 int
	pending, retrying, scheduled, letters int
}

// scaled is the deployment, every count times f.
func scaled(f float64) sizes {
	n := func(v int) int { return max(1, int(float64(v)*f)) }
	return sizes{types: 20, pending: n(1_000_000), retrying: n(10_000), scheduled: n(10_000), letters: n(100_000)}
}

var (
	// retryTask fails its first attempt and asks to be retried in an
	// hour: its tasks wait to retry for the whole measurement.
	retryTask = tasks.Define[Order]("op.retry", tasks.WithMaxAttempts(5))
	// laterTask is enqueued with an hour's delay.
	laterTask = tasks.Define[Order]("op.later")
	// failTask fails for good: every task becomes a dead letter.
	failTask = tasks.Define[Order]("op.fail")
)

// pendingTask is the i-th of the types that only wait.
func pendingTask(i int) *tasks.Definition[Order] {
	return tasks.Define[Order](fmt.Sprintf("op.wait%02d", i))
}

func orders(n, from int) []Order {
	out := make([]Order, n)
	for i := range out {
		out[i] = Order{Customer: (from + i) % 1000, Note: "a seeded task of the operator benchmark"}
	}
	return out
}

// enqueue stores n tasks of def in batches of 10 000.
func enqueue(ctx context.Context, p *producer.Producer, def *tasks.Definition[Order], n int, opts ...producer.EnqueueOption) error {
	for done := 0; done < n; {
		k := min(10_000, n-done)
		if _, err := producer.EnqueueBatch(ctx, p, def, orders(k, done), opts...); err != nil {
			return fmt.Errorf("enqueue %s: %w", def.Name(), err)
		}
		done += k
	}
	return nil
}

// seed fills the deployment: the retrying and dead-lettered tasks first,
// each through a worker serving their type only, then the scheduled and
// pending ones, which no worker serves.
func (e *env) seed(ctx context.Context, s sizes) error {
	var failed, retried atomic.Int64
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, retryTask, func(ctx context.Context, t *tasks.Task[Order]) error {
		retried.Add(1)
		return tasks.RetryAfter(time.Hour, errors.New("the card issuer is not answering"))
	})
	tasks.MustHandle(reg, failTask, func(ctx context.Context, t *tasks.Task[Order]) error {
		failed.Add(1)
		return tasks.Permanent(errors.New("customer has no billing address"))
	})
	w, err := consumer.New(e.js, reg, consumer.WithConcurrency(256), consumer.WithLogger(quiet))
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	if err := enqueue(ctx, e.p, retryTask, s.retrying); err != nil {
		return err
	}
	if err := enqueue(ctx, e.p, failTask, s.letters); err != nil {
		return err
	}
	for retried.Load() < int64(s.retrying) || failed.Load() < int64(s.letters) {
		select {
		case err := <-done:
			return fmt.Errorf("worker stopped early: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := w.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-done; err != nil {
		return err
	}
	if err := enqueue(ctx, e.p, laterTask, s.scheduled, producer.WithDelay(time.Hour)); err != nil {
		return err
	}
	per := s.pending / s.types
	for i := range s.types {
		if err := enqueue(ctx, e.p, pendingTask(i), per); err != nil {
			return err
		}
	}
	return nil
}
