package deadletter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/directget"
	"github.com/jetq/jetq/internal/wire"
)

const (
	// filedPage and filedPageBytes bound one request of [Filer.Filed].
	filedPage      = 256
	filedPageBytes = 1 << 20
	// filedMost bounds the records [Filer.Filed] reads for one look-up.
	filedMost = 1024
	// clockMargin widens a look-up's start: the work stream's server
	// stamped since, the dead-letter stream's server stamps records.
	clockMargin = time.Minute
)

// ErrTooManyRecords is returned by [Filer.Filed] when more records than it
// reads for one look-up were filed on the subject since the given time.
var ErrTooManyRecords = errors.New("too many records to look through")

// Filed returns the record with identity id ([wire.RecordID]) that the
// dead-letter stream holds on subject, filed at or after since, and nil if
// there is none (or no dead-letter stream).
//
// The server indexes a record's identity, its Nats-Msg-Id, only in its
// deduplication table, which no request reads: a publish that asks for an
// identity and expects to be refused (Nats-Expected-Last-Msg-Id) answers on
// one server, but on a replicated stream the refused proposal leaves the ID
// "in process" for the whole duplicate window, and the record could not be
// filed for an hour. So Filed reads the records of subject stored since
// since with direct gets, from the time index: one direct get when the
// task type filed nothing since (its last record, if any, is older), at
// most filedMost records, past which it returns [ErrTooManyRecords].
func (f *Filer) Filed(ctx context.Context, subject, id string, since time.Time) (*directget.Msg, error) {
	start := since.Add(-clockMargin).UTC()
	// First the type's last record, one direct get: most often there is
	// none, or it is older than the task, and nothing is left to read.
	s, err := f.stream(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil // no dead-letter stream
	}
	if err != nil {
		return nil, fmt.Errorf("look up record %s: %w", id, err)
	}
	last, err := s.GetLastMsgForSubject(ctx, subject)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("look up record %s: %w", id, err)
	case last.Time.Before(start):
		return nil, nil
	case last.Header.Get(wire.HeaderMsgID) == id:
		return &directget.Msg{Seq: last.Sequence, Subject: last.Subject, Stored: last.Time, Header: last.Header, Data: last.Data}, nil
	}
	req := directget.Request{NextFor: subject, StartTime: &start, Batch: filedPage, MaxBytes: filedPageBytes}
	for read := 0; ; {
		msgs, more, err := directget.Batch(ctx, f.js, f.names.DLQStream(), req)
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, nil // no dead-letter stream
		}
		if err != nil {
			return nil, fmt.Errorf("look up record %s: %w", id, err)
		}
		for i := range msgs {
			if msgs[i].Header.Get(wire.HeaderMsgID) == id {
				return &msgs[i], nil
			}
		}
		read += len(msgs)
		if !more || len(msgs) == 0 {
			return nil, nil
		}
		if read >= filedMost {
			return nil, fmt.Errorf("look up record %s: %w: more than %d on %s since %s", id, ErrTooManyRecords, read, subject, start.Format(time.RFC3339))
		}
		req.StartTime, req.Seq = nil, msgs[len(msgs)-1].Seq+1
	}
}
