package ratelimit

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// CounterLevel is the JetStream API level of nats-server 2.12, the first
// with counters; [MinServer] names it.
const CounterLevel = 2

// MinServer is the oldest server that counts rate limits.
const MinServer = "nats-server 2.12"

// MaxAge is how long the rate stream keeps a window's count: past the
// longest interval, so a window's count outlives its window.
const MaxAge = tasks.MaxRatePer + time.Minute

// incrHeader adds its value to a counter subject's total (ADR-49); nats.go
// has no constant for it.
const incrHeader = "Nats-Incr"

// ErrUnsupported is wrapped when the server cannot count starts.
var ErrUnsupported = errors.New("rate limits need " + MinServer + " or newer (counters)")

// StreamConfig is the configuration of t's rate stream, "JETQ_RATES" over
// "jetq.rate.>": counters, limits retention, the last message of each
// subject, kept for [MaxAge]. It is stored and replicated as the work
// stream.
func StreamConfig(t topology.Topology) jetstream.StreamConfig {
	n := wire.NamesOf(t)
	storage := jetstream.FileStorage
	if t.Memory {
		storage = jetstream.MemoryStorage
	}
	return jetstream.StreamConfig{
		Name:              strings.ToUpper(n.Prefix()) + "_RATES",
		Description:       "jetq rate limits: task starts counted per window",
		Subjects:          []string{n.Prefix() + ".rate.>"},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		MaxAge:            MaxAge,
		Duplicates:        time.Minute,
		Storage:           storage,
		Replicas:          max(t.Replicas, 1),
		AllowMsgCounter:   true,
		AllowDirect:       true,
	}
}

// Counter asks the rate stream of one topology for starts. It is safe
// for concurrent use.
type Counter struct {
	js     jetstream.JetStream
	cfg    jetstream.StreamConfig
	prefix string
}

// New returns the counter of topology t; it does no I/O.
func New(js jetstream.JetStream, t topology.Topology) *Counter {
	return &Counter{js: js, cfg: StreamConfig(t), prefix: wire.NamesOf(t).Prefix() + ".rate."}
}

// Ensure checks that the server counts (an error wrapping
// [ErrUnsupported] if not) and creates the rate stream if it is missing.
// An existing stream is used as it is, if it counts.
func (c *Counter) Ensure(ctx context.Context) error {
	info, err := c.js.AccountInfo(ctx)
	if err != nil {
		return fmt.Errorf("read the server's API level: %w", err)
	}
	if info.API.Level < CounterLevel {
		return fmt.Errorf("%w: this server has JetStream API level %d, counters need level %d",
			ErrUnsupported, info.API.Level, CounterLevel)
	}
	s, err := c.js.CreateStream(ctx, c.cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		s, err = c.js.Stream(ctx, c.cfg.Name)
	}
	if err != nil {
		return fmt.Errorf("rate stream %s: %w", c.cfg.Name, err)
	}
	if cfg := s.CachedInfo().Config; !cfg.AllowMsgCounter {
		return fmt.Errorf("%w: stream %s exists but does not allow counters; delete it (nats stream rm %s) and start again",
			ErrUnsupported, cfg.Name, cfg.Name)
	}
	return nil
}

// Window is the window of now for interval per: its index since the Unix
// epoch and its end.
func Window(now time.Time, per time.Duration) (index int64, end time.Time) {
	index = now.UnixNano() / int64(per)
	return index, time.Unix(0, (index+1)*int64(per))
}

// TypeSubject is the counter of spec's tasks in window index of its rate
// limit: "jetq.rate.t.<queue>.<name>.<interval ns>.<index>". The interval
// is in the subject so that workers of two versions of a definition do not
// share counts.
func (c *Counter) TypeSubject(spec tasks.Spec, index int64) string {
	return c.prefix + "t." + spec.Queue + "." + spec.Name + "." +
		strconv.FormatInt(int64(spec.RateLimit.Per), 10) + "." + strconv.FormatInt(index, 10)
}

// KeySubject is the counter of spec's tasks with key in window index of
// its key rate limit: "jetq.rate.k.<queue>.<name>.<interval ns>.<index>.<key>",
// the key base64url-encoded, which makes any key one subject token.
func (c *Counter) KeySubject(spec tasks.Spec, key string, index int64) string {
	return c.prefix + "k." + spec.Queue + "." + spec.Name + "." +
		strconv.FormatInt(int64(spec.KeyRateLimit.Per), 10) + "." + strconv.FormatInt(index, 10) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(key))
}

// Take asks for k starts of a limit of n on subject and returns how many
// the window granted, from 0 to k.
func (c *Counter) Take(ctx context.Context, subject string, k, n int) (int, error) {
	m := nats.NewMsg(subject)
	m.Header.Set(incrHeader, strconv.Itoa(k))
	ack, err := c.js.PublishMsg(ctx, m)
	if err != nil {
		return 0, fmt.Errorf("count starts on %s: %w", subject, err)
	}
	total, ok := new(big.Int).SetString(ack.Value, 10)
	if !ok {
		return 0, fmt.Errorf("%w: stream %s answered %q for counter %s, not a count", ErrUnsupported, ack.Stream, ack.Value, subject)
	}
	if !total.IsInt64() {
		return 0, nil // beyond any limit
	}
	return Granted(total.Int64(), k, n), nil
}

// Granted is what a request for k starts got of a limit of n when the
// count it made is total.
func Granted(total int64, k, n int) int {
	return int(min(int64(k), max(0, int64(n)-(total-int64(k)))))
}
