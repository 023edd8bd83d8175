package pausing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/topology"
)

// Forever is the PauseUntil of a pause until resumed: far enough ahead
// that it never comes, within what RFC 3339 and the server's timers take.
var Forever = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// applyRounds bounds the rounds of one apply while the records keep
// changing under it.
const applyRounds = 8

// Scope is what a record pauses: every queue (both empty), one queue
// (Task empty) or one task type.
type Scope struct {
	Queue, Task string
}

// Key is the record's key of s.
func (s Scope) Key() string {
	switch {
	case s.Queue == "":
		return "all"
	case s.Task == "":
		return "queue." + s.Queue
	}
	return "task." + s.Queue + "." + s.Task
}

// scopeOf is the scope of a record's key.
func scopeOf(key string) (Scope, bool) {
	if key == "all" {
		return Scope{}, true
	}
	if q, ok := strings.CutPrefix(key, "queue."); ok {
		return Scope{Queue: q}, true
	}
	if rest, ok := strings.CutPrefix(key, "task."); ok {
		q, t, ok := strings.Cut(rest, ".")
		return Scope{Queue: q, Task: t}, ok
	}
	return Scope{}, false
}

// Covers reports whether s covers the task type (queue, task).
func (s Scope) Covers(queue, task string) bool {
	return s.Queue == "" || s.Queue == queue && (s.Task == "" || s.Task == task)
}

// Record is one pause.
type Record struct {
	// Until is when it ends; zero: when resumed.
	Until time.Time `json:"until,omitzero"`
	// At is when it was made.
	At time.Time `json:"at"`
}

// end is the PauseUntil r asks for at now: zero once it has ended.
func (r Record) end(now time.Time) time.Time {
	switch {
	case r.Until.IsZero():
		return Forever
	case r.Until.After(now):
		return r.Until.UTC()
	}
	return time.Time{}
}

// Records are the pauses by scope.
type Records map[Scope]Record

// Until is the PauseUntil the records ask of the consumer of (queue,
// task) at now: the latest end among the records over it, [Forever] for
// one without an end, zero for none.
func (rs Records) Until(queue, task string, now time.Time) time.Time {
	var until time.Time
	for s, r := range rs {
		if e := r.end(now); s.Covers(queue, task) && e.After(until) {
			until = e
		}
	}
	return until
}

// Store reads and writes the records and applies them. It opens the
// bucket on first use and is safe for concurrent use.
type Store struct {
	js     jetstream.JetStream
	names  wire.Names
	bucket *provision.Bucket
}

// New returns the store of topo's pauses; it does no I/O.
func New(js jetstream.JetStream, topo topology.Topology) *Store {
	// Reads from the leader: an apply must see the write it follows.
	return &Store{js: js, names: wire.NamesOf(topo), bucket: provision.NewBucket(js, wire.PauseBucketConfig(topo)).ReadFromLeader()}
}

// open returns the bucket, nil without error when it does not exist and
// create is not set.
func (s *Store) open(ctx context.Context, create bool) (jetstream.KeyValue, error) {
	kv, err := s.bucket.Open(ctx, create)
	if !create && errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil // nothing was ever paused
	}
	if err != nil {
		return nil, fmt.Errorf("pause bucket %s: %w", s.bucket.Name(), err)
	}
	return kv, nil
}

// Set writes the pause of s until until (zero: until resumed).
func (s *Store) Set(ctx context.Context, sc Scope, until time.Time) error {
	kv, err := s.open(ctx, true)
	if err != nil {
		return err
	}
	r := Record{At: time.Now().UTC()}
	if !until.IsZero() {
		r.Until = until.UTC()
	}
	b, _ := json.Marshal(r) // cannot fail
	if _, err := kv.Put(ctx, sc.Key(), b); err != nil {
		return fmt.Errorf("pause bucket %s: %w", s.bucket.Name(), err)
	}
	return nil
}

