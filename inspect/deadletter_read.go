package inspect

// How the inspector reads: batched direct gets.
//
// A direct get batch ($JS.API.DIRECT.GET.<stream> with next_by_subj and
// batch, server 2.11+) returns up to a batch of the messages on a subject,
// wildcards allowed, from a sequence or from a time on, and ends with an EOB
// status that says how many more there are. It costs one request per batch,
// filters on the server, creates no consumer (nothing to clean up, nothing
// left behind by a killed `jetq dlq ls`), and brings the payloads along, so
// an entry costs no request of its own. Any replica may answer; in a cluster
// a listing may lag a write by a moment, which an operator's view can
// afford. The dead-letter stream jetq creates allows direct gets; on one
// that does not, the reader falls back to one leader get per record.
//
// A stream reads forward only. NewestFirst reads windows of sequences from
// the newest back, each twice the size of the one before, so the newest
// page of a large stream costs about a page of reads.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/directget"
)

const (
	// pageSize is how many records one request asks for.
	dlPageSize = 256
	// pageBytes bounds one response; the server stops early and the next
	// request goes on.
	dlPageBytes = 4 << 20
	// firstWindow and maxWindow bound the windows of a backward read.
	dlFirstWindow = 64
	dlMaxWindow   = 4096
	// clockMargin widens the time bounds of a filter where they decide
	// where a read starts or stops: the filer's clock sets FailedAt, the
	// server's the stored time, and a filing may take a few retries.
	dlClockMargin = 15 * time.Minute
)

// dlRecord is a stored message as read from the stream.
type dlRecord struct {
	seq     uint64
	subject string
	stored  time.Time
	header  nats.Header
	data    []byte
}

// dlReader reads the records of the dead-letter stream in sequence order.
type dlReader struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	state  jetstream.StreamState
	direct bool
}

func newDLReader(js jetstream.JetStream, s jetstream.Stream) *dlReader {
	info := s.CachedInfo()
	return &dlReader{js: js, stream: s, state: info.State, direct: info.Config.AllowDirect}
}

// page reads up to n records on subject in sequence order, from the first at
// or after sequence from — or, if at is set and the stream answers direct
// gets, from the first stored at or after at. more reports that records on
// subject may follow the last one returned.
func (r *dlReader) page(ctx context.Context, subject string, from uint64, at time.Time, n int) (recs []dlRecord, more bool, err error) {
	from = max(from, 1)
	if !r.direct {
		return r.pageByLeader(ctx, subject, from, n)
	}
	req := directget.Request{NextFor: subject, Batch: n, MaxBytes: dlPageBytes}
	if at.IsZero() {
		req.Seq = from
	} else {
		t := at.UTC()
		req.StartTime = &t
	}
	msgs, more, err := directget.Batch(ctx, r.js, r.stream.CachedInfo().Config.Name, req)
	if err != nil {
		return nil, false, fmt.Errorf("inspect: read records: %w", err)
	}
	recs = make([]dlRecord, len(msgs))
	for i, m := range msgs {
		recs[i] = dlRecord{seq: m.Seq, subject: m.Subject, stored: m.Stored, header: m.Header, data: m.Data}
	}
	return recs, more, nil
}

// pageByLeader is page for a stream without direct gets: one request per
// record, answered by the stream's leader. It cannot start at a time.
func (r *dlReader) pageByLeader(ctx context.Context, subject string, from uint64, n int) ([]dlRecord, bool, error) {
	var recs []dlRecord
	for len(recs) < n {
		m, err := r.stream.GetMsg(ctx, from, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return recs, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("inspect: read records: %w", err)
		}
		recs = append(recs, dlRecord{seq: m.Sequence, subject: m.Subject, stored: m.Time, header: m.Header, data: m.Data})
		from = m.Sequence + 1
	}
	return recs, true, nil
}

// dlVisit is called with each record read; it returns false to stop the read.
type dlVisit func(dlRecord) (bool, error)

// forward calls fn with the records on subject whose sequences are in
// [lo, hi], oldest first, until fn returns false or an error. A non-zero at
// skips, where the stream allows, the records stored before it.
func (r *dlReader) forward(ctx context.Context, subject string, lo, hi uint64, at time.Time, fn dlVisit) error {
	lo = max(lo, 1)
	for from := lo; from <= hi; {
		n := int(min(uint64(dlPageSize), hi-from+1))
		recs, more, err := r.page(ctx, subject, from, at, n)
		if err != nil {
			return err
		}
		at = time.Time{}
		for _, rec := range recs {
			if rec.seq > hi {
				return nil
			}
			from = rec.seq + 1
			if rec.seq < lo {
				continue
			}
			if ok, err := fn(rec); err != nil || !ok {
				return err
			}
		}
		if !more || len(recs) == 0 {
			return nil
		}
	}
	return nil
}

// backward calls fn with the records on subject whose sequences are in
// [lo, hi], newest first, until fn returns false or an error. It reads
// windows of sequences back from hi, the first of size first.
func (r *dlReader) backward(ctx context.Context, subject string, lo, hi uint64, first int, fn dlVisit) error {
	lo = max(lo, 1)
	w := uint64(min(max(first, dlFirstWindow), dlMaxWindow))
	for hi >= lo {
		wlo := lo
		if hi-lo >= w {
			wlo = hi - w + 1
		}
		var recs []dlRecord
		err := r.forward(ctx, subject, wlo, hi, time.Time{}, func(rec dlRecord) (bool, error) {
			recs = append(recs, rec)
			return true, nil
		})
		if err != nil {
			return err
		}
		for i := len(recs) - 1; i >= 0; i-- {
			if ok, err := fn(recs[i]); err != nil || !ok {
				return err
			}
		}
		if wlo == lo {
			return nil
		}
		hi = wlo - 1
		w = min(2*w, dlMaxWindow)
	}
	return nil
}

// firstSeqSince is the sequence of the first message stored at or after t,
// or 0 when there is none or the stream cannot tell without a scan.
func (r *dlReader) firstSeqSince(ctx context.Context, subject string, t time.Time) (uint64, error) {
	if !r.direct {
		return 0, nil
	}
	recs, _, err := r.page(ctx, subject, 0, t, 1)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	return recs[0].seq, nil
}
