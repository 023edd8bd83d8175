package consumer_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/tasks"
)

// A connection that closes while the worker opens a pull must still end
// Run. nats.go calls a subscription's closed handler only if the handler is
// set when the subscription closes; a pull whose subscription closed in
// between never reported its end, the intake waited for it forever, and so
// did Run (a dlq test hung for 10 minutes in CI). The connection is closed
// in that gap by a hook, because nothing else can aim a close at it.
func TestRunEndsWhenTheConnectionClosesAsAPullOpens(t *testing.T) {
	b := setup(t)
	def := tasks.Define[Args]("test.closing")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(context.Context, *tasks.Task[Args]) error { return nil })
	nc, js := embeddedtest.Connect(t, b.srv)
	var once sync.Once
	consumer.SetPullSubscribed(func() {
		once.Do(func() {
			nc.Close()
			// The subscription's own goroutine ends on the close, reading
			// the closed handler as it goes; give it the moment it takes.
			time.Sleep(50 * time.Millisecond)
		})
	})
	t.Cleanup(func() { consumer.SetPullSubscribed(nil) })
	rw := jetqtest.StartWorkerOn(t, js, reg)
	if err := rw.Wait(t, 30*time.Second); !errors.Is(err, consumer.ErrConnectionClosed) {
		t.Fatalf("Run: got %v, want ErrConnectionClosed", err)
	}
}
