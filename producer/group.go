package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// Group collects tasks, of one or several types, to enqueue all or nothing
// with [EnqueueGroup]. Add tasks with [Add]. A Group is not safe for
// concurrent use.
type Group struct {
	members []member
	err     error // the first Add refused
}

// member is one task added to a group, validated and encoded; its envelope
// is made by EnqueueGroup, with the producer's names.
type member struct {
	spec tasks.Spec
	id   string
	body []byte
	ec   enqueueConfig
	now  time.Time
}

// NewGroup returns an empty group.
func NewGroup() *Group { return &Group{} }

// Len returns the number of tasks added to g.
func (g *Group) Len() int { return len(g.members) }

// Add adds a task of def with payload to g. An invalid payload or option
// is reported by [EnqueueGroup], which then enqueues nothing.
//
// The options are those of [Enqueue], callbacks ([OnSuccess],
// [OnFailure]) included, each task its own. The task's ID (WithID, or one
// generated here) is fixed by Add, so that calling EnqueueGroup again with
// the same group after a retryable error is idempotent. WithDelay and
// WithRunAt are refused, since a delayed task waits in the schedule stream,
// outside the work stream's atomic batch; so is WithUnique, whose key is
// claimed before the publish, which no batch can include. Enqueue such
// tasks one at a time.
func Add[T any](g *Group, def tasks.Def[T], payload T, opts ...EnqueueOption) {
	i := len(g.members)
	m, err := newMember(def, payload, opts)
	g.members = append(g.members, m)
	if err != nil && g.err == nil {
		g.err = fmt.Errorf("%w (task %d of the group, %s)", err, i, def.Spec().Name)
	}
}

func newMember[T any](def tasks.Def[T], payload T, opts []EnqueueOption) (member, error) {
	now := time.Now()
	ec, err := enqueueOptions(opts, false, 1, now)
	if err != nil {
		return member{}, err
	}
	if err := ec.groupable(); err != nil {
		return member{}, err
	}
	if err := def.Check(); err != nil {
		return member{}, fmt.Errorf("producer: %w", err)
	}
	if err := ec.callbacksOf(def); err != nil {
		return member{}, err
	}
	body, err := def.Encode(payload)
	if err != nil {
		return member{}, fmt.Errorf("producer: %w", err)
	}
	id := ec.id
	if id == "" {
		id = wire.NewIDAt(now)
	}
	return member{spec: def.Spec(), id: id, body: body, ec: ec, now: now}, nil
}

// groupable refuses the options whose effect cannot be part of an atomic
// batch on the work stream.
func (c *enqueueConfig) groupable() error {
	switch {
	case c.debounceSet:
		return fmt.Errorf("%w: WithDebounce cannot be used in a group: a debounced task waits in the schedule stream, outside the work stream's atomic batch; enqueue it with Enqueue", ErrInvalidOption)
	case c.delaySet || c.runAtSet:
		return fmt.Errorf("%w: WithDelay and WithRunAt cannot be used in a group: a delayed task waits in the schedule stream, outside the work stream's atomic batch; enqueue it with Enqueue", ErrInvalidOption)
	case c.uniqueSet:
		return fmt.Errorf("%w: WithUnique cannot be used in a group: its key is claimed before the publish, which the atomic batch cannot include; enqueue unique tasks with Enqueue", ErrInvalidOption)
	}
	return nil
}

