package consumer

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// Option configures a [Worker]; pass options to [New].
type Option func(*config)

type config struct {
	log             *slog.Logger
	middleware      []tasks.Middleware
	deadLetter      []tasks.EnqueueMiddleware
	concurrency     int
	prefetch        int
	shutdownTimeout time.Duration
	releaseGrace    time.Duration
	queues          []string
	strict          bool              // WithStrictPriority
	weights         map[string]int    // WithQueueWeights; nil without
	weightErr       error             // a queue given twice to WithQueueWeights
	topo            topology.Topology // as the options say
	names           wire.Names        // of topo, set by validate
	forward         bool
	presenceEvery   time.Duration
	historyEvery    time.Duration
}

func defaultConfig() config {
	return config{
		log:             slog.Default(),
		concurrency:     10,
		shutdownTimeout: 30 * time.Second,
		releaseGrace:    500 * time.Millisecond,
		presenceEvery:   DefaultPresenceInterval,
		historyEvery:    DefaultHistoryInterval,
	}
}

// WithLogger logs with l: Info for start, stop and recovery, Warn for retried
// tasks, Error when the worker itself fails. Default slog.Default(); nil keeps
// the default. Payloads are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// WithMiddleware wraps the processing of every delivery with mw, the first
// outermost; tracing and metrics plug in here. Calls add up.
func WithMiddleware(mw ...tasks.Middleware) Option {
	return func(c *config) { c.middleware = append(c.middleware, mw...) }
}

// WithDeadLetterMiddleware wraps every publish of a dead-letter record with
// mw, the first outermost; calls add up. The record reaches mw as a batch of
// one envelope: Subject, ID (the record's Nats-Msg-Id), Name, Queue, Header
// and Body of the record, and the Outcome being applied; after next it has
// Stream and Sequence. Its ctx is the one the delivery's middleware passed
// on, so tracing.DeadLetter puts the record's span under the attempt's.
func WithDeadLetterMiddleware(mw ...tasks.EnqueueMiddleware) Option {
	return func(c *config) { c.deadLetter = append(c.deadLetter, mw...) }
}

// WithConcurrency bounds how many handlers run at once in this process,
// across all task types. Default 10. Every task type the worker serves
// starts within a pull round trip of a free slot, however many types it
// serves.
func WithConcurrency(n int) Option {
	return func(c *config) { c.concurrency = n }
}

// WithPrefetch caps how many deliveries, across task types, the worker may
// hold beyond its busy handler slots, so a freed slot finds its next task
// without a round trip to the server. Default: the concurrency.
//
// The worker prefetches only what it will start soon: a task type's
// prefetch is what the slots handle in about 50 ms at the type's recent
// handling time, at most n. Millisecond tasks get all of it; tasks of a
// second or more, and a type none of whose tasks has finished yet, none,
// so a busy worker does not keep tasks that another worker's free slots
// could run.
//
// What the worker holds never exceeds the concurrency plus n, plus one
// task per task type: while a slot is free, or a backlog of another type
// refills its prefetch, each type with nothing queued keeps a pull for one
// task open, for up to a second, so tasks of such types that arrive
// together, within that second after the last free slot was taken, or
// beside a backlog, can bring one each beyond the free slots; they start
// as slots free, behind at most the prefetch. A type with a rare task
// thus starts it within about one task's handling time of another type's
// backlog, not after the backlog. A held delivery is heartbeated like a running one, so
// however long the tasks run, none is redelivered elsewhere while the
// worker holds it.
func WithPrefetch(n int) Option {
	return func(c *config) { c.prefetch = n }
}

// WithShutdownTimeout bounds the graceful stop that follows the cancellation
// of Run's ctx: handlers still running then have their ctx cancelled and their
// tasks handed back for immediate redelivery. Default 30 s. [Worker.Shutdown]
// is bounded by its own ctx instead.
func WithShutdownTimeout(d time.Duration) Option {
	return func(c *config) { c.shutdownTimeout = d }
}

// WithQueues limits the worker to the registered tasks of the named queues.
// Default: every registered task. Their task types take turns at the free
// slots; [WithStrictPriority] takes the queues in the order listed here
// instead, and [WithQueueWeights] by weight.
func WithQueues(queues ...string) Option {
	return func(c *config) { c.queues = append(c.queues, queues...) }
}

// WithStrictPriority takes the queues in the order [WithQueues] lists
// them, the first highest, as asynq's StrictPriority does: while a queue
// has tasks, no task of a queue after it is pulled when a slot frees, and
// a task of a higher queue that reaches the worker while every slot is
// busy starts at the next free slot, before any task of a lower queue that
// the worker has not pulled yet (a task the server has sent reaches the
// worker when its pull's subscription takes it in, a little later). A lower queue waits as long as a higher one has
// tasks, even with slots free while the higher queue's task types are at
// their cluster-wide cap (tasks.WithMaxConcurrency); use
// [WithQueueWeights] when it must not. Off by default: every
// task type is served in turn.
//
// Strictness costs the lower queues their prefetch ([WithPrefetch]): only
// the first queue's tasks are queued beyond the free slots, so a lower
// queue's next task is pulled as a slot frees, a round trip later. Each
// idle task type of every queue but the last keeps a pull for one task
// open even while every slot is busy, so its task reaches the worker as it
// is stored (one task per type beyond the slots, as WithPrefetch says).
//
// [New] returns an error wrapping [ErrInvalidOption] when WithQueues is
// not given, names a queue twice or a queue with no registered task, or
// when [WithQueueWeights] is given too.
func WithStrictPriority() Option {
	return func(c *config) { c.strict = true }
}

