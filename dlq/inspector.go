package dlq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// Inspector reads and manages the dead-letter stream. It is safe for
// concurrent use.
type Inspector struct {
	js   jetstream.JetStream
	topo wire.Topology
}

// NewInspector returns an inspector working through js. It does no I/O. It
// returns an error wrapping [ErrInvalidOption] for a bad option.
func NewInspector(js jetstream.JetStream, opts ...Option) (*Inspector, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: jetstream.JetStream is nil", ErrInvalidOption)
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return &Inspector{js: js, topo: c.topo}, nil
}

func (in *Inspector) stream(ctx context.Context) (jetstream.Stream, error) {
	s, err := in.js.Stream(ctx, in.topo.Names.DLQStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("%w: there is no dead-letter stream %s yet", ErrNotFound, in.topo.Names.DLQStream())
	}
	if err != nil {
		return nil, fmt.Errorf("dlq: %w", err)
	}
	return s, nil
}

// List returns the records f selects, at most f.Limit (default 100), in
// f.Order. Page through many with f.After. It reads only headers to select,
// then the payloads of the records it returns.
func (in *Inspector) List(ctx context.Context, f Filter) ([]Entry, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	all, err := in.scan(ctx, f)
	if err != nil {
		return nil, err
	}
	if f.Order == NewestFirst {
		slices.Reverse(all)
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	if len(all) == 0 {
		return nil, nil
	}
	if f.HeadersOnly {
		for i := range all {
			all[i].Header = nil
		}
		return all, nil
	}
	s, err := in.stream(ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, e := range all {
		full, err := in.get(ctx, s, e.Seq)
		if errors.Is(err, ErrNotFound) {
			continue // removed since the scan
		}
		if err != nil {
			return nil, err
		}
		out = append(out, full)
	}
	return out, nil
}

// scan reads the headers of every record f selects, oldest first, with an
// ordered consumer over the narrowest subject.
func (in *Inspector) scan(ctx context.Context, f Filter) ([]Entry, error) {
	s, err := in.stream(ctx)
	if errors.Is(err, ErrNotFound) {
		return nil, nil // nothing was ever dead-lettered
	}
	if err != nil {
		return nil, err
	}
	subject := f.subject(in.topo.Names)
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return nil, fmt.Errorf("dlq: %w", err)
	}
	if len(info.State.Subjects) == 0 {
		return nil, nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, HeadersOnly: true}
	switch {
	case f.After != 0 && f.Order == OldestFirst:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, f.After+1
	case !f.Since.IsZero():
		since := f.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("dlq: %w", err)
	}
	var out []Entry
	for {
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return nil, fmt.Errorf("dlq: %w", err)
		}
		n := 0
		var pending uint64
		for msg := range batch.Messages() {
			n++
			md, err := msg.Metadata()
			if err != nil {
				return nil, fmt.Errorf("dlq: %w", err)
			}
			pending = md.NumPending
			e, err := entryOf(in.topo.Names, md.Sequence.Stream, msg.Subject(), msg.Headers(), nil)
			if err != nil {
				continue // not a record of ours
			}
			if f.match(e) {
				out = append(out, e)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("dlq: %w", err)
		}
		if n == 0 || pending == 0 {
			return out, nil
		}
	}
}

// Get returns the record at seq. It returns an error wrapping [ErrNotFound]
// when there is none.
func (in *Inspector) Get(ctx context.Context, seq uint64) (Entry, error) {
	s, err := in.stream(ctx)
	if err != nil {
		return Entry{}, err
	}
	return in.get(ctx, s, seq)
}

func (in *Inspector) get(ctx context.Context, s jetstream.Stream, seq uint64) (Entry, error) {
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Entry{}, fmt.Errorf("%w: %d", ErrNotFound, seq)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("dlq: %w", err)
	}
	return entryOf(in.topo.Names, seq, m.Subject, m.Header, m.Data)
}

