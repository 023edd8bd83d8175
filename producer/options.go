package producer

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// Option configures a [Producer]; pass options to [New].
type Option func(*config)

type config struct {
	log          *slog.Logger
	middleware   []tasks.EnqueueMiddleware
	topo         topology.Topology // as the options say
	topology     wire.Topology     // what topo describes, made by validate
	window       int
	ackTimeout   time.Duration
	retryTimeout time.Duration
}

func defaultConfig() config {
	return config{
		log:          slog.Default(),
		window:       4000,
		ackTimeout:   5 * time.Second,
		retryTimeout: 30 * time.Second,
	}
}

// WithLogger logs with l: Info for stream provisioning, Warn for retried
// publishes. Default slog.Default(); nil keeps the default.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// WithMiddleware wraps every publish with mw, the first outermost; tracing
// plugs in here. Calls add up.
func WithMiddleware(mw ...tasks.EnqueueMiddleware) Option {
	return func(c *config) { c.middleware = append(c.middleware, mw...) }
}

// WithTopology sets every stream setting at once: give the same
// [topology.Topology] to every producer, worker, forwarder and tracker of a
// deployment. WithPrefix, WithReplicas, WithQueueLimits, WithDedupWindow and
// WithMemoryStorage each set one of its fields; options apply in order.
// Default: the zero Topology, jetq's defaults.
func WithTopology(t topology.Topology) Option {
	return func(c *config) { c.topo = t }
}

// WithPrefix derives every stream and subject name from prefix instead of
// "jetq": streams PREFIX_TASKS and PREFIX_DLQ, subjects prefix.task.>.
// Producers and workers of one system must agree on it.
func WithPrefix(prefix string) Option {
	return func(c *config) { c.topo.Prefix = prefix }
}

// WithReplicas sets the replicas of the streams the producer creates: 1 by
// default, 3 in a cluster. Existing streams keep theirs.
func WithReplicas(n int) Option {
	return func(c *config) { c.topo.Replicas = n }
}

// WithQueueLimits bounds the work stream the producer creates to maxTasks
// tasks and maxBytes bytes; 0 means unbounded, the default. A full stream
// refuses new tasks with [ErrQueueFull] rather than evicting queued ones.
func WithQueueLimits(maxTasks, maxBytes int64) Option {
	return func(c *config) { c.topo.MaxTasks, c.topo.MaxBytes = maxTasks, maxBytes }
}

// WithDedupWindow sets how long the work stream the producer creates
// remembers task IDs to drop duplicates. Default 2 minutes; the server keeps
// one entry per task enqueued within the window.
func WithDedupWindow(d time.Duration) Option {
	return func(c *config) { c.topo.DedupWindow = d }
}

// WithMemoryStorage creates the streams in memory rather than on disk: for
// tests and benchmarks, never where tasks must survive a restart.
func WithMemoryStorage() Option {
	return func(c *config) { c.topo.Memory = true }
}

// WithAsyncWindow bounds how many publishes of one [EnqueueBatch] await their
// acknowledgement at once; a larger batch is also built and published in
// slices of about this size, so that its memory stays bounded. Default 4000.
func WithAsyncWindow(n int) Option {
	return func(c *config) { c.window = n }
}

// WithAckTimeout sets how long a publish waits for the server's
// acknowledgement, counted from its publish, before it is retried with the
// same ID. Default 5 s.
func WithAckTimeout(d time.Duration) Option {
	return func(c *config) { c.ackTimeout = d }
}

// WithRetryTimeout bounds how long a failing publish is retried, with
// exponential backoff, before its error is returned; the call's ctx bounds it
// too. Default 30 s.
func WithRetryTimeout(d time.Duration) Option {
	return func(c *config) { c.retryTimeout = d }
}

func (c *config) validate() error {
	var err error
	if c.topology, err = wire.FromPublic(c.topo); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	switch {
	case c.window < 1:
		return fmt.Errorf("%w: async window must be at least 1, got %d", ErrInvalidOption, c.window)
	case c.ackTimeout <= 0:
		return fmt.Errorf("%w: ack timeout must be positive, got %v", ErrInvalidOption, c.ackTimeout)
	case c.retryTimeout < 0:
		return fmt.Errorf("%w: retry timeout must not be negative, got %v", ErrInvalidOption, c.retryTimeout)
	}
	return nil
}

// EnqueueOption configures one call of [Enqueue] or [EnqueueBatch].
type EnqueueOption func(*enqueueConfig)

type enqueueConfig struct {
	id     string
	idSet  bool // WithID was given, so id is checked even when empty
	ids    []string
	header tasks.Header
}

// WithID gives the task the ID id instead of a generated one, for [Enqueue].
// Within the work stream's deduplication window a second task with the same
// ID is dropped and its [Result] says Duplicate, so enqueueing is idempotent:
// use a key of the work, such as "welcome-email:42". 1 to 200 bytes,
// printable, no spaces: an empty id is refused with [ErrInvalidOption] rather
// than replaced by a generated one, which would not be idempotent.
func WithID(id string) EnqueueOption {
	return func(c *enqueueConfig) { c.id, c.idSet = id, true }
}

// WithIDs gives the tasks of an [EnqueueBatch] the IDs ids, one per payload
// in order; see [WithID]. Each ID is checked as WithID's is.
func WithIDs(ids ...string) EnqueueOption {
	return func(c *enqueueConfig) { c.ids = ids }
}

// WithHeader adds a header to the task message, readable by the handler in
// Task.Header. Names starting with "Nats-" or "Jetq-" are reserved.
func WithHeader(key, value string) EnqueueOption {
	return func(c *enqueueConfig) {
		if c.header == nil {
			c.header = tasks.Header{}
		}
		c.header.Add(key, value)
	}
}

func (c *enqueueConfig) validate(batch bool, n int) error {
	if c.idSet && batch {
		return fmt.Errorf("%w: WithID names one task; use WithIDs with EnqueueBatch", ErrInvalidOption)
	}
	if c.ids != nil && !batch {
		return fmt.Errorf("%w: WithIDs is for EnqueueBatch; use WithID with Enqueue", ErrInvalidOption)
	}
	if c.ids != nil && len(c.ids) != n {
		return fmt.Errorf("%w: WithIDs got %d IDs for %d tasks", ErrInvalidOption, len(c.ids), n)
	}
	if c.idSet {
		if err := validateID(c.id); err != nil {
			return err
		}
	}
	for i, id := range c.ids {
		if err := validateID(id); err != nil {
			return fmt.Errorf("task %d: %w", i, err)
		}
	}
	for k := range c.header {
		if strings.HasPrefix(k, "Nats-") || strings.HasPrefix(k, "Jetq-") {
			return fmt.Errorf("%w: header %q is reserved", ErrInvalidOption, k)
		}
		if k == "" || strings.ContainsAny(k, ": \r\n") {
			return fmt.Errorf("%w: header name %q is not valid", ErrInvalidOption, k)
		}
	}
	return nil
}

func validateID(id string) error {
	if id == "" || len(id) > 200 {
		return fmt.Errorf("%w: task ID must be 1 to 200 bytes, got %d", ErrInvalidOption, len(id))
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("%w: task ID %q holds a space or control character", ErrInvalidOption, id)
		}
	}
	return nil
}
