package consumer_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestWorkerTakesOverADurableOfAnEarlierVersion starts a worker on a task
// type whose durable an earlier version made, without jetq's priority
// group, with a task waiting: the worker updates the durable and runs the
// task.
func TestWorkerTakesOverADurableOfAnEarlierVersion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Args]("test.upgrade")
	r, err := producer.Enqueue(ctx, b.p, def, Args{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.js.CreateConsumer(ctx, "JETQ_TASKS", jetstream.ConsumerConfig{
		Durable:       "default:test:upgrade",
		FilterSubject: "jetq.task.default.test.upgrade",
		AckPolicy:     jetstream.AckExplicitPolicy,
		MaxDeliver:    def.Spec().MaxAttempts,
	}); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		rec.record(tk)
		return nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	if c := rec.next(t, 20*time.Second); c.task.ID != r.ID {
		t.Errorf("ran task %s, want %s", c.task.ID, r.ID)
	}
	cons, err := b.js.Consumer(ctx, "JETQ_TASKS", "default:test:upgrade")
	if err != nil {
		t.Fatal(err)
	}
	if cfg := cons.CachedInfo().Config; cfg.PriorityPolicy != jetstream.PriorityPolicyOverflow || len(cfg.PriorityGroups) != 1 {
		t.Errorf("durable's priority policy %v groups %v, want overflow [jetq]", cfg.PriorityPolicy, cfg.PriorityGroups)
	}
}