// EnqueueGroup enqueues every task of g, or none: the tasks are published
// as one atomic batch, which the server stores whole or not at all (a full
// queue refuses the whole batch with [ErrQueueFull]). A group larger than
// the server's batch limit is split into batches of that size, each atomic
// on its own. Results are in the order of [Add].
//
// What is atomic: each chunk of at most 1000 tasks (nats-server's default
// max_batch_size; a client cannot read the setting, and a server set lower
// refuses a larger batch with an error that names its limit, which the
// producer then uses) is stored whole or not at all. Chunks are published
// one after another in the order of Add, and publishing stops at the first
// that fails: the error is then a [*GroupError] whose Stored says how many
// tasks, from the first, were stored (0 for a group of one chunk), and the
// Results of the others carry why not. A group of at most 1000 tasks is
// stored whole or not at all.
//
// A task whose ID the server already holds within its deduplication window
// is not stored again: its Result says Duplicate, with the stored task's
// Sequence, and the chunk's other tasks are stored together, all or none.
// So a group enqueued twice with the same IDs (WithID, or the same Group
// again) is stored once.
//
// It returns the error of the first invalid [Add] before anything is
// published, an error wrapping [ErrInvalidOption] when two tasks have one
// ID, one wrapping tasks.ErrInvalidPayload for a task too large for the
// server's max_payload, and one wrapping [ErrUnsupported] on servers older
// than nats-server 2.12 or a work stream that does not allow atomic
// batches. Failures that a retry can fix (a disconnect, a timeout, a
// leader election) are retried as [Enqueue] retries them; what still fails
// wraps [ErrUnavailable].
//
// The producer's middleware runs once per chunk, on the chunk's tasks; it
// must pass them on whole and in order (tracing does), else the chunk is
// refused unpublished.
func EnqueueGroup(ctx context.Context, p *Producer, g *Group) ([]Result, error) {
	if g == nil {
		return nil, fmt.Errorf("%w: the group is nil; make one with NewGroup", ErrInvalidOption)
	}
	if g.err != nil {
		return nil, g.err
	}
	n := len(g.members)
	if n == 0 {
		return nil, nil
	}
	if err := g.distinct(); err != nil {
		return nil, err
	}
	if err := p.Provision(ctx); err != nil {
		return nil, err
	}
	if err := p.checkAtomic(ctx); err != nil {
		return nil, err
	}
	envs := make([]*tasks.Envelope, n)
	for i := range g.members {
		m := &g.members[i]
		tpl := wire.NewTemplate(p.cfg.names, m.spec, m.now)
		env := tpl.Envelope(m.id, m.body)
		addHeader(env, m.ec.header)
		if err := p.timing([]*tasks.Envelope{env}, m.spec, &m.ec, m.now); err != nil {
			return nil, fmt.Errorf("%w (task %d of the group)", err, i)
		}
		if size, most := msgSize(env), p.js.Conn().MaxPayload(); size > most {
			return nil, fmt.Errorf("producer: %w: task %d of the group (%s) makes a message of about %d bytes with its headers, more than the server's max_payload of %d: send a smaller payload (keep large data elsewhere and pass its key) or raise max_payload",
				tasks.ErrInvalidPayload, i, m.spec.Name, size, most)
		}
		envs[i] = env
	}
	results := make([]Result, n)
	for lo := 0; lo < n; {
		size := int(p.batchLimit.Load())
		hi := min(lo+size, n)
		chunk := envs[lo:hi]
		errs := p.group(context.WithValue(ctx, chunkKey{}, chunk), chunk)
		err := errors.Join(errs...)
		if limit, ok := tooLarge(err); ok && limit > 0 && limit < size {
			// Nothing of the chunk is stored: publish it again in chunks
			// of the server's size.
			p.batchLimit.Store(int64(limit))
			p.cfg.log.LogAttrs(ctx, slog.LevelInfo, "jetq: the server's atomic batches are smaller than the default; groups are chunked to its size",
				slog.Int("limit", limit))
			continue
		}
		for i, env := range chunk {
			results[lo+i] = result(env, errs[i])
		}
		if err != nil {
			var cause error
			for _, e := range errs {
				if cause = e; cause != nil {
					break
				}
			}
			for i := hi; i < n; i++ {
				results[i] = Result{ID: envs[i].ID, Err: fmt.Errorf("producer: not published: an earlier chunk of the group failed: %w", cause)}
			}
			return results, &GroupError{Stored: lo, Failed: hi - lo, Total: n, Err: cause}
		}
		for i, env := range chunk {
			p.recordQueued(ctx, g.members[lo+i].spec, []*tasks.Envelope{env}, errs[i:i+1])
		}
		lo = hi
	}
	return results, nil
}

