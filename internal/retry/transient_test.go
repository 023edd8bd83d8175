package retry

import (
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestClassify gives the errors the server and nats.go return, as they
// arrive (wrapped), with the answers the server sends while a cluster fails
// over or is cut apart. e2e's TestProducerCutOffWithTheStreamLeader gets
// them from real servers.
func TestClassify(t *testing.T) {
	t.Parallel()
	api := func(code, errCode int, desc string) error {
		return fmt.Errorf("producer: publish: %w", &jetstream.APIError{Code: code, ErrorCode: jetstream.ErrorCode(errCode), Description: desc})
	}
	for _, tc := range []struct {
		name      string
		err       error
		want      Cause
		transient bool
	}{
		{"msg id in process on a cut-off leader", api(409, 10158, "duplicate message id is in process"), NoQuorum, true},
		{"no responders", fmt.Errorf("x: %w", jetstream.ErrNoStreamResponse), Unavailable, true},
		{"core no responders", nats.ErrNoResponders, Unavailable, true},
		{"cluster not available", api(503, 10008, "JetStream system temporarily unavailable"), Unavailable, true},
		{"not the leader", api(500, 10009, "JetStream cluster can not handle request"), Unavailable, true},
		{"ack timeout", fmt.Errorf("no acknowledgement within 5s: %w", nats.ErrTimeout), NoAnswer, true},
		{"async timeout", jetstream.ErrAsyncPublishTimeout, NoAnswer, true},
		{"disconnected", nats.ErrDisconnected, NoAnswer, true},
		{"ctx deadline", context.DeadlineExceeded, NoAnswer, true},
		{"max messages", api(503, 10077, "maximum messages exceeded"), NoRoom, false},
		{"insufficient storage", api(500, 10047, "insufficient storage resources available"), NoRoom, false},
		{"JetStream not enabled", api(503, 10076, "JetStream not enabled"), Final, false},
		{"wrong last sequence", api(400, 10071, "wrong last sequence: 3"), Final, false},
		{"ctx cancelled", context.Canceled, Final, false},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("%s: Classify(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
		if got := Transient(tc.err); got != tc.transient {
			t.Errorf("%s: Transient(%v) = %v, want %v", tc.name, tc.err, got, tc.transient)
		}
	}
}