// Clear removes the pause of sc and those of the scopes within it.
func (s *Store) Clear(ctx context.Context, sc Scope) error {
	rs, err := s.Records(ctx)
	if err != nil || len(rs) == 0 {
		return err
	}
	kv, err := s.open(ctx, false)
	if err != nil || kv == nil {
		return err
	}
	for in := range rs {
		if sc.Covers(in.Queue, in.Task) {
			if err := kv.Delete(ctx, in.Key()); err != nil {
				return fmt.Errorf("pause bucket %s: %w", s.bucket.Name(), err)
			}
		}
	}
	return nil
}

// Records reads every record; none when nothing was ever paused.
func (s *Store) Records(ctx context.Context) (Records, error) {
	kv, err := s.open(ctx, false)
	if err != nil || kv == nil {
		return nil, err
	}
	// The stream's subjects name the keys in one request; listing the keys
	// would make a consumer on every read (a scrape, a page).
	st, err := s.js.Stream(ctx, "KV_"+s.bucket.Name())
	if err != nil {
		return nil, fmt.Errorf("pause bucket %s: %w", s.bucket.Name(), err)
	}
	prefix := "$KV." + s.bucket.Name() + "."
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return nil, fmt.Errorf("pause bucket %s: %w", s.bucket.Name(), err)
	}
	var scopes []Scope
	for subj := range info.State.Subjects {
		if sc, ok := scopeOf(strings.TrimPrefix(subj, prefix)); ok {
			scopes = append(scopes, sc) // a deleted key reads as none
		}
	}
	return s.read(ctx, kv, scopes)
}

// over reads the records over the task type (queue, task).
func (s *Store) over(ctx context.Context, queue, task string) (Records, error) {
	kv, err := s.open(ctx, false)
	if err != nil || kv == nil {
		return nil, err
	}
	return s.read(ctx, kv, []Scope{{}, {Queue: queue}, {Queue: queue, Task: task}})
}

// read reads the records of scopes that exist.
func (s *Store) read(ctx context.Context, kv jetstream.KeyValue, scopes []Scope) (Records, error) {
	rs := Records{}
	for _, sc := range scopes {
		r, err := s.get(ctx, kv, sc)
		if err != nil {
			return nil, err
		}
		if r != nil {
			rs[sc] = *r
		}
	}
	return rs, nil
}

// get reads the record of sc, nil when there is none.
func (s *Store) get(ctx context.Context, kv jetstream.KeyValue, sc Scope) (*Record, error) {
	e, err := kv.Get(ctx, sc.Key())
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pause bucket %s: %w", s.bucket.Name(), err)
	}
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, fmt.Errorf("pause bucket %s: record %s: %w", s.bucket.Name(), sc.Key(), err)
	}
	return &r, nil
}

// Until is the PauseUntil the records ask of the consumer of (queue,
// task) now; see [Records.Until].
func (s *Store) Until(ctx context.Context, queue, task string) (time.Time, error) {
	rs, err := s.over(ctx, queue, task)
	if err != nil {
		return time.Time{}, err
	}
	return rs.Until(queue, task, time.Now()), nil
}

// Mode is how [Store.Apply] may change a consumer.
type Mode int

const (
	// Exact sets the consumer's PauseUntil to what the records ask, pausing
	// or resuming it: what a pause or a resume does.
	Exact Mode = iota
	// HoldOnly pauses a consumer that the records say is paused and is not,
	// or is paused for less, and never resumes one that the records leave
	// paused, unless this apply paused it: what a worker does after it has
	// created a consumer, in case a pause was made meanwhile.
	HoldOnly
)

// Apply makes the consumer of (queue, task) follow the records. It reads
// them again after setting the consumer and goes on until they did not
// change meanwhile. It returns the consumer's PauseUntil (zero: not
// paused). A consumer that does not exist is left alone (zero, nil).
func (s *Store) Apply(ctx context.Context, queue, task string, mode Mode) (time.Time, error) {
	stream, durable := s.names.WorkStream(), s.names.Durable(queue, task)
	set := false
	for range applyRounds {
		want, err := s.Until(ctx, queue, task)
		if err != nil {
			return time.Time{}, err
		}
		if want.IsZero() && mode == HoldOnly && !set {
			return time.Time{}, nil // nothing to hold
		}
		c, err := s.js.Consumer(ctx, stream, durable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			return time.Time{}, nil
		}
		if err != nil {
			return time.Time{}, err
		}
		have := pausedUntil(c.CachedInfo())
		change := !have.Equal(want) && (mode == Exact || set || want.After(have))
		if !change {
			if mode == HoldOnly && !set {
				return have, nil
			}
		} else {
			if err := s.setConsumer(ctx, stream, durable, want); err != nil {
				return time.Time{}, err
			}
			set = true
			have = want
		}
		again, err := s.Until(ctx, queue, task)
		if err != nil {
			return time.Time{}, err
		}
		if again.Equal(want) {
			return have, nil
		}
	}
	return time.Time{}, fmt.Errorf("the pauses over %s/%s kept changing while they were applied; apply again", queue, task)
}

