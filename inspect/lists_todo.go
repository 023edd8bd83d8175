package inspect

// Until the generic lists land: copies of their helpers, deleted at the merge.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"bytes"
	"encoding/json"
	"github.com/jetq/jetq/internal/directget"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
	"math/big"
	"reflect"
	"strings"
)

// cursor is where a list goes on from: what a page token holds besides
// the state and filters it was made for. Listers get it from [Inspector.Tasks]
// and return the next page's.
type cursor struct {
	// After is the sequence of the last message read; 0 starts the list.
	After uint64 `json:"a,omitempty"`
	// Key is a lister's own place, for a list that is not in stream order.
	Key string `json:"k,omitempty"`
	// UpTo bounds the list to the messages at or below this sequence (a
	// bulk action's plan); 0 leaves it open. Not carried in page tokens.
	UpTo uint64 `json:"-"`
}

// scanner reads the messages of a stream on a subject filter in stream
// order: in batched direct gets where the stream allows them, else one
// get a message.
type scanner struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	direct bool
	filter string
	// seq is the next sequence to read; since, while set, starts the
	// first read at a time instead.
	seq   uint64
	since *time.Time
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

func newScanner(js jetstream.JetStream, st jetstream.Stream, filter string, from uint64, since time.Time, batch int) *scanner {
	s := &scanner{js: js, stream: st, direct: st.CachedInfo().Config.AllowDirect, filter: filter, seq: max(from, 1), batch: min(max(batch, 1), maxBatch)}
	if !since.IsZero() && from <= 1 && s.direct {
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
	s.buf = msgs
	if len(msgs) > 0 {
		s.seq = msgs[len(msgs)-1].Seq + 1
	}
	s.done = !more || len(msgs) == 0
	return nil
}

// readHeaders are the headers the server adds to a message read by a
// direct get: they describe the read, not the task.
var readHeaders = []string{
	jetstream.StreamHeader, jetstream.SequenceHeader, jetstream.TimeStampHeaer, jetstream.SubjectHeader,
	jetstream.LastSequenceHeader, directget.NumPendingHeader,
}

// taskInfo is the task of message m of stream, on task subject queue.name.
func taskInfo(m directget.Msg, stream, queue, name string, st State) TaskInfo {
	h := make(nats.Header, len(m.Header))
	for k, v := range m.Header {
		h[k] = v
	}
	for _, k := range readHeaders {
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

// matcher tests payloads against a checked match.
type matcher struct {
	path []string
	want any
}

func newMatcher(m *Match) *matcher {
	if m == nil {
		return nil
	}
	want, _ := decodeJSON([]byte(m.Value))
	return &matcher{path: strings.Split(m.Path, "."), want: want}
}

// matches reports whether payload has the match's value at its path; nil
// matches everything.
func (mt *matcher) matches(payload []byte) bool {
	if mt == nil {
		return true
	}
	v, ok := decodeJSON(payload)
	if !ok {
		return false
	}
	for _, key := range mt.path {
		obj, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = obj[key]; !ok {
			return false
		}
	}
	return equalJSON(v, mt.want)
}

// decodeJSON decodes b with numbers kept as written; ok is false for what
// is not JSON.
func decodeJSON(b []byte) (v any, ok bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return v, d.Decode(&v) == nil
}

// equalJSON compares decoded JSON values, numbers by value.
func equalJSON(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		b, ok := b.(json.Number)
		if !ok {
			return false
		}
		x, okx := new(big.Rat).SetString(string(a))
		y, oky := new(big.Rat).SetString(string(b))
		return okx && oky && x.Cmp(y) == 0
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !equalJSON(av, bv) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equalJSON(a[i], b[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// Bounds of a [Query].
const (
	DefaultLimit = 50
	MaxLimit     = 1000
	DefaultScan  = 10_000
	MaxScan      = 1_000_000
)

// normalized is q with the defaults the generic lists give it.
func (q Query) normalized() Query {
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Scan == 0 {
		q.Scan = DefaultScan
	}
	return q
}