// Replay sends the task of the record at seq back to its queue as a fresh
// task: the same ID, payload and headers (trace context included), attempts
// counted from 1 again. Once the work stream has stored it, the record is
// deleted. A replay repeated after a failure between the two steps is
// dropped by the work stream's deduplication, so a task is never replayed
// twice from one record. It returns an error wrapping [ErrNotFound] when
// there is no record at seq.
func (in *Inspector) Replay(ctx context.Context, seq uint64) error {
	s, err := in.stream(ctx)
	if err != nil {
		return err
	}
	e, err := in.get(ctx, s, seq)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(e.Subject)
	if msg.Subject == "" {
		msg.Subject = in.topo.Names.TaskSubject(e.Queue, e.Task)
	}
	for k, v := range e.Header {
		if !strings.HasPrefix(k, "Jetq-Dlq-") && !strings.HasPrefix(k, "Nats-") {
			msg.Header[k] = v
		}
	}
	msg.Data = e.Payload
	msg.Header.Set(wire.HeaderID, e.ID)
	// Not the task ID: the work stream may still remember it from the
	// original enqueue and would drop the replay as a duplicate.
	msg.Header.Set(wire.HeaderMsgID, e.ID+":replay:"+strconv.FormatUint(seq, 10))
	msg.Header.Set(wire.HeaderEnqueuedAt, time.Now().UTC().Format(wire.TimeFormat))
	msg.Header.Set(wire.HeaderReplayOf, wire.RecordID(in.topo.Names.DLQStream(), seq))
	ack, err := in.js.PublishMsg(ctx, msg)
	if err != nil {
		return fmt.Errorf("dlq: replay record %d to %s: %w", seq, msg.Subject, err)
	}
	if ack.Stream != in.topo.Names.WorkStream() {
		return fmt.Errorf("dlq: replay record %d: stored by stream %s, not %s", seq, ack.Stream, in.topo.Names.WorkStream())
	}
	return in.delete(ctx, s, seq)
}

// ReplayAll replays every record f selects (its Limit is ignored) and
// returns how many it replayed.
func (in *Inspector) ReplayAll(ctx context.Context, f Filter) (int, error) {
	return in.each(ctx, f, in.Replay)
}

// Delete removes the record at seq for good. It returns an error wrapping
// [ErrNotFound] when there is none.
func (in *Inspector) Delete(ctx context.Context, seq uint64) error {
	s, err := in.stream(ctx)
	if err != nil {
		return err
	}
	return in.delete(ctx, s, seq)
}

func (in *Inspector) delete(ctx context.Context, s jetstream.Stream, seq uint64) error {
	err := s.DeleteMsg(ctx, seq)
	if err != nil && strings.Contains(err.Error(), "no message found") {
		return fmt.Errorf("%w: %d", ErrNotFound, seq)
	}
	if err != nil {
		return fmt.Errorf("dlq: delete record %d: %w", seq, err)
	}
	return nil
}

// Purge removes every record f selects (its Limit is ignored) and returns
// how many it removed.
func (in *Inspector) Purge(ctx context.Context, f Filter) (int, error) {
	if err := f.validate(); err != nil {
		return 0, err
	}
	if !f.bySubjectOnly() {
		return in.each(ctx, f, in.Delete)
	}
	s, err := in.stream(ctx)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	subject := f.subject(in.topo.Names)
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, fmt.Errorf("dlq: %w", err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
		return 0, fmt.Errorf("dlq: purge %s: %w", subject, err)
	}
	return int(n), nil
}

func (in *Inspector) each(ctx context.Context, f Filter, fn func(context.Context, uint64) error) (int, error) {
	f.Limit, f.HeadersOnly = -1, true
	entries, err := in.List(ctx, f)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if err := fn(ctx, e.Seq); errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		} else if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Stats summarises the dead-letter stream.
type Stats struct {
	// Total is the number of records.
	Total int `json:"total"`
	// ByTask and ByReason count records per task name and per reason.
	ByTask   map[string]int       `json:"by_task"`
	ByReason map[tasks.Reason]int `json:"by_reason"`
	// Oldest and Newest are when the first and last records were filed.
	Oldest time.Time `json:"oldest,omitzero"`
	Newest time.Time `json:"newest,omitzero"`
}

// Stats counts the records by task and by reason.
func (in *Inspector) Stats(ctx context.Context) (Stats, error) {
	st := Stats{ByTask: map[string]int{}, ByReason: map[tasks.Reason]int{}}
	all, err := in.scan(ctx, Filter{})
	if err != nil {
		return st, err
	}
	for _, e := range all {
		st.Total++
		st.ByTask[e.Task]++
		st.ByReason[e.Reason]++
		if st.Oldest.IsZero() || e.FailedAt.Before(st.Oldest) {
			st.Oldest = e.FailedAt
		}
		if e.FailedAt.After(st.Newest) {
			st.Newest = e.FailedAt
		}
	}
	return st, nil
}
