package wire

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded/embeddedtest"
)

// TestEnsureRefusesStreamsThatBreakAGuarantee creates jetq's streams
// beforehand with a setting that would lose tasks or records: Ensure uses
// none of them and says what is wrong.
func TestEnsureRefusesStreamsThatBreakAGuarantee(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	topo := Topology{Memory: true}
	evicting := topo.WorkStream()
	evicting.Discard, evicting.MaxMsgs = jetstream.DiscardOld, 1000
	expiring := topo.WorkStream()
	expiring.MaxAge = time.Hour
	forgetful := topo.DLQStream()
	forgetful.Retention = jetstream.InterestPolicy
	for _, tc := range []struct {
		name    string
		streams []jetstream.StreamConfig
		want    string
	}{
		{"work stream that evicts", []jetstream.StreamConfig{evicting}, "evict queued tasks"},
		{"work stream that expires", []jetstream.StreamConfig{expiring}, "evict queued tasks"},
		{"dead-letter stream that drops", []jetstream.StreamConfig{topo.WorkStream(), forgetful}, "drop dead-letter records"},
	} {
		js := embeddedtest.JetStream(t)
		for _, cfg := range tc.streams {
			if _, err := js.CreateStream(ctx, cfg); err != nil {
				t.Fatal(err)
			}
		}
		_, err := topo.Ensure(ctx, js, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Ensure: %v, want an error saying it would %s", tc.name, err, tc.want)
		}
	}
}
