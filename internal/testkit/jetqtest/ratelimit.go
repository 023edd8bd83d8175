package jetqtest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/ratelimit"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// HoldNextWindow counts, in the next window of spec's rate limits, the
// starts a test expects in the current one: typeStarts of the type's
// limit, and keyStarts[k] of key k's. A test that reads what a limit's
// window holds then reads the same if the window ends while it runs: the
// next one has the same starts used and grants no more than the current
// one left.
func HoldNextWindow(t testing.TB, js jetstream.JetStream, spec tasks.Spec, typeStarts int, keyStarts map[string]int) {
	t.Helper()
	ctx := context.Background()
	c := ratelimit.New(js, topology.Topology{})
	if err := c.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	take := func(per time.Duration, subject func(index int64) string, n, limit int) {
		index, _ := ratelimit.Window(time.Now(), per)
		if _, err := c.Take(ctx, subject(index+1), n, limit); err != nil {
			t.Fatal(err)
		}
	}
	if lim := spec.RateLimit; !lim.IsZero() && typeStarts > 0 {
		take(lim.Per, func(i int64) string { return c.TypeSubject(spec, i) }, typeStarts, lim.N)
	}
	for key, n := range keyStarts {
		take(spec.KeyRateLimit.Per, func(i int64) string { return c.KeySubject(spec, key, i) }, n, spec.KeyRateLimit.N)
	}
}
