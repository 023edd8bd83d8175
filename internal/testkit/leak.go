package testkit

import (
	"testing"

	"go.uber.org/goleak"
)

// VerifyNoLeaks runs the tests of m and then fails if goroutines are left,
// as goleak.VerifyTestMain does, except for one of nats-server's own: a
// stream that sources another (the work stream sources the schedule stream)
// waits up to 30 s for its source consumer's answer with a timer that
// server shutdown does not stop (server/stream.go, trySetupSourceConsumer),
// so that goroutine outlives an embedded server by design.
func VerifyNoLeaks(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*stream).trySetupSourceConsumer.func3"))
}
