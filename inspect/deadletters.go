package inspect

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/deadletter"
	"github.com/jetq/jetq/internal/directget"
	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/statusstore"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// errNoDLQStream is returned by reader when nothing was ever dead-lettered.
var errNoDLQStream = fmt.Errorf("%w: no dead-letter stream", ErrNotFound)

// dlqReader returns a reader of the dead-letter stream as it is now.
func (in *Inspector) dlqReader(ctx context.Context) (*dlReader, error) {
	s, err := in.js.Stream(ctx, in.names.DLQStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, errNoDLQStream
	}
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	return newDLReader(in.js, s), nil
}

// dlBounds are the sequences a read covers and the times it may skip or stop
// at, the latter widened by clockMargin.
type dlBounds struct {
	lo, hi uint64
	// at skips the records stored before it (forward reads).
	at time.Time
	// after and before stop a read at the first record stored after or
	// before them.
	after, before time.Time
}

func (in *Inspector) dlqBounds(ctx context.Context, r *dlReader, f DeadLetterFilter, o Order) (dlBounds, error) {
	b := dlBounds{lo: r.state.FirstSeq, hi: r.state.LastSeq}
	switch {
	case f.After == 0:
	case f.Order == NewestFirst:
		b.hi = min(b.hi, f.After-1)
	case f.After >= b.hi:
		return dlBounds{lo: 1, hi: 0}, nil // past the last record: nothing
	default:
		b.lo = max(b.lo, f.After+1)
	}
	if !f.Since.IsZero() {
		b.before = f.Since.Add(-dlClockMargin)
		if o == OldestFirst && b.lo <= r.state.FirstSeq {
			b.at = b.before
		}
	}
	if !f.Until.IsZero() {
		b.after = f.Until.Add(dlClockMargin)
		if o == NewestFirst {
			// Start the backward read at the last record it can select.
			seq, err := r.firstSeqSince(ctx, in.names.DLQSubjects(), b.after)
			if err != nil {
				return b, err
			}
			if seq != 0 {
				b.hi = min(b.hi, seq-1)
			}
		}
	}
	return b, nil
}

// scanDeadLetters calls fn with each entry f selects in order o, until fn
// returns false or an error. Limit is left to fn.
func (in *Inspector) scanDeadLetters(ctx context.Context, f DeadLetterFilter, o Order, fn func(*dlReader, DeadLetter) (bool, error)) error {
	return in.readDeadLetters(ctx, f, o, nil, fn)
}

// readDeadLetters is scanDeadLetters calling read, when given, with the
// sequence of every record read, selected or not, before fn; read returns
// false to stop.
func (in *Inspector) readDeadLetters(ctx context.Context, f DeadLetterFilter, o Order, read func(seq uint64) bool, fn func(*dlReader, DeadLetter) (bool, error)) error {
	if err := f.validate(); err != nil {
		return err
	}
	r, err := in.dlqReader(ctx)
	if errors.Is(err, errNoDLQStream) {
		return nil // nothing was ever dead-lettered
	}
	if err != nil {
		return err
	}
	if r.state.Msgs == 0 {
		return nil
	}
	b, err := in.dlqBounds(ctx, r, f, o)
	if err != nil {
		return err
	}
	visit := func(rec dlRecord) (bool, error) {
		switch {
		case !b.after.IsZero() && o == OldestFirst && rec.stored.After(b.after):
			return false, nil // every later record was filed later still
		case !b.before.IsZero() && o == NewestFirst && rec.stored.Before(b.before):
			return false, nil
		}
		if read != nil && !read(rec.seq) {
			return false, nil
		}
		e, err := deadLetterOf(in.names, rec)
		if err != nil || !f.match(e) {
			return true, nil // not a record of ours, or not selected
		}
		return fn(r, e)
	}
	subject := f.subject(in.names)
	if o == NewestFirst {
		err = r.backward(ctx, subject, b.lo, b.hi, f.limit(), visit)
	} else {
		err = r.forward(ctx, subject, b.lo, b.hi, b.at, visit)
	}
	return err
}

