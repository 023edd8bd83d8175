package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/retry"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// publish is the innermost [tasks.Enqueuer]: one task is published
// synchronously, a batch asynchronously. Failures that a retry with the same
// Nats-Msg-Id can fix are retried; the server's deduplication makes that safe.
func (p *Producer) publish(ctx context.Context, batch []*tasks.Envelope) []error {
	errs := make([]error, len(batch))
	try := func(todo []int, retried []bool) []int {
		if len(todo) == 1 {
			return p.publishSync(ctx, batch, todo[0], errs, retried)
		}
		return p.publishAsync(ctx, batch, todo, errs, retried)
	}
	var again []int
	if len(batch) == 1 {
		// The common case, one task stored at the first try, allocates nothing more.
		var r [1]bool
		if again = try([]int{0}, r[:]); len(again) == 0 {
			return errs
		}
	} else {
		todo := make([]int, len(batch))
		for i := range todo {
			todo[i] = i
		}
		if again = try(todo, make([]bool, len(batch))); len(again) == 0 {
			return errs
		}
	}
	// retried marks tasks whose earlier attempt may have been stored: a later
	// Duplicate answer is then that attempt's own, not another producer's.
	retried := make([]bool, len(batch))
	bo := retry.New(50*time.Millisecond, 2*time.Second, p.cfg.retryTimeout)
	for len(again) > 0 {
		p.cfg.log.LogAttrs(ctx, slog.LevelWarn, "jetq: retrying publish",
			slog.Int("tasks", len(again)), slog.String("error", errs[again[0]].Error()))
		if isNoResponders(errs[again[0]]) {
			// Nobody answers for the stream: it may have been deleted.
			p.reprovision(ctx)
		}
		if err := bo.Wait(ctx); err != nil {
			if errors.Is(err, retry.ErrBudget) {
				err = fmt.Errorf("producer: gave up after %v: %w", p.cfg.retryTimeout, errs[again[0]])
			} else {
				err = fmt.Errorf("producer: %w (last error: %w)", err, errs[again[0]])
			}
			for _, i := range again {
				errs[i] = err
			}
			return errs
		}
		for _, i := range again {
			retried[i] = true
		}
		again = try(again, retried)
	}
	return errs
}

// reprovision creates the streams again before a retry if the work stream
// is gone. Most often nobody answered because of a leader election, and
// then there is nothing to do; a failure shows in the retried publish.
func (p *Producer) reprovision(ctx context.Context) {
	if _, err := p.js.Stream(ctx, p.cfg.topology.Names.WorkStream()); !errors.Is(err, jetstream.ErrStreamNotFound) {
		return
	}
	p.mu.Lock()
	p.provisioned = false
	p.mu.Unlock()
	_ = p.Provision(ctx)
}

// publishSync publishes batch[i] and waits for its acknowledgement. It returns
// {i} when the failure is worth a retry.
func (p *Producer) publishSync(ctx context.Context, batch []*tasks.Envelope, i int, errs []error, retried []bool) []int {
	reply, err := p.request(ctx, wire.Msg(batch[i]))
	var ack pubAck
	if err == nil {
		ack, err = readAck(reply, p.workStream)
	}
	if err == nil {
		errs[i] = p.stored(batch[i], ack, retried[i])
		return nil
	}
	if ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)) {
		err = fmt.Errorf("no acknowledgement within %v: %w", p.cfg.ackTimeout, nats.ErrTimeout)
	}
	errs[i] = p.classify(ctx, err)
	if p.retryable(ctx, err) {
		return []int{i}
	}
	return nil
}

