package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

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
	js   jetstream.JetStream
	topo wire.Topology
	log  *slog.Logger

	mu     sync.Mutex
	stream jetstream.Stream
}

// Option configures [New].
type Option func(*config)

type config struct {
	pub topology.Topology
	log *slog.Logger
}

// WithTopology sets the deployment's topology; give the same one as to its
// producers and workers. Default: the zero Topology, jetq's defaults.
func WithTopology(t topology.Topology) Option { return func(c *config) { c.pub = t } }

// WithPrefix sets the prefix of the deployment's stream and subject names.
// Default "jetq".
func WithPrefix(prefix string) Option { return func(c *config) { c.pub.Prefix = prefix } }

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
	topo, err := wire.FromPublic(c.pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	return &Schedules{js: js, topo: topo, log: c.log}, nil
}

// scheduleStream provisions the streams, once, and returns the schedule
// stream, or an error wrapping [ErrUnsupported] on an older server.
func (s *Schedules) scheduleStream(ctx context.Context) (jetstream.Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stream != nil {
		return s.stream, nil
	}
	work, err := s.topo.Provision(ctx, s.js, s.log, 30*time.Second)
	if err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	if !s.topo.Schedules(work) {
		return nil, fmt.Errorf("%w: scheduled tasks need %s or newer (the work stream %s does not take them)",
			ErrUnsupported, wire.MinSchedulingServer, work.Name)
	}
	st, err := s.js.Stream(ctx, s.topo.Names.ScheduleStream())
	if err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	s.stream = st
	return st, nil
}