// msgSize is about the size of env's message in an atomic batch: its body,
// its header as nats.go encodes it, and the batch's headers.
func msgSize(env *tasks.Envelope) int64 {
	n := len(env.Body) + len("NATS/1.0\r\n\r\n") + batchHeaders
	for k, vs := range env.Header {
		for _, v := range vs {
			n += len(k) + len(": \r\n") + len(v)
		}
	}
	return int64(n)
}

// batchHeaders bounds the size of the headers of an atomic batch's message.
const batchHeaders = 128

// distinct refuses a group in which two tasks have one ID: the server would
// refuse its batch.
func (g *Group) distinct() error {
	seen := make(map[string]int, len(g.members))
	for i, m := range g.members {
		if j, ok := seen[m.id]; ok {
			return fmt.Errorf("%w: tasks %d and %d of the group both have ID %q; give each task its own", ErrInvalidOption, j, i, m.id)
		}
		seen[m.id] = i
	}
	return nil
}

// GroupError is returned by [EnqueueGroup] when a chunk of the group was not
// stored. The chunks are published in the order of [Add], each stored
// whole or not at all, and publishing stops at the first that fails: the
// first Stored tasks are stored, the Failed after them were refused with
// Err, and the rest were not published. Unwrap returns Err, so
// errors.Is(err, ErrQueueFull) and errors.Is(err, ErrRetryable) work on it.
type GroupError struct {
	// Stored is the number of tasks stored, from the first: the chunks
	// before the one that failed. 0 for a group of one chunk.
	Stored int
	// Failed is the number of tasks of the chunk that failed.
	Failed int
	// Total is the number of tasks in the group.
	Total int
	// Err is why the chunk was not stored.
	Err error
}

