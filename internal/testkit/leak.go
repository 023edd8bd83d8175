package testkit

import (
	"testing"

	"go.uber.org/goleak"
)

// VerifyNoLeaks runs the tests of m and then fails if goroutines are left,
// as goleak.VerifyTestMain does, except for three that belong to the NATS
// libraries and outlive a test by their design:
//
//   - nats-server: a stream that sources another (the work stream sources
//     the schedule stream) waits up to 30 s for its source consumer's answer
//     with a timer that server shutdown does not stop (server/stream.go,
//     trySetupSourceConsumer).
//   - nats.go v1.55.0: the first async publish starts
//     resetPendingAcksOnReconnect, which reads the publisher's status
//     channel only once it runs. A CleanupPublisher (Producer.Close) that
//     comes first sets that channel to nil, and the goroutine then waits on
//     a nil channel forever (jetstream/publish.go newAsyncReply and
//     jetstream/jetstream.go cleanupReplySub). A test that closes a
//     producer right after its first enqueue hits it now and then under
//     -race.
//   - nats-server: a stream being added while the server shuts down (a
//     worker of a test creating a bucket as the test ends) is not among the
//     streams the shutdown stops, so its file store's flush loop runs on,
//     and with it the access-time service the file store registered
//     (server/filestore.go newFileStoreWithCreatedAndMode, server/ats).
//     Seen once in a few full runs of the consumer tests under -race.
func VerifyNoLeaks(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*stream).trySetupSourceConsumer.func3"),
		goleak.IgnoreTopFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"),
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*fileStore).flushStreamStateLoop"),
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server/ats.Register.func1"))
}