// DeadLetters returns the dead-letter records f selects, at most f.Limit
// (default [DefaultDeadLetterLimit]), in f.Order; continue a listing with
// f.After. Task and Queue are applied by the server; Reason, Since and Until
// by the inspector, which reads the records in between (Since and Until
// narrow that read to about their time range). The newest page of a large
// stream costs about a page of reads.
//
// A missing dead-letter stream lists as empty. DeadLetters returns an error
// wrapping [ErrInvalidQuery] for an invalid filter.
func (in *Inspector) DeadLetters(ctx context.Context, f DeadLetterFilter) ([]DeadLetter, error) {
	limit := f.limit()
	var out []DeadLetter
	err := in.scanDeadLetters(ctx, f, f.Order, func(_ *dlReader, e DeadLetter) (bool, error) {
		out = append(out, e)
		return limit < 0 || len(out) < limit, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeadLetterPage is one page of [Inspector.DeadLetterPage].
type DeadLetterPage struct {
	// Entries are the records selected, at most DeadLetterFilter.Limit.
	Entries []DeadLetter `json:"entries"`
	// Next is the DeadLetterFilter.After of the next page: the last entry's
	// Seq when the page is full and more may follow, the last record read
	// when DeadLetterFilter.MaxRead ended the read first; 0 when no selected
	// record is left.
	Next uint64 `json:"next"`
	// Read counts the records read for the page.
	Read int `json:"read"`
	// Partial reports a page that DeadLetterFilter.MaxRead ended before it
	// was full: records past Next may still match.
	Partial bool `json:"partial,omitempty"`
}

// DeadLetterPage is [Inspector.DeadLetters] reading at most f.MaxRead
// records, so that a filter that selects few of many records still answers
// in bounded time, and saying where the next page starts. A page that ends
// the stream has Next 0.
func (in *Inspector) DeadLetterPage(ctx context.Context, f DeadLetterFilter) (DeadLetterPage, error) {
	limit := f.limit()
	var p DeadLetterPage
	var last uint64
	read := func(seq uint64) bool {
		if f.MaxRead > 0 && p.Read >= f.MaxRead {
			p.Partial = true
			return false
		}
		p.Read++
		last = seq
		return true
	}
	err := in.readDeadLetters(ctx, f, f.Order, read, func(_ *dlReader, e DeadLetter) (bool, error) {
		if limit > 0 && len(p.Entries) == limit {
			p.Next = p.Entries[limit-1].Seq // one more matches: there is a next page
			return false, nil
		}
		p.Entries = append(p.Entries, e)
		return true, nil
	})
	if err != nil {
		return DeadLetterPage{}, err
	}
	switch {
	case p.Next != 0:
	case limit > 0 && len(p.Entries) == limit && p.Partial:
		p.Next, p.Partial = p.Entries[limit-1].Seq, false // full; more may follow
	case p.Partial:
		p.Next = last
	}
	if p.Entries == nil {
		p.Entries = []DeadLetter{}
	}
	return p, nil
}

// DeadLetterCount is how many records one task type has.
type DeadLetterCount struct {
	Queue   string `json:"queue"`
	Task    string `json:"task"`
	Records int    `json:"records"`
}

// DeadLettersByTask counts the records of each task type, sorted by queue
// then task, from the stream's subjects in one request. A missing
// dead-letter stream has none.
func (in *Inspector) DeadLettersByTask(ctx context.Context) ([]DeadLetterCount, error) {
	r, err := in.dlqReader(ctx)
	if errors.Is(err, errNoDLQStream) {
		return []DeadLetterCount{}, nil
	}
	if err != nil {
		return nil, err
	}
	info, err := r.stream.Info(ctx, jetstream.WithSubjectFilter(in.names.DLQSubjects()))
	if err != nil {
		return nil, fmt.Errorf("inspect: count by task: %w", err)
	}
	out := make([]DeadLetterCount, 0, len(info.State.Subjects))
	for subject, n := range info.State.Subjects {
		if q, t, err := in.names.ParseDLQSubject(subject); err == nil {
			out = append(out, DeadLetterCount{Queue: q, Task: t, Records: int(n)})
		}
	}
	slices.SortFunc(out, func(a, b DeadLetterCount) int {
		return cmp.Or(cmp.Compare(a.Queue, b.Queue), cmp.Compare(a.Task, b.Task))
	})
	return out, nil
}

// CountDeadLetters returns how many records f selects, f.Limit and f.Order
// aside (f.After applied in f.Order's direction). When f selects by Task and
// Queue only, the server counts them by subject in one request; otherwise
// the records are read, as DeadLetters reads them. A missing dead-letter
// stream counts as empty.
func (in *Inspector) CountDeadLetters(ctx context.Context, f DeadLetterFilter) (int, error) {
	if err := f.validate(); err != nil {
		return 0, err
	}
	if f.bySubjectOnly() {
		return in.countDeadLetterSubject(ctx, f.subject(in.names))
	}
	n := 0
	err := in.scanDeadLetters(ctx, f, f.Order, func(*dlReader, DeadLetter) (bool, error) {
		n++
		return true, nil
	})
	return n, err
}

// countDeadLetterSubject counts the records on subject from the stream's
// state.
func (in *Inspector) countDeadLetterSubject(ctx context.Context, subject string) (int, error) {
	r, err := in.dlqReader(ctx)
	if errors.Is(err, errNoDLQStream) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	info, err := r.stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, fmt.Errorf("inspect: count %s: %w", subject, err)
	}
	n := uint64(0)
	for _, c := range info.State.Subjects {
		n += c
	}
	return int(n), nil
}

// DeadLetter returns the record at seq. The entry of a truncated record (see
// [DeadLetter.Truncated]) has the original's payload and headers, read back
// from where the record points. It returns an error wrapping [ErrNotFound]
// when there is none, and another error when the message at seq is not a
// dead-letter record this version can read.
func (in *Inspector) DeadLetter(ctx context.Context, seq uint64) (DeadLetter, error) {
	r, err := in.dlqReader(ctx)
	if err != nil {
		return DeadLetter{}, err
	}
	e, err := in.getDeadLetter(ctx, r, seq)
	if err != nil || !e.Truncated {
		return e, err
	}
	return in.restoreDeadLetter(ctx, e)
}

func (in *Inspector) getDeadLetter(ctx context.Context, r *dlReader, seq uint64) (DeadLetter, error) {
	m, err := r.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetter{}, fmt.Errorf("%w: no such record %d in the dead-letter stream", ErrNotFound, seq)
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("inspect: get dead-letter record %d: %w", seq, err)
	}
	return deadLetterOf(in.names, dlRecord{seq: seq, subject: m.Subject, stored: m.Time, header: m.Header, data: m.Data})
}

// restoreDeadLetter gives the entry of a truncated record its original's
// payload and headers; the record's own Jetq-Dlq-* and ID headers stay.
func (in *Inspector) restoreDeadLetter(ctx context.Context, e DeadLetter) (DeadLetter, error) {
	obs, err := deadletter.OpenObjects(ctx, in.js, in.pub, false)
	if err != nil {
		return e, fmt.Errorf("inspect: dead-letter record %d: %w", e.Seq, err)
	}
	b, err := obs.GetBytes(ctx, wire.Original(e.Header))
	if err != nil {
		return e, fmt.Errorf("inspect: dead-letter record %d: original %s: %w", e.Seq, wire.Original(e.Header), err)
	}
	h, data, err := wire.DecodeOriginal(b)
	if err != nil {
		return e, fmt.Errorf("inspect: dead-letter record %d: %w", e.Seq, err)
	}
	merged := nats.Header{}
	for k, v := range h {
		if !strings.HasPrefix(k, "Nats-") {
			merged[k] = v
		}
	}
	for k, v := range e.Header {
		if strings.HasPrefix(k, "Jetq-Dlq-") || k == wire.HeaderID || k == wire.HeaderMsgID {
			merged[k] = v
		}
	}
	e.Header, e.Payload = merged, data
	return e, nil
}

// dropOriginal removes the stored original of a truncated record, once the
// record is gone. What is left behind expires with the records' max age.
func (in *Inspector) dropOriginal(ctx context.Context, e DeadLetter) {
	if !e.Truncated {
		return
	}
	if obs, err := deadletter.OpenObjects(ctx, in.js, in.pub, false); err == nil {
		_ = obs.Delete(ctx, wire.Original(e.Header))
	}
}

// ReplayDeadLetter sends the task of the record at seq back to its queue as
// a fresh task, then deletes the record. The task keeps its ID, payload and
// headers (trace context included), restored exactly from a truncated
// record's stored original, and gets a new enqueue time; its attempts count
// from 1 again, and a Jetq-Replay-Of header names the record ("<dlq
// stream>:<seq>"). It runs now, whatever its deadline or delay was, and
// holds no unique key. It is published with the Nats-Msg-Id "<task
// ID>:replay:<seq>": unlike the task ID, which the work stream may still
// remember from the original enqueue, it is new to the work stream, while a
// replay repeated after a failure between its publish and its delete is
// dropped as a duplicate within the work stream's duplicates window — one
// record is never replayed twice. A tracked task's status becomes queued
// again, unless a worker has picked the task up already, and then follows
// the new run.
//
// ReplayDeadLetter returns an error wrapping [ErrNotFound] when there is no
// record at seq, and leaves the record in place when the work stream did not
// store the task.
func (in *Inspector) ReplayDeadLetter(ctx context.Context, seq uint64) error {
	r, err := in.dlqReader(ctx)
	if err != nil {
		return err
	}
	e, err := in.getDeadLetter(ctx, r, seq)
	if err != nil {
		return err
	}
	return in.replayDeadLetter(ctx, r, e)
}

func (in *Inspector) replayDeadLetter(ctx context.Context, r *dlReader, e DeadLetter) error {
	if e.Truncated {
		var err error
		if e, err = in.restoreDeadLetter(ctx, e); err != nil {
			return err
		}
	}
	msg := wire.Replay(in.names, e.Header, e.Payload, wire.Replayed{
		ID: e.ID, Queue: e.Queue, Task: e.Task, Subject: e.Subject, Seq: e.Seq}, time.Now())
	// Read before the publish: a worker may run the task at once, and its
	// records must not be overwritten by the reset.
	st, rev, serr := in.states.Read(ctx, e.ID)
	ack, err := in.js.PublishMsg(ctx, msg)
	if err != nil {
		return fmt.Errorf("inspect: replay dead-letter record %d to %s: %w; the record stays", e.Seq, msg.Subject, publishError(err))
	}
	if ack.Stream != in.names.WorkStream() {
		return fmt.Errorf("inspect: replay dead-letter record %d: stored by stream %s, not %s; the record stays", e.Seq, ack.Stream, in.names.WorkStream())
	}
	if serr == nil {
		st = status.Status{ID: st.ID, Task: st.Task, Queue: st.Queue, State: status.Queued,
			MaxAttempts: st.MaxAttempts, EnqueuedAt: time.Now().UTC()}
		if err := in.states.Swap(ctx, st, rev); err != nil && !errors.Is(err, statusstore.ErrChanged) {
			return fmt.Errorf("inspect: replay dead-letter record %d: reset status of task %s: %w", e.Seq, e.ID, err)
		}
	}
	// Gone meanwhile: replayed or removed by someone else. The task is back
	// in its queue either way (once only, if it was a replay).
	if err := in.deleteDeadLetter(ctx, r, e.Seq); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	in.dropOriginal(ctx, e)
	return nil
}

// publishError classifies the error of a replay's publish as the producer
// classifies an enqueue's: a work stream at its limits is
// producer.ErrQueueFull, a task past the server's size limits
// tasks.ErrInvalidPayload, a stream that did not answer in time
// producer.ErrUnavailable. The first and last wrap producer.ErrRetryable:
// the same replay may succeed later.
func publishError(err error) error {
	switch {
	case retry.Classify(err) == retry.NoRoom:
		return fmt.Errorf("%w: %w", producer.ErrQueueFull, err)
	case errors.Is(err, nats.ErrMaxPayload), errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum):
		return fmt.Errorf("%w: %w", tasks.ErrInvalidPayload, err)
	case retry.Transient(err):
		return fmt.Errorf("%w: %w", producer.ErrUnavailable, err)
	}
	return err
}

