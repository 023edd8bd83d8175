package dlq

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// Entry is one dead-letter record: the task as it was, and why it failed.
type Entry struct {
	// Seq is the record's sequence in the dead-letter stream: what Get,
	// Replay and Delete take.
	Seq uint64 `json:"seq"`
	// ID, Task and Queue identify the task.
	ID    string `json:"id"`
	Task  string `json:"task"`
	Queue string `json:"queue"`
	// Reason and Error say why it was dead-lettered.
	Reason tasks.Reason `json:"reason"`
	Error  string       `json:"error"`
	// Deliveries is how often the task was delivered.
	Deliveries int `json:"deliveries"`
	// FailedAt is when the record was filed; EnqueuedAt when the task was
	// enqueued (zero if its producer did not say).
	FailedAt   time.Time `json:"failed_at"`
	EnqueuedAt time.Time `json:"enqueued_at,omitzero"`
	// Stream, StreamSeq and Subject are where the task was.
	Stream    string `json:"stream"`
	StreamSeq uint64 `json:"stream_seq"`
	Subject   string `json:"subject"`
	// Payload is the task's encoded payload; Header its headers, the
	// record's own Jetq-Dlq-* included. Both are empty in List results
	// made with Filter.HeadersOnly.
	Payload []byte      `json:"payload,omitempty"`
	Header  nats.Header `json:"header,omitempty"`
}

// entryOf reads the record at seq.
func entryOf(n wire.Names, seq uint64, subject string, h nats.Header, data []byte) (Entry, error) {
	f, err := wire.ParseFailure(h)
	if err != nil {
		return Entry{}, fmt.Errorf("dlq: record %d: %w", seq, err)
	}
	e := Entry{
		Seq: seq, ID: h.Get(wire.HeaderID), Task: h.Get(wire.HeaderTask), Queue: h.Get(wire.HeaderQueue),
		Reason: f.Reason, Error: f.Error, Deliveries: f.Deliveries, FailedAt: f.At,
		Stream: f.Stream, StreamSeq: f.Seq, Subject: f.Subject, Payload: data, Header: h,
	}
	if e.Task == "" || e.Queue == "" {
		// A task from a non-jetq publisher: the record's subject says.
		if q, t, err := n.ParseDLQSubject(subject); err == nil {
			e.Queue, e.Task = q, t
		}
	}
	if at, err := time.Parse(time.RFC3339Nano, h.Get(wire.HeaderEnqueuedAt)); err == nil {
		e.EnqueuedAt = at
	}
	return e, nil
}