// WithQueueWeights serves the queues weights names, each a share of the
// task starts in proportion to its weight while queues compete for the
// slots, as asynq's Queues map does: {"critical": 6, "default": 3, "low":
// 1} starts six tasks of critical for three of default and one of low, and
// a queue without tasks, or whose task types are at their cluster-wide cap
// (tasks.WithMaxConcurrency), leaves its share to the others. Calls add
// up.
//
// [New] returns an error wrapping [ErrInvalidOption] for a weight below 1,
// an invalid queue name, a queue given twice, a queue with no registered
// task, a [WithQueues] list other than the weights' queues, or
// [WithStrictPriority] given too.
func WithQueueWeights(weights map[string]int) Option {
	return func(c *config) {
		if c.weights == nil {
			c.weights = map[string]int{}
		}
		for q, n := range weights {
			if _, ok := c.weights[q]; ok && c.weightErr == nil {
				c.weightErr = fmt.Errorf("queue %q is given twice to WithQueueWeights; give each queue one weight", q)
			}
			c.weights[q] = n
		}
	}
}

// WithForwarder runs a dead-letter forwarder (see the dlq package) in the
// worker, so that a deployment of workers alone still files the records of
// tasks the server gave up on — tasks whose worker died or hung on the last
// attempt. Forwarders in many workers share their work. Off by default.
func WithForwarder() Option {
	return func(c *config) { c.forward = true }
}

// WithTopology sets the deployment's [topology.Topology]: give the same
// value to every producer, worker, forwarder, schedule, inspector,
// dashboard and metrics collector of a deployment. Names derive from its
// prefix; streams and buckets created when missing follow the rest of it,
// and those that exist are used as the server has them. Default: the zero
// Topology, jetq's defaults.
func WithTopology(t topology.Topology) Option {
	return func(c *config) { c.topo = t }
}

func (c *config) validate() error {
	if err := c.topo.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	c.names = wire.NamesOf(c.topo)
	if c.prefetch == 0 {
		c.prefetch = c.concurrency
	}
	switch {
	case c.concurrency < 1:
		return fmt.Errorf("%w: concurrency must be at least 1, got %d", ErrInvalidOption, c.concurrency)
	case c.prefetch < 1:
		return fmt.Errorf("%w: prefetch must be at least 1, got %d", ErrInvalidOption, c.prefetch)
	case c.presenceEvery < 100*time.Millisecond:
		return fmt.Errorf("%w: presence interval must be at least 100ms, got %v", ErrInvalidOption, c.presenceEvery)
	case c.historyEvery < wire.MinHistoryStep || c.historyEvery > wire.MaxHistoryStep:
		return fmt.Errorf("%w: history interval must be between %v and %v, got %v", ErrInvalidOption, wire.MinHistoryStep, wire.MaxHistoryStep, c.historyEvery)
	case c.shutdownTimeout < 0:
		return fmt.Errorf("%w: shutdown timeout must not be negative, got %v", ErrInvalidOption, c.shutdownTimeout)
	}
	for _, q := range c.queues {
		if err := tasks.ValidateQueue(q); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
	}
	if err := c.validatePriority(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	return nil
}

// validatePriority checks the options of a queue priority and, for
// weights, sets the queues served to the weights' queues.
func (c *config) validatePriority() error {
	if c.weights == nil {
		if c.strict {
			if len(c.queues) == 0 {
				return errors.New("WithStrictPriority takes the queues in the order WithQueues lists them; list them with WithQueues, the first highest")
			}
			return distinct(c.queues)
		}
		return nil
	}
	switch {
	case c.strict:
		return errors.New("WithStrictPriority and WithQueueWeights are given; choose one: strict order or shares by weight")
	case c.weightErr != nil:
		return c.weightErr
	case len(c.weights) == 0:
		return errors.New("WithQueueWeights has no queue; give each queue to serve a weight of 1 or more")
	}
	queues := slices.Sorted(maps.Keys(c.weights))
	for _, q := range queues {
		if err := tasks.ValidateQueue(q); err != nil {
			return err
		}
		if n := c.weights[q]; n < 1 {
			return fmt.Errorf("queue %q has weight %d; a weight must be 1 or more (leave a queue out to not serve it)", q, n)
		}
	}
	if len(c.queues) > 0 {
		if err := distinct(c.queues); err != nil {
			return err
		}
		if !slices.Equal(slices.Sorted(slices.Values(c.queues)), queues) {
			return fmt.Errorf("WithQueues lists %v and WithQueueWeights %v; the worker serves the weights' queues: give the same queues, or leave WithQueues out", c.queues, queues)
		}
	}
	c.queues = queues
	return nil
}

// distinct says which queue is given twice, if one is.
func distinct(queues []string) error {
	for i, q := range queues {
		if slices.Contains(queues[:i], q) {
			return fmt.Errorf("queue %q is listed twice in WithQueues; list each queue once", q)
		}
	}
	return nil
}

func (c *config) serves(queue string) bool {
	return len(c.queues) == 0 || slices.Contains(c.queues, queue)
}