// ReplayDeadLetters replays, oldest first, every record f selects that was
// filed when it started — a replayed task that fails again is not replayed
// twice — and returns how many it replayed. It ignores f.Limit and f.Order
// but applies f.After in f.Order's direction. On an error it stops and
// returns how many it replayed before; records removed meanwhile are
// skipped.
func (in *Inspector) ReplayDeadLetters(ctx context.Context, f DeadLetterFilter) (int, error) {
	n := 0
	err := in.scanDeadLetters(ctx, f, OldestFirst, func(r *dlReader, e DeadLetter) (bool, error) {
		if err := in.replayDeadLetter(ctx, r, e); err != nil {
			return false, err
		}
		n++
		return true, nil
	})
	return n, err
}

// DeleteDeadLetter removes the record at seq for good, and the stored
// original of a truncated record. It returns an error wrapping [ErrNotFound]
// when there is none.
func (in *Inspector) DeleteDeadLetter(ctx context.Context, seq uint64) error {
	r, err := in.dlqReader(ctx)
	if err != nil {
		return err
	}
	e, gerr := in.getDeadLetter(ctx, r, seq)
	if errors.Is(gerr, ErrNotFound) {
		// Deleting past the last sequence fails with the store's own error.
		return gerr
	}
	if err := in.deleteDeadLetter(ctx, r, seq); err != nil {
		return err
	}
	if gerr == nil {
		in.dropOriginal(ctx, e)
	}
	return nil
}