// pausedUntil is the PauseUntil of a consumer, zero when it is not paused.
func pausedUntil(ci *jetstream.ConsumerInfo) time.Time {
	if ci == nil || ci.Config.PauseUntil == nil || !ci.Config.PauseUntil.After(time.Now()) {
		return time.Time{}
	}
	return ci.Config.PauseUntil.UTC()
}

// setConsumer pauses the durable until until, or resumes it (zero).
//
// A resume alone lets pulls waiting on the consumer wait on: the server
// delivers to them once a task is stored, a pull comes or one expires
// (nats-server 2.15.2, consumer.go, loopAndGatherMsgs: a resume does not
// signal the delivery loop, while a PauseUntil that passes does, from its
// timer), up to a second with the worker's waiting pulls. So after a
// resume the consumer is unpinned in the priority group every pull names:
// a request that has no other effect on an overflow group, and signals
// the loop, which delivers to the waiting pulls at once. In a cluster the
// resume is applied through the meta leader, so the unpin waits, at most
// wakeWait, until the consumer's leader reports it resumed. The wake is
// best effort: without it the pulls still take tasks within their expiry.
func (s *Store) setConsumer(ctx context.Context, stream, durable string, until time.Time) error {
	if !until.IsZero() {
		if _, err := s.js.PauseConsumer(ctx, stream, durable, until); err != nil {
			return fmt.Errorf("pause consumer %s: %w", durable, err)
		}
		return nil
	}
	if _, err := s.js.ResumeConsumer(ctx, stream, durable); err != nil {
		return fmt.Errorf("resume consumer %s: %w", durable, err)
	}
	s.wake(ctx, stream, durable)
	return nil
}

// wakeWait bounds the wait for a resume to reach the consumer's leader.
const wakeWait = 2 * time.Second

// wake signals the delivery loop of the resumed durable; see setConsumer.
func (s *Store) wake(ctx context.Context, stream, durable string) {
	ctx, cancel := context.WithTimeout(ctx, wakeWait)
	defer cancel()
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return
	}
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		c, err := st.Consumer(ctx, durable)
		if err != nil {
			return
		}
		if !c.CachedInfo().Paused {
			break
		}
		select {
		case <-ctx.Done():
			return // paused again meanwhile, or the resume is slow to apply
		case <-time.After(wait):
		}
	}
	_ = st.UnpinConsumer(ctx, durable, wire.PriorityGroup) // best effort, see setConsumer
}

// Watch watches every record, the stored ones first, then a nil entry,
// then each change (deletions too), until ctx ends; see
// jetstream.KeyValue.WatchAll. The bucket is created if it is missing.
func (s *Store) Watch(ctx context.Context) (jetstream.KeyWatcher, error) {
	kv, err := s.open(ctx, true)
	if err != nil {
		return nil, err
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch pause bucket %s: %w", s.bucket.Name(), err)
	}
	return w, nil
}

// Apply applies entry e of a watch to rs: a record put is set, a record
// deleted or purged removed. It reports whether e named a scope; a record
// that cannot be read is an error and changes nothing.
func (rs Records) Apply(e jetstream.KeyValueEntry) (bool, error) {
	sc, ok := scopeOf(e.Key())
	if !ok {
		return false, nil
	}
	if e.Operation() != jetstream.KeyValuePut {
		delete(rs, sc)
		return true, nil
	}
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return false, fmt.Errorf("pause record %s: %w", e.Key(), err)
	}
	rs[sc] = r
	return true, nil
}
