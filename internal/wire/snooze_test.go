package wire

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// A snoozed task's copy is a delayed task on its own schedule subject that
// keeps the task's identity, body and own headers, drops the server's
// (a TTL would expire the schedule itself), repeats the attempt that
// snoozed, and claims the same run as its original's redelivery.
func TestSnoozeCopy(t *testing.T) {
	t.Parallel()
	n := NamesOf(topology.Topology{})
	h := nats.Header{HeaderID: {"t1"}, HeaderMsgID: {"t1"}, HeaderTask: {"x.y"}, "traceparent": {"00-a-b-01"},
		HeaderTTL: {"60s"}, HeaderScheduler: {"jetq.sched.at.x"}, HeaderScheduleNext: {"purge"},
		HeaderAttempts: {"2"}, HeaderRetryOf: {"4"}, HeaderSnoozed: {"3"}}
	env := &tasks.Envelope{ID: "t1", Name: "x.y", Queue: "default", Subject: "jetq.task.default.x.y",
		Header: tasks.Header(h), Sequence: 10, Attempt: 4, Deadline: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	now := time.Date(2029, 12, 31, 23, 0, 0, 0, time.UTC)
	due := now.Add(time.Minute)
	c := SnoozeCopy(n, env, h, []byte(`{}`), due, now)
	for k, want := range map[string]string{
		HeaderID: "t1", HeaderMsgID: "t1.snooze.10.4", HeaderTask: "x.y", "traceparent": "00-a-b-01",
		HeaderAttempts: "3", HeaderSnoozeOf: "10", HeaderSnoozed: "4", HeaderRetryOf: "",
		HeaderSchedule: At(due), HeaderScheduleTarget: "jetq.fire.default.x.y", HeaderRunAt: FormatTime(due),
		HeaderScheduledAt: FormatTime(now), HeaderScheduleTTL: TTL(59*time.Minute + TTLGrace),
		HeaderTTL: "", HeaderScheduler: "", HeaderScheduleNext: "",
	} {
		if got := c.Header.Get(k); got != want {
			t.Errorf("header %s: got %q, want %q", k, got, want)
		}
	}
	if got, want := c.Subject, n.DelayedSubject("t1"); got != want {
		t.Errorf("subject: got %q, want %q", got, want)
	}
	if h.Get(HeaderTTL) != "60s" || h.Get(HeaderSnoozed) != "3" {
		t.Error("the original's header was changed")
	}
	// Fired, the copy is delivered once; the original's next delivery, its
	// third, is attempt 5.
	fired := tasks.Header(c.Header)
	if got := Attempt(fired, 1); got != 4 {
		t.Errorf("the copy's attempt: got %d, want 4, the one that snoozed", got)
	}
	copyRun, _ := RetryFiringsOf(fired, 77, 1)
	_, origRun := RetryFiringsOf(tasks.Header(h), 10, 3)
	if copyRun == "" || copyRun != origRun {
		t.Errorf("claims: the copy %q, the original's redelivery %q; want one run", copyRun, origRun)
	}
	if of, _ := RetryFiringsOf(fired, 77, 2); of != copyRun {
		t.Errorf("the copy's redelivery claims %q, want still %q", of, copyRun)
	}
	// Run now (inspect's RetryNow) after the copy failed: a retry copy, not a snooze's.
	rc := RetryCopy(env.Subject, c.Header, nil, "t1", 77, 4)
	if rc.Header.Get(HeaderSnoozeOf) != "" {
		t.Error("a retry copy of a snoozed task's copy kept Jetq-Snooze-Of")
	}
}

// A first delivery of a plain task, most deliveries, reads its attempt and
// claims without allocating: no header to parse, no parse error made.
func TestPlainDeliveryClaimsAllocateNothing(t *testing.T) {
	h := tasks.Header{HeaderID: {"t1"}, HeaderTask: {"x.y"}}
	if n := testing.AllocsPerRun(100, func() {
		_ = Attempt(h, 1)
		_, _ = RetryFiringsOf(h, 10, 1)
	}); n != 0 {
		t.Errorf("got %v allocations, want 0", n)
	}
}
