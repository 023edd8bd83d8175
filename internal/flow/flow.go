package flow

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// Settlement is a task's final outcome, as the follow-ups see it.
type Settlement struct {
	// Env is the settled task: its ID, name, queue and headers.
	Env *tasks.Envelope
	// State is status.Done, DeadLettered, Expired or Cancelled.
	State status.State
	// Reason and Error say why a task that did not succeed failed.
	Reason tasks.Reason
	Error  string
	// Attempts is how many times the handler ran.
	Attempts int
	// Result is the encoded result of a succeeded result task, nil for
	// others; ContentType is its codec's.
	Result      []byte
	ContentType string
	// At is when it settled.
	At time.Time
}

// Has reports whether a task with header h has follow-ups: a plain task
// has none and costs nothing here.
func Has(h tasks.Header) bool {
	return hasCallbacks(h) || isStep(h)
}

// Runner runs the follow-ups of settled tasks.
type Runner struct {
	js    jetstream.JetStream
	topo  topology.Topology
	names wire.Names
	log   *slog.Logger

	wf        store        // the workflow bucket (record.go)
	conflicts atomic.Int64 // compare-and-set writes of a record that lost, for the benchmark
}

// New returns a Runner for the deployment t.
func New(js jetstream.JetStream, t topology.Topology, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.Default()
	}
	return &Runner{js: js, topo: t, names: wire.NamesOf(t), log: log}
}

// After runs the follow-ups of s. Calling it again for the same
// settlement changes nothing more, so a caller that cannot tell whether it
// ran (a redelivery after a crash) calls it again. An error means some
// follow-up may not have run: the caller must not settle the task for
// good, so that it is delivered again.
func (r *Runner) After(ctx context.Context, s Settlement) error {
	if err := r.callbacks(ctx, s); err != nil {
		return err
	}
	return r.step(ctx, s)
}
