package inspect

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/directget"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// DeadLetter is one dead-letter record: the task as it was, and why it
// failed. It is a value read from the stream; changing one changes nothing
// on the server.
type DeadLetter struct {
	// Seq is the record's sequence in the dead-letter stream: what
	// DeadLetter, ReplayDeadLetter and DeleteDeadLetter take, and what
	// DeadLetterFilter.After continues from.
	Seq uint64 `json:"seq"`
	// ID, Task and Queue identify the task. ID is the task ID its handler
	// saw, and the one a replay keeps.
	ID    string `json:"id"`
	Task  string `json:"task"`
	Queue string `json:"queue"`
	// Reason and Error say why it was dead-lettered: Error is the last
	// error's text, at most 4 KiB, line breaks replaced by " | ".
	Reason tasks.Reason `json:"reason"`
	Error  string       `json:"error"`
	// Deliveries is how often the task was delivered to a worker.
	Deliveries int `json:"deliveries"`
	// FailedAt is when the record was filed; EnqueuedAt when the task was
	// enqueued (zero if its producer did not say).
	FailedAt   time.Time `json:"failed_at"`
	EnqueuedAt time.Time `json:"enqueued_at,omitzero"`
	// Stream, StreamSeq and Subject are where the task was: its work
	// stream, its sequence there, and the subject a replay publishes to.
	Stream    string `json:"stream"`
	StreamSeq uint64 `json:"stream_seq"`
	Subject   string `json:"subject"`
	// Payload is the task's encoded payload, as its producer sent it.
	Payload []byte `json:"payload,omitempty"`
	// Truncated reports a record whose original did not fit beside the
	// failure: the record keeps the headers that identify and trace the
	// task, and the payload only if it fit; the whole original is stored
	// apart. [Inspector.DeadLetter] returns it restored, and a replay
	// restores it exactly. The records DeadLetters lists carry what the
	// record itself holds.
	Truncated bool `json:"truncated,omitempty"`
	// Header is the record's header: the task's own headers (trace context
	// included, server-interpreted Nats-* ones excepted), the Jetq-Dlq-*
	// ones describing the failure, and the record's Nats-Msg-Id.
	Header nats.Header `json:"header,omitempty"`
}

// directGetHeaders are the headers the server adds to a message read by a
// direct get: they describe the read, not the record.
var directGetHeaders = []string{
	jetstream.StreamHeader, jetstream.SequenceHeader, jetstream.TimeStampHeaer, jetstream.SubjectHeader,
	jetstream.LastSequenceHeader, directget.NumPendingHeader,
}

// deadLetterOf reads the record rec; an error means rec is not a record this
// version can read.
func deadLetterOf(n wire.Names, rec dlRecord) (DeadLetter, error) {
	h := rec.header
	for _, k := range directGetHeaders {
		delete(h, k)
	}
	f, err := wire.ParseFailure(h)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("inspect: dead-letter record %d: %w", rec.seq, err)
	}
	e := DeadLetter{
		Seq: rec.seq, ID: h.Get(wire.HeaderID),
		Reason: f.Reason, Error: f.Error, Deliveries: f.Deliveries, FailedAt: f.At,
		Stream: f.Stream, StreamSeq: f.Seq, Subject: f.Subject, Payload: rec.data, Header: h,
		Truncated: wire.Original(h) != "",
	}
	// The subject, not the task's own headers, is what DeadLetterFilter
	// selects and Purge deletes by; the headers say only when it cannot be
	// read.
	if q, t, err := n.ParseDLQSubject(rec.subject); err == nil {
		e.Queue, e.Task = q, t
	} else {
		e.Queue, e.Task = h.Get(wire.HeaderQueue), h.Get(wire.HeaderTask)
	}
	if at, err := wire.ParseTime(h.Get(wire.HeaderEnqueuedAt)); err == nil {
		e.EnqueuedAt = at
	}
	return e, nil
}