// Error says which tasks were stored and why the others were not.
func (e *GroupError) Error() string {
	if e.Stored == 0 && e.Failed == e.Total {
		return fmt.Sprintf("producer: group of %d tasks not enqueued, none stored: %v", e.Total, e.Err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "producer: group of %d tasks partly enqueued: ", e.Total)
	if e.Stored > 0 {
		fmt.Fprintf(&b, "tasks 0 to %d stored; ", e.Stored-1)
	} else {
		b.WriteString("none stored; ")
	}
	fmt.Fprintf(&b, "tasks %d to %d not stored (%v)", e.Stored, e.Stored+e.Failed-1, e.Err)
	if rest := e.Stored + e.Failed; rest < e.Total {
		fmt.Fprintf(&b, "; tasks %d to %d not published", rest, e.Total-1)
	}
	return b.String()
}

// Unwrap returns why the chunk was not stored.
func (e *GroupError) Unwrap() error { return e.Err }

// defaultBatchLimit is the most messages nats-server takes in one atomic
// batch unless configured otherwise (JetStream limit max_batch_size). The
// server does not tell its setting; one set lower refuses a larger batch
// with an error that names it (see tooLarge).
const defaultBatchLimit = 1000

// chunkKey is the context key of the chunk of a group that a call through
// the middleware publishes.
type chunkKey struct{}

// checkAtomic says why groups cannot be enqueued, or nil when they can.
func (p *Producer) checkAtomic(ctx context.Context) error {
	if p.atomic.Load() {
		return nil
	}
	// Another process may have turned it on since the streams were provisioned.
	rctx, cancel := context.WithTimeout(ctx, p.cfg.ackTimeout)
	defer cancel()
	if s, err := p.js.Stream(rctx, p.workStream); err == nil && s.CachedInfo().Config.AllowAtomicPublish {
		p.atomic.Store(true)
		return nil
	}
	if info, err := p.js.AccountInfo(rctx); err == nil && info.API.Level < provision.AtomicLevel {
		return fmt.Errorf("%w: groups need %s or newer (JetStream API level %d); this server has level %d",
			ErrUnsupported, provision.MinAtomicServer, provision.AtomicLevel, info.API.Level)
	}
	return fmt.Errorf("%w: groups need atomic batch publish, which work stream %s does not allow and could not be given (see the warning logged when the streams were provisioned); allow it on the stream (allow_atomic: true in its configuration) and try again",
		ErrUnsupported, p.workStream)
}

// publishGroup is the innermost [tasks.Enqueuer] of groups: it publishes
// batch, one chunk of a group, as one atomic batch. Every task gets the
// same error, nil when the chunk was stored.
func (p *Producer) publishGroup(ctx context.Context, batch []*tasks.Envelope) []error {
	var err error
	chunk, _ := ctx.Value(chunkKey{}).([]*tasks.Envelope)
	switch {
	case !slices.Equal(batch, chunk):
		err = fmt.Errorf("%w: the enqueue middleware passed on %d of a group's %d tasks, or reordered them; a group is stored all or nothing only if the middleware passes its tasks on whole and in order",
			ErrInvalidOption, len(batch), len(chunk))
	case len(batch) == 1:
		// One task is stored whole or not at all by a plain publish,
		// which spares the server a batch (a file store of its own on a
		// single-replica file stream, about a file sync).
		return p.publish(ctx, batch)
	default:
		err = p.publishAtomic(ctx, batch)
	}
	errs := make([]error, len(batch))
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// publishAtomic stores envs in the work stream all or nothing, as one atomic
// batch, trying again with a new batch (and the same task IDs) after the
// failures that a retry can fix, as [Producer.publish] does. Tasks the
// server already holds by ID are set Duplicate (see resolveDuplicates);
// the others are stored together.
func (p *Producer) publishAtomic(ctx context.Context, envs []*tasks.Envelope) error {
	start := time.Now()
	var bo *retry.Backoff
	todo, retried, unsure := envs, false, false
	for {
		err := p.commitBatch(ctx, todo)
		if isCode(err, errCodeBatchDuplicate) {
			var fresh []*tasks.Envelope
			if fresh, err = p.resolveDuplicates(ctx, todo, retried); err == nil {
				if len(fresh) == 0 {
					return nil
				}
				if len(fresh) < len(todo) {
					todo = fresh // store the others, at once
					continue
				}
				// None is held now: the duplicate left the window meanwhile.
				err = errGone
			}
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("producer: %w", ctx.Err())
		}
		if !retry.Transient(err) && !isCode(err, errCodeBatchIncomplete) && !isCode(err, errCodeBatchInflight) && err != errGone {
			return p.batchFailed(err)
		}
		unsure = unsure || retry.Classify(err) == retry.NoAnswer
		p.cfg.log.LogAttrs(ctx, slog.LevelWarn, "jetq: retrying group publish",
			slog.Int("tasks", len(todo)), slog.String("error", err.Error()))
		if retry.Classify(err) == retry.Unavailable {
			p.reprovision(ctx)
		}
		if bo == nil {
			bo = retry.Until(50*time.Millisecond, 2*time.Second, p.retryDeadline(start))
		}
		if werr := bo.Wait(ctx); werr != nil {
			which := "task " + todo[0].ID
			if len(todo) > 1 {
				which = fmt.Sprintf("the %d tasks %s to %s", len(todo), todo[0].ID, todo[len(todo)-1].ID)
			}
			return p.unavailableTasks(which, p.batchFailed(err), unsure, time.Since(start), werr)
		}
		retried = true
	}
}

// batchFailed turns the error of an atomic batch into the error the caller
// sees.
func (p *Producer) batchFailed(err error) error {
	if isCode(err, errCodeBatchDisabled) {
		p.atomic.Store(false)
		return fmt.Errorf("%w: work stream %s no longer allows atomic batch publish (allow_atomic); groups need it: %w", ErrUnsupported, p.workStream, err)
	}
	return p.classify(context.Background(), err)
}

// The error codes of atomic batch publish (nats-server's
// jetstream_errors_generated.go; ADR-50).
const (
	errCodeBatchDisabled   = 10174 // atomic publish is disabled on the stream
	errCodeBatchIncomplete = 10176 // a message of the batch was lost or refused: abandoned
	errCodeBatchTooLarge   = 10199 // "atomic publish batch is too large: {size}"
	errCodeBatchDuplicate  = 10201 // a message of the batch has a Nats-Msg-Id the stream holds
	errCodeBatchInflight   = 10210 // too many batches open on the stream or the server

	errCodeWrongLastSequence = 10071 // Nats-Expected-Last-Sequence not met
)

// isCode reports whether err is the server's error with code.
func isCode(err error, code jetstream.ErrorCode) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == code
}

// tooLarge returns the server's batch limit from its refusal of a batch
// larger than it.
func tooLarge(err error) (int, bool) {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != errCodeBatchTooLarge {
		return 0, false
	}
	_, after, _ := strings.Cut(apiErr.Description, ": ")
	limit, perr := strconv.Atoi(strings.TrimSpace(after))
	return limit, perr == nil
}

// Headers of atomic batch publish (ADR-50).
const (
	headerBatchID     = "Nats-Batch-Id"
	headerBatchSeq    = "Nats-Batch-Sequence"
	headerBatchCommit = "Nats-Batch-Commit"
)

// commitBatch publishes envs as one atomic batch and, once the server has
// stored it, sets each task's Stream and Sequence. The server answers the
// first message (an empty reply, or why it will not open the batch) and
// the last, which commits the batch (its acknowledgement carries the
// sequence of the last task; the others precede it); the messages between
// go without a reply, and if one of them is lost or refused the commit is
// refused as incomplete. Nothing is stored unless the commit is.
func (p *Producer) commitBatch(ctx context.Context, envs []*tasks.Envelope) error {
	id, n, nc := nuid.Next(), len(envs), p.js.Conn()
	var first, commit jetstream.PubAckFuture
	for i, env := range envs {
		h := env.Header
		h[headerBatchID] = []string{id}
		h[headerBatchSeq] = []string{strconv.Itoa(i + 1)}
		if i == n-1 {
			h[headerBatchCommit] = []string{"1"}
		}
		var err error
		m := wire.Msg(env)
		switch {
		case i == n-1:
			commit, err = p.pub.PublishMsgAsync(m, jetstream.WithRetryAttempts(0))
		case i == 0:
			first, err = p.pub.PublishMsgAsync(m, jetstream.WithRetryAttempts(0))
		default:
			err = nc.PublishMsg(m)
		}
		// The message is encoded and buffered: the task's own header is
		// left as it was (no-responder retries, which would encode it
		// again, are off).
		delete(h, headerBatchID)
		delete(h, headerBatchSeq)
		delete(h, headerBatchCommit)
		if err != nil {
			return err // the batch is never committed: the server drops it
		}
	}
	var ack *jetstream.PubAck
	select {
	case ack = <-commit.Ok():
	case err := <-commit.Err():
		if first != nil && isCode(err, errCodeBatchIncomplete) {
			// The first message's answer says why, if it was refused.
			select {
			case ferr := <-first.Err():
				var apiErr *jetstream.APIError
				if errors.As(ferr, &apiErr) {
					return ferr
				}
			case <-first.Ok():
			case <-ctx.Done():
			}
		}
		if errors.Is(err, jetstream.ErrAsyncPublishTimeout) {
			err = fmt.Errorf("no acknowledgement within %v: %w", p.cfg.ackTimeout, nats.ErrTimeout)
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
	if ack.Stream != p.workStream {
		return fmt.Errorf("producer: tasks %s to %s were stored by stream %s, not %s: another stream claims their subjects",
			envs[0].ID, envs[n-1].ID, ack.Stream, p.workStream)
	}
	for i, env := range envs {
		env.Stream, env.Sequence, env.Duplicate = ack.Stream, ack.Sequence-uint64(n-1-i), false
	}
	return nil
}

// errGone: the server refused a batch as holding a task by ID, and then
// held none of them; the batch is tried again.
var errGone = errors.New("producer: publish: the server refused a batch as holding a task it no longer holds")

// errProbeStored: a probe was stored, which its expectation should have
// prevented.
var errProbeStored = errors.New("producer: a duplicate probe was stored")

// resolveDuplicates finds which of envs the work stream already holds by
// ID, after the server refused their batch as holding one: it sets those
// Stream, Sequence and Duplicate (not when retried, as an earlier try of
// this call may have stored them), and returns the others.
//
// The server tells neither which task it holds nor where, so each task is
// probed by a publish that the server refuses unless it holds the ID, and
// that leaves no trace then: the task's ID with an expected last message ID
// that no message has. The server answers a held ID with its sequence
// before any other check; on one server it refuses the others unstored.
// But on a replicated stream the refused proposal would leave the ID "in
// process" for the duplicate window, and the task could not be stored; so
// there each task is first sent alone as an atomic batch that expects a
// last sequence no stream reaches: the server checks the ID (refusing a
// held one as a duplicate), then the expectation, and a refused batch
// stages nothing. Only the held tasks are then probed for their sequence.
// (On one server the batch would cost a file store per task.)
func (p *Producer) resolveDuplicates(ctx context.Context, envs []*tasks.Envelope, retried bool) ([]*tasks.Envelope, error) {
	held, fresh := envs, []*tasks.Envelope(nil)
	replicated := p.replicated.Load()
	if replicated {
		var err error
		if held, fresh, err = p.heldByID(ctx, envs); err != nil {
			return nil, err
		}
	}
	never := "jetq probe " + nuid.Next() // a space: no task ID has one
	probes := make([]*nats.Msg, len(held))
	for i, env := range held {
		probes[i] = &nats.Msg{Subject: env.Subject, Header: nats.Header{
			wire.HeaderMsgID:                  {env.ID},
			jetstream.ExpectedLastMsgIDHeader: {never},
		}}
	}
	acks, errs, err := p.probe(ctx, probes)
	if err != nil {
		return nil, err
	}
	for i, env := range held {
		switch {
		case errs[i] != nil && replicated:
			return nil, errGone // no longer held: all again
		case errs[i] != nil:
			fresh = append(fresh, env)
			continue
		case !acks[i].Duplicate:
			return nil, fmt.Errorf("%w: task %s at sequence %d", errProbeStored, env.ID, acks[i].Sequence)
		}
		if err := p.stored(env, acks[i], retried); err != nil {
			return nil, err
		}
	}
	return fresh, nil
}

// heldByID splits envs into those whose ID the work stream holds and the
// others, with probes that stage nothing on a replicated stream (see
// resolveDuplicates).
func (p *Producer) heldByID(ctx context.Context, envs []*tasks.Envelope) (held, fresh []*tasks.Envelope, err error) {
	probes := make([]*nats.Msg, len(envs))
	for i, env := range envs {
		probes[i] = &nats.Msg{Subject: env.Subject, Header: nats.Header{
			wire.HeaderMsgID:                {env.ID},
			headerBatchID:                   {nuid.Next()},
			headerBatchSeq:                  {"1"},
			headerBatchCommit:               {"1"},
			jetstream.ExpectedLastSeqHeader: {strconv.FormatUint(math.MaxUint64, 10)},
		}}
	}
	_, errs, err := p.probe(ctx, probes)
	if err != nil {
		return nil, nil, err
	}
	for i, perr := range errs {
		switch {
		case isCode(perr, errCodeBatchDuplicate):
			held = append(held, envs[i])
		case isCode(perr, errCodeWrongLastSequence):
			fresh = append(fresh, envs[i])
		case perr == nil:
			return nil, nil, fmt.Errorf("%w: task %s", errProbeStored, envs[i].ID)
		default:
			return nil, nil, perr
		}
	}
	return held, fresh, nil
}

// probe publishes msgs and returns the server's answer to each: its
// acknowledgement or its refusal. Any other failure (no answer, a
// disconnect) is returned as err.
func (p *Producer) probe(ctx context.Context, msgs []*nats.Msg) ([]*jetstream.PubAck, []error, error) {
	futures := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		f, err := p.pub.PublishMsgAsync(m, jetstream.WithRetryAttempts(0))
		if err != nil {
			return nil, nil, err
		}
		futures[i] = f
	}
	acks, errs := make([]*jetstream.PubAck, len(msgs)), make([]error, len(msgs))
	for i, f := range futures {
		select {
		case acks[i] = <-f.Ok():
		case err := <-f.Err():
			var apiErr *jetstream.APIError
			if !errors.As(err, &apiErr) || retry.Transient(err) {
				return nil, nil, err
			}
			errs[i] = err
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	return acks, errs, nil
}
