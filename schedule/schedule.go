package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/topology"
)

var (
	// ErrInvalidOption is wrapped by errors about options and declarations.
	ErrInvalidOption = errors.New("schedule: invalid option")
	// ErrUnsupported is wrapped when the server cannot schedule messages.
	ErrUnsupported = errors.New("schedule: not supported by this server")
)

// Schedules declares the periodic tasks of one deployment ([Declare]). It
// is safe for concurrent use. inspect reads and removes what is scheduled.
type Schedules struct {
	js    jetstream.JetStream
	topo  topology.Topology
	names wire.Names
	log   *slog.Logger

	mu     sync.Mutex
	stream jetstream.Stream
}

// Option configures [New].
type Option func(*config)

type config struct {
	pub topology.Topology
	log *slog.Logger
}

// WithTopology sets the deployment's [topology.Topology]: give the same
// value to every producer, worker, forwarder, schedule, inspector,
// dashboard and metrics collector of a deployment. Names derive from its
// prefix; streams and buckets created when missing follow the rest of it,
// and those that exist are used as the server has them. Default: the zero
// Topology, jetq's defaults.
func WithTopology(t topology.Topology) Option { return func(c *config) { c.pub = t } }

// WithLogger logs stream provisioning with l. Default slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// New returns the schedules of the deployment js reaches; it does no I/O.
// It returns an error wrapping [ErrInvalidOption] for a topology out of
// range.
func New(js jetstream.JetStream, opts ...Option) (*Schedules, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: jetstream.JetStream is nil", ErrInvalidOption)
	}
	c := config{log: slog.Default()}
	for _, opt := range opts {
		opt(&c)
	}
	if err := c.pub.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	return &Schedules{js: js, topo: c.pub, names: wire.NamesOf(c.pub), log: c.log}, nil
}

// scheduleStream provisions the streams, once, and returns the schedule
// stream, or an error wrapping [ErrUnsupported] on an older server.
func (s *Schedules) scheduleStream(ctx context.Context) (jetstream.Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stream != nil {
		return s.stream, nil
	}
	work, err := provision.Streams(ctx, s.js, s.topo, s.log, 30*time.Second)
	if err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	if !s.names.Schedules(work) {
		return nil, fmt.Errorf("%w: scheduled tasks need %s or newer (the work stream %s does not take them)",
			ErrUnsupported, provision.MinSchedulingServer, work.Name)
	}
	st, err := s.js.Stream(ctx, s.names.ScheduleStream())
	if err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	s.stream = st
	return st, nil
}