func (in *Inspector) deleteDeadLetter(ctx context.Context, r *dlReader, seq uint64) error {
	err := r.stream.DeleteMsg(ctx, seq)
	if err != nil && retry.Gone(err) {
		return fmt.Errorf("%w: no such record %d in the dead-letter stream", ErrNotFound, seq)
	}
	if err != nil {
		return fmt.Errorf("inspect: delete dead-letter record %d: %w", seq, err)
	}
	return nil
}

// PurgeDeadLetters removes every record f selects (f.Limit and f.Order
// aside, f.After applied in f.Order's direction) and returns how many it
// removed. When f selects by Task and Queue only, the server purges by
// subject in one request, records filed during the purge included; otherwise
// the records filed when PurgeDeadLetters started are read and deleted one
// by one, with the stored originals of truncated records (a purge by subject
// leaves those to expire with the records' max age). The zero
// DeadLetterFilter purges the whole stream. It returns an error wrapping
// [ErrInvalidQuery] for an invalid filter.
func (in *Inspector) PurgeDeadLetters(ctx context.Context, f DeadLetterFilter) (int, error) {
	if err := f.validate(); err != nil {
		return 0, err
	}
	if f.bySubjectOnly() {
		return in.purgeDeadLetterSubject(ctx, f.subject(in.names))
	}
	n := 0
	err := in.scanDeadLetters(ctx, f, OldestFirst, func(r *dlReader, e DeadLetter) (bool, error) {
		if err := in.deleteDeadLetter(ctx, r, e.Seq); errors.Is(err, ErrNotFound) {
			return true, nil // removed meanwhile
		} else if err != nil {
			return false, err
		}
		in.dropOriginal(ctx, e)
		n++
		return true, nil
	})
	return n, err
}

