package wire

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/tasks"
)

// ErrMalformed is wrapped by errors about messages that are not task messages
// this version can read.
var ErrMalformed = errors.New("malformed task message")

// NewEnvelope builds the envelope of a task about to be enqueued, headers
// included. The header is fresh and may be extended by middleware.
func NewEnvelope(n Names, spec tasks.Spec, id string, body []byte, now time.Time) *tasks.Envelope {
	t := NewTemplate(n, spec, now)
	return t.Envelope(id, body)
}

// Template holds what the envelopes of one enqueue call share — subject,
// enqueue time, content type — worked out once for a whole batch.
type Template struct {
	name, queue, subject, contentType string
	t                                 time.Time
	maxAttempts                       int
}

// NewTemplate prepares the envelopes of tasks of spec enqueued at now.
func NewTemplate(n Names, spec tasks.Spec, now time.Time) Template {
	ct := spec.Codec.ContentType()
	if ct == tasks.JSON.ContentType() {
		ct = "" // the default: no header needed
	}
	return Template{
		name: spec.Name, queue: spec.Queue, subject: n.TaskSubject(spec.Queue, spec.Name),
		contentType: ct, t: now.UTC(), maxAttempts: spec.MaxAttempts,
	}
}

// Envelope builds the envelope of one task with ID id (a new ID where id is
// "") and encoded payload body. Its header is fresh and may be extended by
// middleware.
func (t *Template) Envelope(id string, body []byte) *tasks.Envelope {
	env := new(tasks.Envelope)
	t.fill(env, id, body)
	return env
}

// Envelopes builds the envelopes of len(bodies) tasks, the i-th with ID
// ids[i] (a new ID where ids is nil or ids[i] is "") and encoded payload bodies[i]. The
// envelopes share one allocation; each header map is its own.
func (t *Template) Envelopes(ids []string, bodies [][]byte) []*tasks.Envelope {
	slab := make([]tasks.Envelope, len(bodies))
	envs := make([]*tasks.Envelope, len(bodies))
	for i, body := range bodies {
		var id string
		if ids != nil {
			id = ids[i]
		}
		envs[i] = &slab[i]
		t.fill(envs[i], id, body)
	}
	return envs
}

// fill sets env to the task with ID id (a new one where id is "") and
// encoded payload body. Its message
// carries only what the subject and the stream do not say: the ID as
// Nats-Msg-Id (the server's deduplication key), and the content type when it
// is not JSON. Queue and task name are the subject's tokens; the enqueue
// time is the stream's timestamp; the wire version is 1 when unsaid.
func (t *Template) fill(env *tasks.Envelope, id string, body []byte) {
	if id == "" {
		id = NewIDAt(t.t)
	}
	h := make(tasks.Header, 2) // ours, plus room for a traceparent
	h[HeaderMsgID] = []string{id}
	if t.contentType != "" {
		h[HeaderContentType] = []string{t.contentType}
	}
	*env = tasks.Envelope{
		ID:          id,
		Name:        t.name,
		Queue:       t.queue,
		Subject:     t.subject,
		EnqueuedAt:  t.t,
		Header:      h,
		Body:        body,
		MaxAttempts: t.maxAttempts,
	}
}

// Msg is the NATS message that carries env. It shares env's header and body;
// a delayed task ([Delay]) goes to its schedule subject.
func Msg(env *tasks.Envelope) *nats.Msg {
	subject := env.Subject
	if env.ScheduleSubject != "" {
		subject = env.ScheduleSubject
	}
	return &nats.Msg{Subject: subject, Header: nats.Header(env.Header), Data: env.Body}
}

// ReadRoute reads into env the envelope of msg, delivered by a consumer
// filtered on subject, the task subject of queue and name: a delivery on that
// subject needs no parsing (with subject "", the subject is parsed). Headers
// a non-jetq publisher left out are derived: queue and name from the subject,
// the ID from Nats-Msg-Id or else "<stream>:<seq>" (stable across
// redeliveries), the enqueue time from the stream's timestamp. Everything in
// env is overwritten. A message of another wire version or whose headers
// contradict its subject is malformed: the error wraps [ErrMalformed], and
// env holds what could be read, always including the ID.
func ReadRoute(env *tasks.Envelope, n Names, msg jetstream.Msg, md *jetstream.MsgMetadata, subject, queue, name string) error {
	h := tasks.Header(msg.Headers())
	if h == nil {
		h = tasks.Header{}
	}
	*env = tasks.Envelope{
		ID:       TaskID(h, md.Stream, md.Sequence.Stream),
		Subject:  msg.Subject(),
		Header:   h,
		Body:     msg.Data(),
		Attempt:  Attempt(h, md.NumDelivered),
		Stream:   md.Stream,
		Sequence: md.Sequence.Stream,
		Consumer: md.Consumer,
	}
	if v := h.Get(HeaderVersion); v != "" && v != Version {
		return fmt.Errorf("%w: wire version %q, this worker reads %q", ErrMalformed, v, Version)
	}
	if subject == "" || env.Subject != subject {
		var err error
		if queue, name, err = n.ParseTaskSubject(env.Subject); err != nil {
			return fmt.Errorf("%w: %w", ErrMalformed, err)
		}
	}
	env.Queue, env.Name = queue, name
	if t := h.Get(HeaderTask); t != "" && t != name {
		return fmt.Errorf("%w: header %s=%q contradicts subject %q", ErrMalformed, HeaderTask, t, env.Subject)
	}
	if q := h.Get(HeaderQueue); q != "" && q != queue {
		return fmt.Errorf("%w: header %s=%q contradicts subject %q", ErrMalformed, HeaderQueue, q, env.Subject)
	}
	env.EnqueuedAt = md.Timestamp.UTC()
	if s := h.Get(HeaderEnqueuedAt); s != "" {
		if at, err := ParseTime(s); err == nil {
			env.EnqueuedAt = at
		}
	}
	if s := h.Get(HeaderDeadline); s != "" {
		dl, err := ParseTime(s)
		if err != nil {
			return fmt.Errorf("%w: header %s=%q is not an RFC 3339 time", ErrMalformed, HeaderDeadline, s)
		}
		env.Deadline = dl
	} else {
		env.Deadline = periodicDeadline(h)
	}
	return nil
}

// TaskID is the ID of the task whose message has header h and sits at seq
// in stream: Jetq-Id, else a periodic firing's [PeriodicID], else
// Nats-Msg-Id, else "<stream>:<seq>".
func TaskID(h tasks.Header, stream string, seq uint64) string {
	if id := h.Get(HeaderID); id != "" {
		return id
	}
	if id := periodicID(h); id != "" {
		return id
	}
	if id := h.Get(HeaderMsgID); id != "" {
		return id
	}
	return stream + ":" + strconv.FormatUint(seq, 10)
}
