package inspect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/directget"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// scanner reads the messages of a stream on a subject filter in stream
// order: in batched direct gets where the stream allows them, else one
// get a message.
type scanner struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	direct bool
	filter string
	// seq is the next sequence to read; since, while set, starts the
	// first read at a time instead, and from drops what that read finds
	// before seq.
	seq, from uint64
	since     *time.Time
	// batch is the next batch's size; it doubles up to maxBatch.
	batch int
	buf   []directget.Msg
	done  bool
}

// Bounds of one batched read.
const (
	maxBatch      = 1024
	maxBatchBytes = 4 << 20
)

// newScanner reads filter from sequence from on, or, with since, from the
// first message at or after since that is at or after from (the server
// finds it by time, reading nothing before it; a stream without direct
// gets is read from from, and its caller drops what is before since).
// batch is the first batch's size.
func newScanner(js jetstream.JetStream, st jetstream.Stream, filter string, from uint64, since time.Time, batch int) *scanner {
	from = max(from, 1)
	s := &scanner{js: js, stream: st, direct: st.CachedInfo().Config.AllowDirect, filter: filter, seq: from, from: from, batch: min(max(batch, 1), maxBatch)}
	if !since.IsZero() && s.direct {
		s.since = &since
	}
	return s
}

// next returns the next message; ok is false at the end.
func (s *scanner) next(ctx context.Context) (m directget.Msg, ok bool, err error) {
	for len(s.buf) == 0 {
		if s.done {
			return m, false, nil
		}
		if err := s.read(ctx); err != nil {
			return m, false, err
		}
	}
	m, s.buf = s.buf[0], s.buf[1:]
	return m, true, nil
}

func (s *scanner) read(ctx context.Context) error {
	if !s.direct {
		raw, err := s.stream.GetMsg(ctx, s.seq, jetstream.WithGetMsgSubject(s.filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			s.done = true
			return nil
		}
		if err != nil {
			return err
		}
		s.seq = raw.Sequence + 1
		s.buf = append(s.buf, rawMsg(raw))
		return nil
	}
	req := directget.Request{NextFor: s.filter, Batch: s.batch, MaxBytes: maxBatchBytes}
	if s.since != nil {
		req.StartTime, s.since = s.since, nil
	} else {
		req.Seq = s.seq
	}
	msgs, more, err := directget.Batch(ctx, s.js, s.stream.CachedInfo().Config.Name, req)
	if err != nil {
		return err
	}
	s.batch = min(2*s.batch, maxBatch)
	s.done = !more || len(msgs) == 0
	if len(msgs) > 0 {
		s.seq = max(s.seq, msgs[len(msgs)-1].Seq+1)
	}
	for len(msgs) > 0 && msgs[0].Seq < s.from {
		msgs = msgs[1:]
	}
	s.buf = msgs
	return nil
}

// taskInfo is the task of message m of stream, on task subject queue.name.
func taskInfo(m directget.Msg, stream, queue, name string, st State) TaskInfo {
	h := make(nats.Header, len(m.Header))
	for k, v := range m.Header {
		h[k] = v
	}
	for _, k := range directGetHeaders {
		delete(h, k)
	}
	t := TaskInfo{
		ID: wire.TaskID(tasks.Header(h), stream, m.Seq), Task: name, Queue: queue, State: st,
		Seq: m.Seq, EnqueuedAt: m.Stored.UTC(), Header: h, Payload: m.Data,
	}
	if at, err := wire.ParseTime(h.Get(wire.HeaderEnqueuedAt)); err == nil {
		t.EnqueuedAt = at
	}
	return t
}

// subjects is the filter of the subjects under base (such as
// "jetq.task.") that q keeps.
func subjects(base string, q Query) string {
	switch {
	case q.Queue != "" && q.Task != "":
		return base + q.Queue + "." + q.Task
	case q.Queue != "":
		return base + q.Queue + ".>"
	case q.Task != "":
		return base + "*." + q.Task
	}
	return base + ">"
}

// stream returns the stream name, or nil when it does not exist.
func (in *Inspector) stream(ctx context.Context, name string) (jetstream.Stream, error) {
	st, err := in.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inspect: stream %s: %w", name, err)
	}
	return st, nil
}

// rawMsg is m as a direct get reads it.
func rawMsg(m *jetstream.RawStreamMsg) directget.Msg {
	return directget.Msg{Seq: m.Sequence, Subject: m.Subject, Stored: m.Time, Header: m.Header, Data: m.Data}
}

// collect reads the page of q from sc. keep returns the task of a message
// that is in the list's state and of q's queue and task; collect applies
// the rest of q (time range, match, limit, scan bound) and tok's UpTo.
// msgs are the messages of the page's tasks; extra, on a full page, the
// message kept after them, which the next page starts with.
func collect(ctx context.Context, sc *scanner, q Query, tok cursor, keep func(directget.Msg) (TaskInfo, bool)) (p Page, next *cursor, msgs []directget.Msg, extra *directget.Msg, err error) {
	mt := newMatcher(q.Where)
	for {
		m, ok, err := sc.next(ctx)
		if err != nil {
			return Page{}, nil, nil, nil, err
		}
		if !ok || (tok.UpTo > 0 && m.Seq > tok.UpTo) || (!q.Until.IsZero() && !m.Stored.Before(q.Until)) {
			return p, nil, msgs, nil, nil
		}
		if t, ok := keep(m); ok && !m.Stored.Before(q.Since) && mt.matches(m.Data) {
			if len(p.Tasks) == q.Limit {
				return p, &cursor{After: m.Seq - 1}, msgs, &m, nil
			}
			p.Tasks = append(p.Tasks, t)
			msgs = append(msgs, m)
		}
		p.Scanned++
		if p.Scanned >= q.Scan {
			p.Partial = len(p.Tasks) < q.Limit
			return p, &cursor{After: m.Seq}, msgs, nil, nil
		}
	}
}
