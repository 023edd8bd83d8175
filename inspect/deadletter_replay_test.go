package inspect_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// TestReplayIntoAFullQueueIsTheTypedError replays a record into a work
// stream at its limit: the error is the producer's ErrQueueFull, retryable,
// as an enqueue's would be, and the record stays to be replayed later.
func TestReplayIntoAFullQueueIsTheTypedError(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	ctx := context.Background()
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)), producer.WithTopology(topology.Topology{MaxTasks: 2}))
	if err != nil {
		t.Fatal(err)
	}
	def := tasks.Define[Job]("replay.full")
	for i := range 2 {
		if _, err := producer.Enqueue(ctx, p, def, Job{N: i}); err != nil {
			t.Fatal(err)
		}
	}
	seq := fileRecord(t, js, "default", "replay.full", tasks.ReasonPermanent, time.Now(), 7)
	in, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	err = in.ReplayDeadLetter(ctx, seq)
	if !errors.Is(err, producer.ErrQueueFull) || !errors.Is(err, producer.ErrRetryable) {
		t.Fatalf("replay into a full queue: %v, want producer.ErrQueueFull, retryable", err)
	}
	if e, err := in.DeadLetter(ctx, seq); err != nil || e.ID != "replay.full:7" {
		t.Errorf("the record after the refused replay: %+v, %v; want it kept", e, err)
	}
}
