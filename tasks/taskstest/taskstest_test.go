package taskstest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/tasks/taskstest"
)

type Charge struct {
	Cents int `json:"cents"`
}

func (c Charge) Validate() error {
	if c.Cents <= 0 {
		return errors.New("cents must be positive")
	}
	return nil
}

var charge = tasks.Define[Charge]("billing.charge", tasks.WithMaxAttempts(3), tasks.WithTimeout(100*time.Millisecond),
	tasks.WithBackoff(tasks.Backoff{Initial: time.Second, Jitter: -1}))

func TestSettlements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fail := func(err error) tasks.HandlerFunc[Charge] {
		return func(context.Context, *tasks.Task[Charge]) error { return err }
	}
	for name, tc := range map[string]struct {
		fn      tasks.HandlerFunc[Charge]
		payload Charge
		attempt int
		action  tasks.Action
		reason  tasks.Reason
		delay   time.Duration
	}{
		"success":         {fail(nil), Charge{1}, 1, tasks.ActionAck, "", 0},
		"error retries":   {fail(errors.New("x")), Charge{1}, 2, tasks.ActionRetry, "", 2 * time.Second},
		"last attempt":    {fail(errors.New("x")), Charge{1}, 3, tasks.ActionDeadLetter, tasks.ReasonMaxAttempts, 0},
		"permanent":       {fail(tasks.Permanent(errors.New("x"))), Charge{1}, 1, tasks.ActionDeadLetter, tasks.ReasonPermanent, 0},
		"retry after":     {fail(tasks.RetryAfter(7*time.Second, nil)), Charge{1}, 1, tasks.ActionRetry, "", 7 * time.Second},
		"invalid payload": {fail(nil), Charge{0}, 1, tasks.ActionDeadLetter, tasks.ReasonInvalidPayload, 0},
		"panic retries":   {func(context.Context, *tasks.Task[Charge]) error { panic("boom") }, Charge{1}, 1, tasks.ActionRetry, "", time.Second},
		"timeout on last": {func(ctx context.Context, _ *tasks.Task[Charge]) error { <-ctx.Done(); return ctx.Err() }, Charge{1}, 3, tasks.ActionDeadLetter, tasks.ReasonTimeout, 0},
		"timeout retries": {func(ctx context.Context, _ *tasks.Task[Charge]) error { <-ctx.Done(); return ctx.Err() }, Charge{1}, 1, tasks.ActionRetry, "", time.Second},
		"wrapped ctx err": {fail(fmt.Errorf("api: %w", context.Canceled)), Charge{1}, 1, tasks.ActionRetry, "", time.Second},
		"snooze":          {fail(tasks.Snooze(time.Minute)), Charge{1}, 1, tasks.ActionSnooze, "", time.Minute},
		"snooze on last":  {fail(fmt.Errorf("busy: %w", tasks.Snooze(time.Minute))), Charge{1}, 3, tasks.ActionSnooze, "", time.Minute},
		"snooze of 0":     {fail(tasks.Snooze(0)), Charge{1}, 1, tasks.ActionRetry, "", time.Second},
	} {
		out := taskstest.Run(ctx, charge, tc.fn, tc.payload, taskstest.WithAttempt(tc.attempt))
		if out.Action != tc.action || out.Reason != tc.reason || out.Delay != tc.delay {
			t.Errorf("%s: got %v/%q/%v (err %v), want %v/%q/%v", name, out.Action, out.Reason, out.Delay, out.Err, tc.action, tc.reason, tc.delay)
		}
	}
}

func TestHandlerSeesTaskMetadata(t *testing.T) {
	t.Parallel()
	var got *tasks.Task[Charge]
	out := taskstest.Run(context.Background(), charge, func(_ context.Context, tk *tasks.Task[Charge]) error {
		got = tk
		return nil
	}, Charge{5}, taskstest.WithID("charge:9"), taskstest.WithHeader("X-Tenant", "acme"), taskstest.WithAttempt(2))
	if out.Action != tasks.ActionAck || got.ID != "charge:9" || got.Attempt != 2 || got.MaxAttempts != 3 ||
		got.Header.Get("X-Tenant") != "acme" || got.Payload.Cents != 5 || got.Name != "billing.charge" {
		t.Errorf("outcome %+v, task %+v", out, got)
	}
}

// A unit test of a handler's failure policy, without NATS.
func ExampleRun() {
	handler := func(ctx context.Context, t *tasks.Task[Charge]) error {
		if t.Payload.Cents > 100_000 {
			return tasks.Permanent(errors.New("over the card limit"))
		}
		return errors.New("gateway timeout")
	}
	for _, attempt := range []int{1, 3} {
		out := taskstest.Run(context.Background(), charge, handler, Charge{Cents: 500}, taskstest.WithAttempt(attempt))
		fmt.Printf("attempt %d: %v, delay %v, reason %q\n", attempt, out.Action, out.Delay, out.Reason)
	}
	out := taskstest.Run(context.Background(), charge, handler, Charge{Cents: 500_000})
	fmt.Println(out.Action, out.Reason, out.Err)
	// Output:
	// attempt 1: retry, delay 1s, reason ""
	// attempt 3: dead_letter, delay 0s, reason "max_attempts"
	// dead_letter permanent permanent: over the card limit
}
