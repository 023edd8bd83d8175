package wire

import (
	"maps"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/tasks"
)

// The headers of a task's copy published to run a retrying task now
// (inspect's RetryNow): the copy continues the task of the message at
// Jetq-Retry-Of, whose Jetq-Attempts attempts are spent.
const (
	HeaderRetryOf  = "Jetq-Retry-Of"
	HeaderAttempts = "Jetq-Attempts"
)

// Spent is how many attempts of the task were spent before its message h
// was published: Jetq-Attempts, 0 without it.
func Spent(h tasks.Header) int {
	s := h.Get(HeaderAttempts)
	if s == "" {
		return 0 // most messages: no parse, and no error to allocate
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Attempt is the attempt a delivery of the message with header h is, the
// server having delivered it delivered times: the attempts spent before
// the message (a copy made to run a retry now) and its deliveries.
func Attempt(h tasks.Header, delivered uint64) int { return Spent(h) + int(delivered) }

// RetryFiring is the firing (see [FiredKey]) of the run that follows
// attempt attempt of a task, made from the message at seq: the redelivery
// of that message and a copy made to run it now claim it, and only one
// runs.
func RetryFiring(seq uint64, attempt int) string {
	return "retry." + strconv.FormatUint(seq, 10) + "." + strconv.Itoa(attempt)
}

// RetryFiringsOf are the firings a delivery claims before it runs. A copy
// made to run a retry now claims the run after the attempts its original
// spent, and a snoozed task's copy (see [SnoozeCopy]) the run after the
// attempt that snoozed, which it repeats: of, at every delivery of the
// copy, since its first may have died before it claimed, and the
// original's redelivery then have taken the run. A redelivery (delivered >
// 1) claims the run after its message's previous attempt: again. Either is
// empty when it does not apply; a first delivery of an ordinary message
// claims nothing, and parses nothing.
func RetryFiringsOf(h tasks.Header, seq uint64, delivered uint64) (of, again string) {
	if delivered > 1 {
		again = RetryFiring(seq, Attempt(h, delivered)-1)
	}
	// Most messages are neither copy: no parse, and no error to allocate.
	if s := h.Get(HeaderRetryOf); s != "" {
		if o, err := strconv.ParseUint(s, 10, 64); err == nil {
			return RetryFiring(o, Spent(h)), again
		}
	}
	if s := h.Get(HeaderSnoozeOf); s != "" {
		if o, err := strconv.ParseUint(s, 10, 64); err == nil {
			return RetryFiring(o, Spent(h)+1), again
		}
	}
	return "", again
}

// RetryCopy is the message that runs now the retrying task stored at seq
// with header h and body data, attempts of it spent: the same subject,
// body and headers but for a Nats-Msg-Id of its own (the same for every
// copy of that attempt, so a copy published twice is stored once), the
// headers of the server's scheduler (a fired task's copy is no second
// firing) and of the atomic batch of a group (the copy is published on
// its own), and Jetq-Retry-Of and Jetq-Attempts.
func RetryCopy(subject string, h nats.Header, data []byte, id string, seq uint64, attempts int) *nats.Msg {
	c := maps.Clone(h)
	if c == nil {
		c = nats.Header{}
	}
	for _, k := range []string{HeaderScheduler, HeaderScheduleNext, HeaderRetryOf, HeaderSnoozeOf, HeaderAttempts,
		jetstream.StreamHeader, jetstream.SequenceHeader, jetstream.TimeStampHeaer, jetstream.SubjectHeader,
		"Nats-Last-Sequence", "Nats-Num-Pending"} {
		delete(c, k) // the server's own, and a former copy's
	}
	for k := range c {
		if strings.HasPrefix(k, "Nats-Batch-") {
			delete(c, k) // of the atomic batch that stored a group's task: the copy is a task of its own
		}
	}
	c.Set(HeaderID, id)
	c.Set(HeaderMsgID, id+"."+RetryFiring(seq, attempts))
	c.Set(HeaderRetryOf, strconv.FormatUint(seq, 10))
	c.Set(HeaderAttempts, strconv.Itoa(attempts))
	return &nats.Msg{Subject: subject, Header: c, Data: data}
}
