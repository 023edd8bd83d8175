package dlq

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
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	// pageSize is how many records one request asks for.
	pageSize = 256
	// pageBytes bounds one response; the server stops early and the next
	// request goes on.
	pageBytes = 4 << 20
	// firstWindow and maxWindow bound the windows of a backward read.
	firstWindow = 64
	maxWindow   = 4096
	// clockMargin widens the time bounds of a filter where they decide
	// where a read starts or stops: the filer's clock sets FailedAt, the
	// server's the stored time, and a filing may take a few retries.
	clockMargin = 15 * time.Minute
)

// record is a stored message as read from the stream.
type record struct {
	seq     uint64
	subject string
	stored  time.Time
	header  nats.Header
	data    []byte
}

// reader reads the records of the dead-letter stream in sequence order.
type reader struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	state  jetstream.StreamState
	direct bool
	api    string // JetStream API subject prefix, with its trailing dot
}

func newReader(js jetstream.JetStream, s jetstream.Stream) *reader {
	info := s.CachedInfo()
	return &reader{js: js, stream: s, state: info.State, direct: info.Config.AllowDirect, api: apiPrefix(js)}
}

// apiPrefix is the prefix of js's API subjects, domain or custom prefix included.
func apiPrefix(js jetstream.JetStream) string {
	o := js.Options()
	switch {
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	case o.APIPrefix != "" && o.APIPrefix[len(o.APIPrefix)-1] == '.':
		return o.APIPrefix
	case o.APIPrefix != "":
		return o.APIPrefix + "."
	}
	return jetstream.DefaultAPIPrefix
}

// withTimeout gives ctx js's default API timeout unless it has a deadline.
func withTimeout(ctx context.Context, js jetstream.JetStream) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, js.Options().DefaultTimeout)
}

// directGetRequest is the server's JSApiMsgGetRequest, the fields we use.
type directGetRequest struct {
	Seq       uint64     `json:"seq,omitempty"`
	StartTime *time.Time `json:"start_time,omitempty"`
	NextFor   string     `json:"next_by_subj"`
	Batch     int        `json:"batch"`
	MaxBytes  int        `json:"max_bytes"`
}

// page reads up to n records on subject in sequence order, from the first at
// or after sequence from — or, if at is set and the stream answers direct
// gets, from the first stored at or after at. more reports that records on
// subject may follow the last one returned.
func (r *reader) page(ctx context.Context, subject string, from uint64, at time.Time, n int) (recs []record, more bool, err error) {
	from = max(from, 1)
	if !r.direct {
		return r.pageByLeader(ctx, subject, from, n)
	}
	req := directGetRequest{NextFor: subject, Batch: n, MaxBytes: pageBytes}
	if at.IsZero() {
		req.Seq = from
	} else {
		t := at.UTC()
		req.StartTime = &t
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, false, err
	}
	nc := r.js.Conn()
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, false, fmt.Errorf("dlq: read records: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(r.api+"DIRECT.GET."+r.stream.CachedInfo().Config.Name, inbox, body); err != nil {
		return nil, false, fmt.Errorf("dlq: read records: %w", err)
	}
	ctx, cancel := withTimeout(ctx, r.js)
	defer cancel()
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("dlq: read records: %w", err)
		}
		if status := m.Header.Get("Status"); status != "" && len(m.Data) == 0 {
			switch status {
			case "204": // end of the batch
				pending, _ := strconv.ParseUint(m.Header.Get(numPendingHeader), 10, 64)
				return recs, pending > 0, nil
			case "404": // nothing (more) on subject
				return recs, false, nil
			case "503":
				return nil, false, fmt.Errorf("dlq: read records: %w", nats.ErrNoResponders)
			}
			return nil, false, fmt.Errorf("dlq: read records: status %s: %s", status, m.Header.Get("Description"))
		}
		rec, err := directRecord(m)
		if err != nil {
			return nil, false, fmt.Errorf("dlq: read records: %w", err)
		}
		recs = append(recs, rec)
	}
}

// directRecord reads a message of a direct get batch.
func directRecord(m *nats.Msg) (record, error) {
	seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return record{}, fmt.Errorf("bad %s header: %w", jetstream.SequenceHeader, err)
	}
	stored, err := time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
	if err != nil {
		return record{}, fmt.Errorf("bad %s header: %w", jetstream.TimeStampHeaer, err)
	}
	return record{seq: seq, subject: m.Header.Get(jetstream.SubjectHeader), stored: stored, header: m.Header, data: m.Data}, nil
}

// pageByLeader is page for a stream without direct gets: one request per
// record, answered by the stream's leader. It cannot start at a time.
func (r *reader) pageByLeader(ctx context.Context, subject string, from uint64, n int) ([]record, bool, error) {
	var recs []record
	for len(recs) < n {
		m, err := r.stream.GetMsg(ctx, from, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return recs, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("dlq: read records: %w", err)
		}
		recs = append(recs, record{seq: m.Sequence, subject: m.Subject, stored: m.Time, header: m.Header, data: m.Data})
		from = m.Sequence + 1
	}
	return recs, true, nil
}

// visit is called with each record read; it returns false to stop the read.
type visit func(record) (bool, error)

// forward calls fn with the records on subject whose sequences are in
// [lo, hi], oldest first, until fn returns false or an error. A non-zero at
// skips, where the stream allows, the records stored before it.
func (r *reader) forward(ctx context.Context, subject string, lo, hi uint64, at time.Time, fn visit) error {
	lo = max(lo, 1)
	for from := lo; from <= hi; {
		n := int(min(uint64(pageSize), hi-from+1))
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
func (r *reader) backward(ctx context.Context, subject string, lo, hi uint64, first int, fn visit) error {
	lo = max(lo, 1)
	w := uint64(min(max(first, firstWindow), maxWindow))
	for hi >= lo {
		wlo := lo
		if hi-lo >= w {
			wlo = hi - w + 1
		}
		var recs []record
		err := r.forward(ctx, subject, wlo, hi, time.Time{}, func(rec record) (bool, error) {
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
		w = min(2*w, maxWindow)
	}
	return nil
}

// firstSeqSince is the sequence of the first message stored at or after t,
// or 0 when there is none or the stream cannot tell without a scan.
func (r *reader) firstSeqSince(ctx context.Context, subject string, t time.Time) (uint64, error) {
	if !r.direct {
		return 0, nil
	}
	recs, _, err := r.page(ctx, subject, 0, t, 1)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	return recs[0].seq, nil
}
