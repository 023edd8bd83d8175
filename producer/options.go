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
	names        wire.Names        // of topo, set by validate
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
// plugs in here. Calls add up. The middleware runs on concurrent calls (the
// producer's callers, and the slices of a large [EnqueueBatch]), so it must
// be safe for concurrent use.
func WithMiddleware(mw ...tasks.EnqueueMiddleware) Option {
	return func(c *config) { c.middleware = append(c.middleware, mw...) }
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

// WithAsyncWindow bounds how many publishes of one [EnqueueBatch] await their
// acknowledgement at once; a larger batch is built and published in slices
// of about half this size, two at a time, so that its memory stays bounded.
// Default 4000.
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
// exponential backoff, counted from the call, before an error wrapping
// [ErrUnavailable] is returned; a try begun within it is awaited for up to
// the ack timeout, and the call's ctx bounds it too. 0 retries until ctx
// ends. Whatever it says, retries stop one ack timeout before the work
// stream's deduplication window, counted from the first try, closes, so
// that they cannot store a task twice. Default 30 s.
func WithRetryTimeout(d time.Duration) Option {
	return func(c *config) { c.retryTimeout = d }
}

func (c *config) validate() error {
	if err := c.topo.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	c.names = wire.NamesOf(c.topo)
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

	delay       time.Duration
	delaySet    bool
	runAt       time.Time
	runAtSet    bool
	deadline    time.Time
	deadlineSet bool
	unique      string
	uniqueTTL   time.Duration
	uniqueSet   bool
	key         string
	keySet      bool

	debounce       string // debounce.go
	debounceWindow time.Duration
	debounceSet    bool

	onSuccess, onFailure *callbackOption // callback.go

	err error // an option that could not be applied

	own map[string]bool // header names set by WithOwnHeader, reserved or not
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

// WithDelay runs the task d from now instead of at once, for [Enqueue] and
// [EnqueueBatch]. The server's own scheduler holds it (durable, replicated,
// no poller) and fires it at most about 250 ms late, never early; it keeps
// its ID, headers and trace context, and inspect.Inspector.Cancel can
// withdraw it until then. A negative d is refused; 0 means now. It needs nats-server
// 2.14 or newer, and is refused with [ErrUnsupported] on older servers.
func WithDelay(d time.Duration) EnqueueOption {
	return func(c *enqueueConfig) { c.delay, c.delaySet = d, true }
}

// WithRunAt runs the task at t instead of at once; see [WithDelay]. A time
// that has passed runs the task now, as a clock a little behind the
// server's would otherwise make a call fail at random; the zero time is
// refused.
func WithRunAt(t time.Time) EnqueueOption {
	return func(c *enqueueConfig) { c.runAt, c.runAtSet = t, true }
}

// WithDeadline drops the task unrun if no worker has started it by t; see
// tasks.WithExpiry, whose deadline it replaces for this call. A deadline
// that has passed, or that comes before the task is due, is refused.
func WithDeadline(t time.Time) EnqueueOption {
	return func(c *enqueueConfig) { c.deadline, c.deadlineSet = t, true }
}

// WithUnique makes the task unique by key among the queued, scheduled and
// running tasks of its definition, for [Enqueue]: while one holds key, an
// enqueue with the same key stores nothing and returns that task's ID with
// Duplicate set. The key is released when the task settles (done,
// dead-lettered, expired or cancelled), and at the latest ttl after the task is due,
// should its worker die and no other settle it. key is 1 to 256 bytes; ttl
// at least 1 s. Unlike [WithID], whose deduplication lasts the dedup
// window whatever happens to the task, a unique key lasts as long as the
// task does. It needs nats-server 2.11 or newer.
func WithUnique(key string, ttl time.Duration) EnqueueOption {
	return func(c *enqueueConfig) { c.unique, c.uniqueTTL, c.uniqueSet = key, ttl, true }
}

// WithKey gives the task a key: the tenant, customer or account whose work
// it is, which the per-key limits of its definition count by. The key is
// carried in the header [tasks.HeaderKey], which the handler can read. It
// is 1 to [tasks.MaxKeyLen] bytes of UTF-8 without control characters; a
// key that is empty, too long or not so is refused with [ErrInvalidOption].
func WithKey(key string) EnqueueOption {
	return func(c *enqueueConfig) { c.key, c.keySet = key, true }
}

// due returns when the tasks are due, zero for now.
func (c *enqueueConfig) due(now time.Time) time.Time {
	switch {
	case c.delaySet && c.delay > 0:
		return now.Add(c.delay)
	case c.runAtSet && c.runAt.After(now):
		return c.runAt
	case c.debounceSet:
		return now.Add(c.debounceWindow)
	}
	return time.Time{}
}

func (c *enqueueConfig) validateTiming(batch bool, now time.Time) error {
	switch {
	case c.delaySet && c.runAtSet:
		return fmt.Errorf("%w: WithDelay and WithRunAt both say when the task runs; give one", ErrInvalidOption)
	case c.delaySet && c.delay < 0:
		return fmt.Errorf("%w: delay must not be negative, got %v", ErrInvalidOption, c.delay)
	case c.runAtSet && c.runAt.IsZero():
		return fmt.Errorf("%w: WithRunAt got the zero time; give the time the task should run", ErrInvalidOption)
	case c.deadlineSet && c.deadline.IsZero():
		return fmt.Errorf("%w: WithDeadline got the zero time; leave it out for no deadline", ErrInvalidOption)
	case c.deadlineSet && !c.deadline.After(now):
		return fmt.Errorf("%w: deadline %v has passed already", ErrInvalidOption, c.deadline.UTC().Format(time.RFC3339Nano))
	case c.uniqueSet && batch:
		return fmt.Errorf("%w: WithUnique names one task; enqueue unique tasks one at a time with Enqueue", ErrInvalidOption)
	case c.uniqueSet && (c.unique == "" || len(c.unique) > wire.MaxUniqueKey):
		return fmt.Errorf("%w: unique key must be 1 to %d bytes, got %d", ErrInvalidOption, wire.MaxUniqueKey, len(c.unique))
	case c.uniqueSet && c.uniqueTTL < time.Second:
		return fmt.Errorf("%w: unique key TTL must be at least 1s, got %v", ErrInvalidOption, c.uniqueTTL)
	}
	if due := c.due(now); c.deadlineSet && !due.IsZero() && !c.deadline.After(due) {
		return fmt.Errorf("%w: deadline %v is not after the time the task runs, %v", ErrInvalidOption,
			c.deadline.UTC().Format(time.RFC3339Nano), due.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

func (c *enqueueConfig) validate(batch bool, n int, now time.Time) error {
	if c.err != nil {
		return c.err
	}
	if err := c.validateDebounce(batch); err != nil {
		return err
	}
	if err := c.validateTiming(batch, now); err != nil {
		return err
	}
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
	if c.keySet {
		if err := tasks.ValidateKey(c.key); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
	}
	for k := range c.header {
		if (strings.HasPrefix(k, "Nats-") || strings.HasPrefix(k, "Jetq-")) && !c.own[k] {
			return fmt.Errorf("%w: header %q is reserved", ErrInvalidOption, k)
		}
		if k == "" || strings.ContainsAny(k, ": \r\n") {
			return fmt.Errorf("%w: header name %q is not valid", ErrInvalidOption, k)
		}
	}
	return nil
}

func validateID(id string) error {
	if id == "" || len(id) > wire.MaxID {
		return fmt.Errorf("%w: task ID must be 1 to %d bytes, got %d", ErrInvalidOption, wire.MaxID, len(id))
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("%w: task ID %q holds a space or control character", ErrInvalidOption, id)
		}
	}
	return nil
}
