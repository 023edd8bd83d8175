package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// publish is the innermost [tasks.Enqueuer]. Every task, a single one too,
// goes through nats.go's asynchronous publish and its acknowledgement is
// awaited: concurrent Enqueue callers then share the connection's one reply
// subscription. Single raw publishes from 8 and 64 goroutines ran 3–7%
// faster that way than with PublishMsg over loopback TCP, and Enqueue ran
// 20–65% faster than PublishMsg over the in-process connection (go run
// ./bench -only b). Failures that a retry with the same Nats-Msg-Id can fix
// are retried; the server's deduplication makes that safe.
func (p *Producer) publish(ctx context.Context, batch []*tasks.Envelope) []error {
	start := time.Now()
	errs := make([]error, len(batch))
	again := p.publishAsync(ctx, batch, nil, errs, false, turnOf(ctx, batch))
	if len(again) == 0 {
		return errs
	}
	bo := retry.Until(50*time.Millisecond, 2*time.Second, p.retryDeadline(start))
	unsure := make([]bool, len(batch)) // a try went unanswered: the task may be stored
	for len(again) > 0 {
		for _, i := range again {
			unsure[i] = unsure[i] || retry.Classify(errs[i]) == retry.NoAnswer
		}
		p.cfg.log.LogAttrs(ctx, slog.LevelWarn, "jetq: retrying publish",
			slog.Int("tasks", len(again)), slog.String("error", errs[again[0]].Error()))
		if retry.Classify(errs[again[0]]) == retry.Unavailable {
			// Nobody answers for the stream: it may have been deleted.
			p.reprovision(ctx)
		}
		if err := bo.Wait(ctx); err != nil {
			for _, i := range again {
				errs[i] = p.unavailable(batch[i], errs[i], unsure[i], time.Since(start), err)
			}
			return errs
		}
		// An earlier attempt of these may have been stored: a Duplicate
		// answer is then that attempt's own, not another producer's.
		again = p.publishAsync(ctx, batch, again, errs, true, nil)
	}
	return errs
}

// retryDeadline is when the retries of a publish begun at start end: after
// the retry timeout, and in any case one ack timeout before the work
// stream's deduplication window, counted from start, closes. Every try is
// sent within the window of any earlier try the server stored, so the
// server drops it as a duplicate: retries never store a task twice.
func (p *Producer) retryDeadline(start time.Time) time.Time {
	budget := p.cfg.retryTimeout
	if window := time.Duration(p.dedupWindow.Load()); window > 0 && (budget == 0 || window-p.cfg.ackTimeout < budget) {
		budget = max(window-p.cfg.ackTimeout, time.Nanosecond)
	}
	if budget == 0 {
		return time.Time{} // no limit but ctx
	}
	return start.Add(budget)
}

// unavailable is the error of env's publish that still failed with last
// when its retries stopped, after elapsed, because of stop (the retry
// budget spent or ctx's error); unsure says an earlier try went unanswered.
// It says what the failures mean for the task, and wraps [ErrUnavailable],
// last and, if ctx ended, ctx's error.
func (p *Producer) unavailable(env *tasks.Envelope, last error, unsure bool, elapsed time.Duration, stop error) error {
	return p.unavailableTasks("task "+env.ID, last, unsure, elapsed, stop)
}

// unavailableTasks is [Producer.unavailable] for the tasks that which
// names, such as "task x".
func (p *Producer) unavailableTasks(which string, last error, unsure bool, elapsed time.Duration, stop error) error {
	var what string
	switch retry.Classify(last) {
	case retry.NoQuorum:
		// The leader holds the earlier try uncommitted: nothing is stored.
		what = fmt.Sprintf("the leader of stream %s cannot reach its peers; %s not stored yet", p.workStream, which)
	case retry.Unavailable:
		what = fmt.Sprintf("no leader of stream %s answers (an election, or this server is cut off from the stream's peers); %s not stored", p.workStream, which)
		if unsure {
			what = fmt.Sprintf("no leader of stream %s answers (an election, or this server is cut off from the stream's peers), and an earlier try went unanswered; %s may be stored", p.workStream, which)
		}
	case retry.NoAnswer:
		what = fmt.Sprintf("no acknowledgement from stream %s (an election, or a leader cut off from its peers); %s may be stored", p.workStream, which)
	default:
		return last
	}
	if errors.Is(stop, retry.ErrBudget) {
		return fmt.Errorf("%w: %s; retry with the same ID (tried for %v): %w", ErrUnavailable, what, elapsed.Round(time.Millisecond), last)
	}
	return fmt.Errorf("%w: %s; retry with the same ID (%w after %v): %w", ErrUnavailable, what, stop, elapsed.Round(time.Millisecond), last)
}

