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
	name, queue, subject, at, contentType string
	t                                     time.Time
	maxAttempts                           int
}

// NewTemplate prepares the envelopes of tasks of spec enqueued at now.
func NewTemplate(n Names, spec tasks.Spec, now time.Time) Template {
	at := now.UTC()
	return Template{
		name: spec.Name, queue: spec.Queue, subject: n.TaskSubject(spec.Queue, spec.Name),
		at: FormatTime(at), contentType: spec.Codec.ContentType(), t: at, maxAttempts: spec.MaxAttempts,
	}
}

// Envelope builds the envelope of one task with ID id and encoded payload
// body. Its header is fresh and may be extended by middleware.
func (t *Template) Envelope(id string, body []byte) *tasks.Envelope {
	s := new(struct {
		env  tasks.Envelope
		vals [headerCount]string
	})
	t.fill(&s.env, id, body, s.vals[:])
	return &s.env
}

// Envelopes builds the envelopes of len(bodies) tasks, the i-th with ID
// ids[i] (a new ID where ids is nil) and encoded payload bodies[i]. The
// envelopes and their header values share two allocations; each header map
// is its own.
func (t *Template) Envelopes(ids []string, bodies [][]byte) []*tasks.Envelope {
	slab := make([]tasks.Envelope, len(bodies))
	vals := make([]string, headerCount*len(bodies))
	envs := make([]*tasks.Envelope, len(bodies))
	for i, body := range bodies {
		var id string
		if ids != nil {
			id = ids[i]
		}
		if id == "" {
			id = NewID()
		}
		envs[i] = &slab[i]
		t.fill(envs[i], id, body, vals[headerCount*i:headerCount*(i+1)])
	}
	return envs
}

// headerCount is the number of headers every task message carries.
const headerCount = 7

// fill sets env to the task with ID id and encoded payload body, its header
// values stored in vals, of length headerCount.
func (t *Template) fill(env *tasks.Envelope, id string, body []byte, vals []string) {
	vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6] = id, id, t.name, t.queue, t.at, Version, t.contentType
	// Each value slice is capacity-capped so that a middleware's Add to one
	// header cannot spill into the next.
	h := make(tasks.Header, headerCount+1) // one swiss-map group: ours, plus a traceparent
	h[HeaderMsgID] = vals[0:1:1]
	h[HeaderID] = vals[1:2:2]
	h[HeaderTask] = vals[2:3:3]
	h[HeaderQueue] = vals[3:4:4]
	h[HeaderEnqueuedAt] = vals[4:5:5]
	h[HeaderVersion] = vals[5:6:6]
	h[HeaderContentType] = vals[6:7:7]
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

// Msg is the NATS message that carries env. It shares env's header and body.
func Msg(env *tasks.Envelope) *nats.Msg {
	return &nats.Msg{Subject: env.Subject, Header: nats.Header(env.Header), Data: env.Body}
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
		Attempt:  int(md.NumDelivered),
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
	return nil
}

// TaskID is the ID of the task whose message has header h and sits at seq
// in stream: Jetq-Id, else Nats-Msg-Id, else "<stream>:<seq>".
func TaskID(h tasks.Header, stream string, seq uint64) string {
	if id := h.Get(HeaderID); id != "" {
		return id
	}
	if id := h.Get(HeaderMsgID); id != "" {
		return id
	}
	return stream + ":" + strconv.FormatUint(seq, 10)
}
