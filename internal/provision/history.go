package provision

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/topology"
)

// History creates the history stream if it is missing, replicated
// and stored as the work stream work is, whoever made that, and returns
// its configuration as the server has it, as [Ensure] does for the
// other streams. Workers call it when they start; it is not part of
// Ensure, so that a deployment that cannot have it still runs tasks.
func History(ctx context.Context, js jetstream.JetStream, t topology.Topology, work jetstream.StreamConfig, log *slog.Logger) (jetstream.StreamConfig, error) {
	want := wire.HistoryStreamConfig(t)
	want.Replicas, want.Storage = max(work.Replicas, 1), work.Storage
	return ensureStream(ctx, js, want, log)
}
