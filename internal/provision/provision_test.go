package provision

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/topology"
)

// TestEnsureRefusesStreamsThatBreakAGuarantee creates jetq's streams
// beforehand with a setting that would lose tasks or records: Ensure uses
// none of them and says what is wrong.
func TestEnsureRefusesStreamsThatBreakAGuarantee(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	topo := topology.Topology{Memory: true}
	evicting := wire.WorkStreamConfig(topo)
	evicting.Discard, evicting.MaxMsgs = jetstream.DiscardOld, 1000
	expiring := wire.WorkStreamConfig(topo)
	expiring.MaxAge = time.Hour
	forgetful := wire.DLQStreamConfig(topo)
	forgetful.Retention = jetstream.InterestPolicy
	for _, tc := range []struct {
		name    string
		streams []jetstream.StreamConfig
		want    string
	}{
		{"work stream that evicts", []jetstream.StreamConfig{evicting}, "evict queued tasks"},
		{"work stream that expires", []jetstream.StreamConfig{expiring}, "evict queued tasks"},
		{"dead-letter stream that drops", []jetstream.StreamConfig{wire.WorkStreamConfig(topo), forgetful}, "drop dead-letter records"},
	} {
		js := embeddedtest.JetStream(t)
		for _, cfg := range tc.streams {
			if _, err := js.CreateStream(ctx, cfg); err != nil {
				t.Fatal(err)
			}
		}
		_, err := Ensure(ctx, js, topo, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Ensure: %v, want an error saying it would %s", tc.name, err, tc.want)
		}
	}
}
