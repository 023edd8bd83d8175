package statusstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// MaxInline is the largest result kept in its status record. The record is
// JSON, where bytes are base64 (4/3 of their size), and the bucket takes
// values of at most 64 KiB: 32 KiB of result leaves room for the rest of
// the record. A larger result goes to the results object store.
const MaxInline = 32 << 10

// errCodeTTLDisabled is the server's answer to a per-message TTL on a
// stream that does not allow them (JSMessageTTLDisabledErr).
const errCodeTTLDisabled = 10166

// Final records st, a final outcome, as the task's status in one write
// that the server deletes after ttl (a per-message TTL, rounded up to whole
// seconds). Its error text is cut to wire.MaxErrorLen. A result st.Result larger than [MaxInline] is stored in the
// results object store first and the record holds its ResultRef instead;
// st.ResultSize is set either way. A status bucket made without per-message
// TTLs (by an earlier release) is updated to allow them, once.
func (s *Store) Final(ctx context.Context, st status.Status, ttl time.Duration) error {
	st.Error = wire.Truncate(st.Error, wire.MaxErrorLen) // a panic's stack must not make the record too large
	if len(st.Result) > 0 {
		st.ResultSize = len(st.Result)
		if len(st.Result) > MaxInline {
			ref, err := s.putResult(ctx, st.ID, st.Result)
			if err != nil {
				return err
			}
			st.Result, st.ResultRef = nil, ref
		}
	}
	if _, err := s.bucket(ctx); err != nil {
		return err
	}
	b, err := encode(st)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: s.names.StatusKeySubject(status.Key(st.ID)), Data: b, Header: nats.Header{}}
	msg.Header.Set(wire.HeaderTTL, wire.TTL(ttl))
	_, err = s.js.PublishMsg(ctx, msg)
	if isTTLDisabled(err) {
		if err = s.allowTTL(ctx); err == nil {
			_, err = s.js.PublishMsg(ctx, msg)
		}
	}
	if err != nil {
		return fmt.Errorf("status bucket %s: record final status of task %q: %w", s.kv.Name(), st.ID, err)
	}
	return nil
}

func isTTLDisabled(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeTTLDisabled
}

// allowTTL turns on per-message TTLs on the status bucket's stream: a
// bucket created by CreateKeyValue, or by a release before retention, has
// them off. The server accepts turning them on, never off.
func (s *Store) allowTTL(ctx context.Context) error {
	str, err := s.js.Stream(ctx, "KV_"+s.kv.Name())
	if err != nil {
		return err
	}
	cfg := str.CachedInfo().Config
	if cfg.AllowMsgTTL {
		return nil // turned on meanwhile, by another process
	}
	cfg.AllowMsgTTL = true
	_, err = s.js.UpdateStream(ctx, cfg)
	return err
}

// putResult stores a large result of task id in the results object store
// and returns its reference, the object's name.
func (s *Store) putResult(ctx context.Context, id string, data []byte) (string, error) {
	obs, err := s.results.open(ctx, s.js, true)
	if err != nil {
		return "", err
	}
	if _, err := obs.PutBytes(ctx, id, data); err != nil {
		return "", fmt.Errorf("results %s: store result of task %q: %w", s.results.cfg.Bucket, id, err)
	}
	return id, nil
}

// Result returns the result that st, a final status, holds: its bytes, or
// those of the object it references. A missing object is an error wrapping
// status.ErrNotFound.
func (s *Store) Result(ctx context.Context, st status.Status) ([]byte, error) {
	if st.ResultRef == "" {
		return st.Result, nil
	}
	obs, err := s.results.open(ctx, s.js, false)
	if err == nil {
		var r jetstream.ObjectResult
		if r, err = obs.Get(ctx, st.ResultRef); err == nil {
			defer r.Close()
			var buf bytes.Buffer
			buf.Grow(st.ResultSize)
			_, err = io.Copy(&buf, r)
			if err == nil {
				return buf.Bytes(), nil
			}
		}
	}
	if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrObjectNotFound) {
		err = status.ErrNotFound
	}
	return nil, fmt.Errorf("result %q of task %q: %w", st.ResultRef, st.ID, err)
}

