package wire

import (
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/tasks"
)

// The headers of a snoozed task's copy (tasks.Snooze): the copy repeats
// the attempt of the message at Jetq-Snooze-Of that snoozed, Jetq-Attempts
// being the attempts spent before it; Jetq-Snoozed counts the task's
// snoozes.
const (
	HeaderSnoozeOf = "Jetq-Snooze-Of"
	HeaderSnoozed  = tasks.HeaderSnoozed
)

// Snoozed is how many times the task of the message with header h was
// snoozed before it: Jetq-Snoozed, 0 without it.
func Snoozed(h tasks.Header) int {
	s := h.Get(HeaderSnoozed)
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// SnoozeID is the Nats-Msg-Id of the copy that attempt attempt of the task
// id, delivered from the message at seq, snoozed into: the same for every
// try at publishing it, so the schedule stream stores it once.
func SnoozeID(id string, seq uint64, attempt int) string {
	return id + ".snooze." + strconv.FormatUint(seq, 10) + "." + strconv.Itoa(attempt)
}

// SnoozeCopy is the delayed task that the delivery env (header h, body
// data) snoozed into, due at due, made at now: a schedule on the task's
// delayed-task subject, as [Delay] makes one, so that it reads as a delayed
// task everywhere (listed, found by ID, run now or cancelled). It keeps
// the task's ID, body and headers (trace context included) but for the
// server's own, which the scheduler would strip or refuse; Jetq-Attempts
// is the attempts spent before env's, which the copy repeats, so a snooze
// spends no attempt, and as a message of its own it starts the server's
// delivery count again. Its firing (Jetq-Scheduled-At, now) is its own:
// a second copy stored by the work stream's sourcing is dropped unrun.
// Jetq-Snooze-Of makes the copy claim the run after env's attempt
// ([RetryFiringsOf]), as a redelivery of env's message does: if the worker
// dies between publishing the copy and acknowledging env's message, one
// of the two runs and the other is dropped unrun.
func SnoozeCopy(n Names, env *tasks.Envelope, h nats.Header, data []byte, due, now time.Time) *nats.Msg {
	m := RetryCopy(n.DelayedSubject(env.ID), h, data, env.ID, env.Sequence, env.Attempt-1)
	c := m.Header
	for k := range c {
		if strings.HasPrefix(k, "Nats-") {
			delete(c, k) // a TTL, rollup or expectation would act on the schedule itself
		}
	}
	delete(c, HeaderRetryOf)
	c.Set(HeaderMsgID, SnoozeID(env.ID, env.Sequence, env.Attempt))
	c.Set(HeaderSnoozeOf, strconv.FormatUint(env.Sequence, 10))
	c.Set(HeaderSnoozed, strconv.Itoa(Snoozed(tasks.Header(h))+1))
	c.Set(HeaderSchedule, At(due))
	c.Set(HeaderScheduleTarget, n.FireSubject(env.Queue, env.Name))
	c.Set(HeaderRunAt, FormatTime(due))
	c.Set(HeaderScheduledAt, FormatTime(now))
	if !env.Deadline.IsZero() {
		c.Set(HeaderScheduleTTL, TTL(env.Deadline.Sub(due)+TTLGrace))
	}
	return m
}
