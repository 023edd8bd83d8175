package pausing_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/pausing"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// setup makes the work stream and the durable of default/job.a, unpaused.
func setup(t *testing.T) (jetstream.JetStream, *pausing.Store) {
	t.Helper()
	ctx := context.Background()
	js := embeddedtest.JetStream(t)
	topo := topology.Topology{}
	if _, err := js.CreateStream(ctx, wire.WorkStreamConfig(topo)); err != nil {
		t.Fatal(err)
	}
	spec := tasks.Define[int]("job.a").Spec()
	if _, err := js.CreateOrUpdateConsumer(ctx, "JETQ_TASKS", wire.ConsumerConfig(topo, spec)); err != nil {
		t.Fatal(err)
	}
	return js, pausing.New(js, topo)
}

// pausedUntil is the consumer's PauseUntil, zero when not paused.
func pausedUntil(t *testing.T, js jetstream.JetStream) time.Time {
	t.Helper()
	c, err := js.Consumer(context.Background(), "JETQ_TASKS", "default:job:a")
	if err != nil {
		t.Fatal(err)
	}
	ci := c.CachedInfo()
	if !ci.Paused {
		return time.Time{}
	}
	return ci.Config.PauseUntil.UTC()
}

// A worker that created a consumer before a queue's pause was applied
// pauses it itself.
func TestHoldOnlyPausesWhatARecordMissed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js, s := setup(t)
	if got, err := s.Apply(ctx, "default", "job.a", pausing.HoldOnly); err != nil || !got.IsZero() {
		t.Fatalf("HoldOnly with no records = %v, %v; want nothing done", got, err)
	}
	if err := s.Set(ctx, pausing.Scope{Queue: "default"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Apply(ctx, "default", "job.a", pausing.HoldOnly); err != nil || !got.Equal(pausing.Forever) {
		t.Fatalf("HoldOnly under a queue's pause = %v, %v; want %v", got, err, pausing.Forever)
	}
	if got := pausedUntil(t, js); !got.Equal(pausing.Forever) {
		t.Fatalf("consumer paused until %v, want %v", got, pausing.Forever)
	}
}

// HoldOnly never resumes a consumer paused by other means; Exact makes it
// follow the records.
func TestHoldOnlyKeepsAPauseExactFollowsTheRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js, s := setup(t)
	byHand := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if _, err := js.PauseConsumer(ctx, "JETQ_TASKS", "default:job:a", byHand); err != nil {
		t.Fatal(err)
	}
	soon := time.Now().Add(10 * time.Minute).UTC().Truncate(time.Second)
	if err := s.Set(ctx, pausing.Scope{Queue: "default", Task: "job.a"}, soon); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, "default", "job.a", pausing.HoldOnly); err != nil {
		t.Fatal(err)
	}
	if got := pausedUntil(t, js); !got.Equal(byHand) {
		t.Fatalf("after HoldOnly: paused until %v, want the longer pause %v kept", got, byHand)
	}
	if _, err := s.Apply(ctx, "default", "job.a", pausing.Exact); err != nil {
		t.Fatal(err)
	}
	if got := pausedUntil(t, js); !got.Equal(soon) {
		t.Fatalf("after Exact: paused until %v, want the record's %v", got, soon)
	}
	if err := s.Clear(ctx, pausing.Scope{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, "default", "job.a", pausing.Exact); err != nil {
		t.Fatal(err)
	}
	if got := pausedUntil(t, js); !got.IsZero() {
		t.Fatalf("after clearing every record: paused until %v, want resumed", got)
	}
}