// objects is the results object store, opened on first use.
type objects struct {
	cfg jetstream.ObjectStoreConfig

	mu  sync.Mutex
	obs jetstream.ObjectStore
}

// open returns the bucket; with create, a missing one is created.
func (o *objects) open(ctx context.Context, js jetstream.JetStream, create bool) (jetstream.ObjectStore, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.obs != nil {
		return o.obs, nil
	}
	obs, err := js.ObjectStore(ctx, o.cfg.Bucket)
	if create && errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = js.CreateObjectStore(ctx, o.cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			obs, err = js.ObjectStore(ctx, o.cfg.Bucket)
		}
	}
	if err != nil {
		return nil, err
	}
	o.obs = obs
	return obs, nil
}

// Final is the final status of the task env ended as o, starting from st
// (the task's tracked status, or [Of] its envelope): state, reason and
// error, when its last attempt started and finished, and the result of a
// result task that succeeded, with its content type.
func Final(st status.Status, env *tasks.Envelope, o tasks.Outcome, started time.Time, contentType string) status.Status {
	now := time.Now().UTC()
	switch o.Action {
	case tasks.ActionAck:
		st.State = status.Done
		if env.Result != nil {
			st.Result, st.ContentType = env.Result, contentType
		}
	case tasks.ActionDeadLetter:
		st.State, st.Reason = status.DeadLettered, o.Reason
	case tasks.ActionExpire:
		st.State = status.Expired
	case tasks.ActionCancel:
		st.State = status.Cancelled
	}
	if o.Err != nil {
		st.Error = o.Err.Error()
	}
	st.Attempt = env.Attempt
	st.NextAttemptAt = time.Time{}
	if !started.IsZero() {
		st.StartedAt = started.UTC()
	}
	st.FinishedAt = now
	return st
}

// SettleFinal records that task id ended as change says, outside a worker
// (the forwarder dead-letters it, an operator withdraws it). For a task
// type that keeps its outcome — its durable consumer records a retention
// (wire.MetaRetention) — that is a final record with the retention's TTL,
// made from from() when the task has no record yet; for other types it is
// [Store.Settle]: an update of a tracked task's record, if there is one.
func (s *Store) SettleFinal(ctx context.Context, durable, id string, from func() status.Status, change func(*status.Status)) error {
	keep, err := s.retention(ctx, durable)
	if err != nil {
		return err
	}
	if keep <= 0 {
		return s.Settle(ctx, id, change)
	}
	st, _, err := s.Read(ctx, id)
	if errors.Is(err, status.ErrNotFound) {
		st, err = from(), nil
	}
	if err != nil {
		return err
	}
	change(&st)
	st.NextAttemptAt, st.FinishedAt = time.Time{}, time.Now().UTC()
	return s.Final(ctx, st, keep)
}

// retention is the retention the durable consumer of a task type records,
// 0 for none or for a durable that is gone. An answer is reused for
// [retentionTTL], so that a bulk cancel asks once per task type.
func (s *Store) retention(ctx context.Context, durable string) (time.Duration, error) {
	if durable == "" {
		return 0, nil
	}
	s.kept.mu.Lock()
	r, ok := s.kept.m[durable]
	s.kept.mu.Unlock()
	if ok && time.Since(r.at) < retentionTTL {
		return r.d, nil
	}
	var d time.Duration
	c, err := s.js.Consumer(ctx, s.names.WorkStream(), durable)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
	case err != nil:
		return 0, err
	default:
		d, _ = time.ParseDuration(c.CachedInfo().Config.Metadata[wire.MetaRetention])
		d = max(d, 0)
	}
	s.kept.mu.Lock()
	if s.kept.m == nil {
		s.kept.m = map[string]retained{}
	}
	s.kept.m[durable] = retained{d: d, at: time.Now()}
	s.kept.mu.Unlock()
	return d, nil
}

// retentionTTL is how long [Store.retention] reuses an answer.
const retentionTTL = time.Minute

// retained is the retention of one task type, as read at.
type retained struct {
	d  time.Duration
	at time.Time
}

// retentions are the retentions of task types read so far.
type retentions struct {
	mu sync.Mutex
	m  map[string]retained
}