// request publishes m and waits for the answer, at most the ack timeout and
// at most as long as ctx lasts. A ctx that cannot end, or ends sooner, needs
// no context of its own: a timeout context costs a timer and, under a
// cancellable parent, a registration with it on every call.
func (p *Producer) request(ctx context.Context, m *nats.Msg) (*nats.Msg, error) {
	nc := p.js.Conn()
	if ctx.Done() == nil {
		return nc.RequestMsg(m, p.cfg.ackTimeout)
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= p.cfg.ackTimeout {
		return nc.RequestMsgWithContext(ctx, m)
	}
	actx, cancel := context.WithTimeout(ctx, p.cfg.ackTimeout)
	defer cancel()
	return nc.RequestMsgWithContext(actx, m)
}

// publishAsync publishes the tasks in todo with at most the window's worth of
// acknowledgements outstanding, and waits for all of them. It returns the
// indexes worth a retry.
//
// The acknowledgements come back on an inbox of this call's own, the reply
// subject of the k-th publish ending in k: reading them from a channel in
// this goroutine needs no lock, map or future per task.
func (p *Producer) publishAsync(ctx context.Context, batch []*tasks.Envelope, todo []int, errs []error, retried []bool) []int {
	var again []int
	fail := func(i int, err error) {
		errs[i] = p.classify(ctx, err)
		if p.retryable(ctx, err) {
			again = append(again, i)
		}
	}
	nc := p.js.Conn()
	window := min(p.cfg.window, len(todo))
	inbox := nc.NewInbox() + "."
	acks := make(chan *nats.Msg, window) // never full: at most window publishes are unanswered
	sub, err := nc.ChanSubscribe(inbox+"*", acks)
	if err != nil {
		for _, i := range todo {
			fail(i, err)
		}
		return again
	}
	defer sub.Unsubscribe() //nolint:errcheck // late answers are dropped either way

	const (
		unsent = iota
		waiting
		settled
	)
	state := make([]uint8, len(todo))
	msgs := make([]nats.Msg, len(todo))
	outstanding := 0
	receive := func(m *nats.Msg) {
		k, err := strconv.Atoi(m.Subject[min(len(inbox), len(m.Subject)):])
		if err != nil || k < 0 || k >= len(todo) || state[k] != waiting {
			return // not an answer to this call's publishes
		}
		state[k] = settled
		outstanding--
		i := todo[k]
		ack, err := readAck(m, p.workStream)
		if err != nil {
			fail(i, err)
			return
		}
		errs[i] = p.stored(batch[i], ack, retried[i])
	}
	timer := time.NewTimer(p.cfg.ackTimeout)
	defer timer.Stop()
	// await receives the answers that have arrived and, while more than limit
	// publishes are unanswered, waits for more. It reports false when
	// ackTimeout passed without any answer, or ctx ended.
	await := func(limit int) bool {
		for outstanding > 0 {
			select {
			case m := <-acks:
				receive(m)
				continue
			default:
			}
			if outstanding <= limit {
				return true
			}
			timer.Reset(p.cfg.ackTimeout)
			select {
			case m := <-acks:
				receive(m)
			case <-timer.C:
				return false
			case <-ctx.Done():
				return false
			}
		}
		return true
	}

	ok := true
	for k, i := range todo {
		if k%64 == 0 && ctx.Err() != nil {
			break
		}
		if outstanding >= window {
			if ok = await(window - 1); !ok {
				break
			}
		}
		env := batch[i]
		msgs[k] = nats.Msg{Subject: env.Subject, Reply: inbox + strconv.Itoa(k), Header: nats.Header(env.Header), Data: env.Body}
		if err := nc.PublishMsg(&msgs[k]); err != nil {
			state[k] = settled
			fail(i, err)
			continue
		}
		state[k] = waiting
		outstanding++
	}
	if ok {
		ok = await(0)
	}
	if ctx.Err() != nil {
		for k, i := range todo {
			if state[k] != settled {
				errs[i] = fmt.Errorf("producer: %w", ctx.Err())
			}
		}
		return nil
	}
	if !ok {
		timeout := fmt.Errorf("no acknowledgement within %v: %w", p.cfg.ackTimeout, nats.ErrTimeout)
		for k, i := range todo {
			if state[k] != settled {
				fail(i, timeout)
			}
		}
	}
	return again
}

// stored records the server's acknowledgement on env.
func (p *Producer) stored(env *tasks.Envelope, ack pubAck, retried bool) error {
	if ack.stream != p.workStream {
		return fmt.Errorf("producer: task %s was stored by stream %s, not %s: another stream claims subject %s", env.ID, ack.stream, p.workStream, env.Subject)
	}
	env.Stream, env.Sequence = ack.stream, ack.seq
	env.Duplicate = ack.duplicate && !retried
	return nil
}

// classify turns a publish error into the error the caller sees.
func (p *Producer) classify(ctx context.Context, err error) error {
	var apiErr *jetstream.APIError
	switch {
	case errors.As(err, &apiErr) && queueFull(apiErr):
		return fmt.Errorf("%w: stream %s: %s", ErrQueueFull, p.cfg.topology.Names.WorkStream(), apiErr.Description)
	case errors.Is(err, nats.ErrMaxPayload), errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum):
		return fmt.Errorf("producer: %w: %w", tasks.ErrInvalidPayload, err)
	}
	return fmt.Errorf("producer: publish: %w", err)
}

// retryable reports whether a publish that failed with err may succeed when
// repeated with the same ID.
func (p *Producer) retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// 503 answers are a cluster without a leader or quorum; a full queue
		// is the caller's decision.
		return apiErr.Code == 503 && !queueFull(apiErr)
	}
	return errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrReconnectBufExceeded)
}

// queueFull reports a stream or server that refuses messages for lack of room.
func queueFull(e *jetstream.APIError) bool {
	switch e.ErrorCode {
	case 10047, 10023: // insufficient storage / resources on the server
		return true
	case 10077: // store failed: the DiscardNew limits say why
		return strings.Contains(e.Description, "maximum messages") || strings.Contains(e.Description, "maximum bytes")
	}
	return false
}