// purgeDeadLetterSubject purges the records on subject. It talks to the API
// itself because jetstream.Stream.Purge does not return how many were
// purged.
func (in *Inspector) purgeDeadLetterSubject(ctx context.Context, subject string) (int, error) {
	body, err := json.Marshal(struct {
		Filter string `json:"filter"`
	}{subject})
	if err != nil {
		return 0, err
	}
	ctx, cancel := directget.WithTimeout(ctx, in.js)
	defer cancel()
	m, err := in.js.Conn().RequestWithContext(ctx, directget.APIPrefix(in.js)+"STREAM.PURGE."+in.names.DLQStream(), body)
	if err != nil {
		return 0, fmt.Errorf("inspect: purge %s: %w", subject, err)
	}
	var resp struct {
		Error  *jetstream.APIError `json:"error"`
		Purged uint64              `json:"purged"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return 0, fmt.Errorf("inspect: purge %s: %w", subject, err)
	}
	if resp.Error != nil {
		if resp.Error.ErrorCode == jetstream.JSErrCodeStreamNotFound {
			return 0, nil // nothing was ever dead-lettered
		}
		return 0, fmt.Errorf("inspect: purge %s: %w", subject, resp.Error)
	}
	return int(resp.Purged), nil
}

// DeadLetterStats summarises the dead-letter stream. The zero
// DeadLetterStats describes an empty stream.
type DeadLetterStats struct {
	// Total is the number of records.
	Total int `json:"total"`
	// ByTask and ByReason count the records per task name and per reason.
	ByTask   map[string]int       `json:"by_task"`
	ByReason map[tasks.Reason]int `json:"by_reason"`
	// Oldest and Newest are the earliest and latest FailedAt; zero when
	// there is no record.
	Oldest time.Time `json:"oldest,omitzero"`
	Newest time.Time `json:"newest,omitzero"`
}

// DeadLetterStats counts the dead-letter records by task and by reason. It
// reads every record, about 256 per request. The maps of the result are
// never nil. A missing dead-letter stream counts as empty.
func (in *Inspector) DeadLetterStats(ctx context.Context) (DeadLetterStats, error) {
	st := DeadLetterStats{ByTask: map[string]int{}, ByReason: map[tasks.Reason]int{}}
	err := in.scanDeadLetters(ctx, DeadLetterFilter{}, OldestFirst, func(_ *dlReader, e DeadLetter) (bool, error) {
		st.Total++
		st.ByTask[e.Task]++
		st.ByReason[e.Reason]++
		if st.Oldest.IsZero() || e.FailedAt.Before(st.Oldest) {
			st.Oldest = e.FailedAt
		}
		if e.FailedAt.After(st.Newest) {
			st.Newest = e.FailedAt
		}
		return true, nil
	})
	return st, err
}
