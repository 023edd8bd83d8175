package consumer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/tasks"
)

// presenceMsgs is how many messages the presence bucket's stream holds.
func presenceMsgs(js jetstream.JetStream) (uint64, error) {
	s, err := js.Stream(context.Background(), "KV_JETQ_WORKERS")
	if err != nil {
		return 0, err
	}
	info, err := s.Info(context.Background())
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// Workers that start, announce themselves and stop cleanly leave nothing
// in the presence bucket once the markers of their deletions expired
// (issue 24: a purge without a TTL left one marker per stop, forever).
func TestStoppedWorkersLeaveNoPresenceRecord(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := tasks.Define[Args]("test.presence.stop")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error { return nil })
	const n = 5
	for i := range n {
		rw := jetqtest.StartWorker(t, b.srv, reg, consumer.WithPresenceInterval(100*time.Millisecond))
		testkit.WaitFor(t, 10*time.Second, func() error { // its entry is written
			kv, err := b.js.KeyValue(context.Background(), "JETQ_WORKERS")
			if err != nil {
				return err
			}
			keys, err := kv.ListKeys(context.Background())
			if err != nil {
				return err
			}
			got := 0
			for range keys.Keys() {
				got++
			}
			if got != 1 {
				return fmt.Errorf("worker %d: presence keys: got %d, want 1", i, got)
			}
			return nil
		})
		if err := rw.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := rw.Wait(t, 10*time.Second); err != nil {
			t.Fatalf("worker %d: Run: %v", i, err)
		}
	}
	testkit.WaitFor(t, 15*time.Second, func() error {
		got, err := presenceMsgs(b.js)
		if err != nil {
			return err
		}
		if got != 0 {
			return fmt.Errorf("presence bucket holds %d messages after %d clean stops, want 0", got, n)
		}
		return nil
	})
}

// A worker that starts sweeps the markers that older releases' stops left
// for good in the presence bucket.
func TestStartingWorkerSweepsStalePresenceMarkers(t *testing.T) {
	// Not parallel: it shortens the age of a stale marker for the package,
	// until its workers have stopped (cleanups run last registered first).
	t.Cleanup(consumer.SetStaleMarkerAge(time.Nanosecond))
	b := setup(t)
	def := tasks.Define[Args]("test.presence.sweep")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error { return nil })
	ctx := context.Background()
	// What an older release left: a purge marker without a TTL per stop.
	rw := jetqtest.StartWorker(t, b.srv, reg)
	var kv jetstream.KeyValue
	testkit.WaitFor(t, 10*time.Second, func() error {
		var err error
		kv, err = b.js.KeyValue(ctx, "JETQ_WORKERS")
		return err
	})
	rw.Cancel()
	if err := rw.Wait(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"old1", "old2", "old3"} {
		if err := kv.Purge(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	jetqtest.StartWorker(t, b.srv, reg)
	testkit.WaitFor(t, 15*time.Second, func() error {
		// Left: the new worker's entry.
		if got, err := presenceMsgs(b.js); err != nil || got != 1 {
			return fmt.Errorf("presence bucket holds %d messages (%v), want the live worker's 1", got, err)
		}
		return nil
	})
}