// reprovision creates the streams again before a retry if the work stream
// is gone. Most often nobody answered because of a leader election, and
// then there is nothing to do; a failure shows in the retried publish.
func (p *Producer) reprovision(ctx context.Context) {
	// Briefly: while a stream has no leader nobody answers, and the
	// retried publish should go out as soon as a new leader is elected.
	lctx, cancel := context.WithTimeout(ctx, reprovisionCheck)
	_, err := p.js.Stream(lctx, p.cfg.names.WorkStream())
	cancel()
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return
	}
	p.provisioned.Store(false)
	_ = p.Provision(ctx)
}

// reprovisionCheck bounds the look-up of the work stream after nobody
// answered a publish.
const reprovisionCheck = 500 * time.Millisecond

// publishAsync publishes the tasks of batch whose indexes are in todo (all
// of them when todo is nil) with nats.go's asynchronous publish, at most the
// window's worth of acknowledgements outstanding, and waits for all of
// them; nats.go ends each wait after the ack timeout. retried says the
// tasks were published before. Once all are sent, t (if not nil) is told. It
// returns the indexes worth a retry.
func (p *Producer) publishAsync(ctx context.Context, batch []*tasks.Envelope, todo []int, errs []error, retried bool, t *turn) []int {
	n := len(todo)
	if todo == nil {
		n = len(batch)
	}
	index := func(k int) int {
		if todo == nil {
			return k
		}
		return todo[k]
	}
	var again []int
	fail := func(i int, err error) {
		if errors.Is(err, jetstream.ErrAsyncPublishTimeout) {
			err = fmt.Errorf("no acknowledgement within %v: %w", p.cfg.ackTimeout, nats.ErrTimeout)
		}
		errs[i] = p.classify(ctx, err)
		if p.retryable(ctx, err) {
			again = append(again, i)
		}
	}
	futures := make([]jetstream.PubAckFuture, min(n, p.cfg.window)) // a ring: the k-th at k % window
	// await settles the k-th publish; false when ctx ended first.
	await := func(k int) bool {
		f, i := futures[k%len(futures)], index(k)
		if f == nil {
			return true // not sent: failed already
		}
		select {
		case ack := <-f.Ok():
			errs[i] = p.stored(batch[i], ack, retried)
		case err := <-f.Err():
			fail(i, err)
		case <-ctx.Done():
			// An answer that came already still counts: select picks at
			// random among ready cases, and a stored task must not be
			// reported as ended by ctx.
			select {
			case ack := <-f.Ok():
				errs[i] = p.stored(batch[i], ack, retried)
			case err := <-f.Err():
				fail(i, err)
			default:
				return false
			}
		}
		futures[k%len(futures)] = nil
		return true
	}
	sent, settled := 0, 0
	for k := range n {
		if sent-settled >= len(futures) {
			if !await(settled) {
				break
			}
			settled++
		}
		if ctx.Err() != nil {
			break
		}
		f, err := p.pub.PublishMsgAsync(wire.Msg(batch[index(k)]))
		sent++
		if err != nil {
			fail(index(k), err)
			continue
		}
		futures[k%len(futures)] = f
	}
	t.sent()
	for ; settled < sent && await(settled); settled++ {
	}
	if err := ctx.Err(); err != nil {
		for k := settled; k < n; k++ {
			if k >= sent || futures[k%len(futures)] != nil {
				errs[index(k)] = fmt.Errorf("producer: %w", err)
			}
		}
		return nil
	}
	return again
}

// stored records the server's acknowledgement on env.
func (p *Producer) stored(env *tasks.Envelope, ack *jetstream.PubAck, retried bool) error {
	want := p.workStream
	if wire.Delayed(env) {
		want = p.cfg.names.ScheduleStream()
	}
	if ack.Stream != want {
		return fmt.Errorf("producer: task %s was stored by stream %s, not %s: another stream claims subject %s", env.ID, ack.Stream, want, env.Subject)
	}
	env.Stream, env.Sequence = ack.Stream, ack.Sequence
	env.Duplicate = ack.Duplicate && !retried
	return nil
}

// classify turns a publish error into the error the caller sees.
func (p *Producer) classify(ctx context.Context, err error) error {
	var apiErr *jetstream.APIError
	switch {
	case retry.Classify(err) == retry.NoRoom && errors.As(err, &apiErr):
		return fmt.Errorf("%w: stream %s: %s", ErrQueueFull, p.cfg.names.WorkStream(), apiErr.Description)
	case errors.Is(err, nats.ErrMaxPayload), errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum):
		return fmt.Errorf("producer: %w: %w", tasks.ErrInvalidPayload, err)
	}
	return fmt.Errorf("producer: publish: %w", err)
}

// retryable reports whether a publish that failed with err may succeed when
// repeated with the same ID.
func (p *Producer) retryable(ctx context.Context, err error) bool {
	return ctx.Err() == nil && retry.Transient(err)
}
