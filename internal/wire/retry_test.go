package wire

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/tasks"
)

// A copy that runs a retry now keeps the task's identity, body and own
// headers, drops the server's, and names the run it continues; its first
// delivery and the original's next delivery claim the same run.
func TestRetryCopy(t *testing.T) {
	t.Parallel()
	h := nats.Header{HeaderID: {"t1"}, HeaderMsgID: {"t1"}, HeaderTask: {"x.y"}, "traceparent": {"00-a-b-01"},
		jetstream.SequenceHeader: {"10"}, jetstream.StreamHeader: {"JETQ_TASKS"}, HeaderScheduler: {"jetq.sched.at.t1"},
		"Nats-Batch-Id": {"b"}, "Nats-Batch-Sequence": {"3"}, "Nats-Batch-Commit": {"1"}}
	c := RetryCopy("jetq.task.default.x.y", h, []byte(`{}`), "t1", 10, 3)
	want := map[string]string{HeaderID: "t1", HeaderMsgID: "t1.retry.10.3", HeaderTask: "x.y", "traceparent": "00-a-b-01",
		HeaderRetryOf: "10", HeaderAttempts: "3", jetstream.SequenceHeader: "", jetstream.StreamHeader: "", HeaderScheduler: "",
		"Nats-Batch-Id": "", "Nats-Batch-Sequence": "", "Nats-Batch-Commit": ""}
	for k, v := range want {
		if got := c.Header.Get(k); got != v {
			t.Errorf("copy's %s: got %q, want %q", k, got, v)
		}
	}
	if h.Get(HeaderRetryOf) != "" || h.Get(jetstream.SequenceHeader) != "10" {
		t.Errorf("the original's header changed: %v", h)
	}
	ch := tasks.Header(c.Header)
	if got := Attempt(ch, 1); got != 4 {
		t.Errorf("the copy's first delivery: attempt %d, want 4", got)
	}
	copyRun, none := RetryFiringsOf(ch, 20, 1)
	_, origRun := RetryFiringsOf(tasks.Header(h), 10, 4)
	if none != "" || copyRun != origRun || copyRun != RetryFiring(10, 3) {
		t.Errorf("claims: the copy's %q (and %q), the original's redelivery %q; want both %q", copyRun, none, origRun, RetryFiring(10, 3))
	}
	if of, again := RetryFiringsOf(tasks.Header(h), 10, 1); of != "" || again != "" {
		t.Errorf("a first delivery claims %q and %q, want nothing", of, again)
	}
	// The copy's redelivery claims its own run again, and still the run it
	// continues: its first delivery may have died before it claimed that.
	if of, again := RetryFiringsOf(ch, 20, 2); of != RetryFiring(10, 3) || again != RetryFiring(20, 4) {
		t.Errorf("the copy's redelivery claims %q and %q, want %q and %q", of, again, RetryFiring(10, 3), RetryFiring(20, 4))
	}
}
