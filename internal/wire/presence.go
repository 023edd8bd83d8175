package wire

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// WorkersBucket is the key-value bucket where every running worker keeps
// its presence, "JETQ_WORKERS".
func (n Names) WorkersBucket() string { return n.stream("WORKERS") }

// WorkersBucketConfig is the configuration of t's presence bucket: one key
// per worker, each written with a per-message TTL (server 2.11) so that the
// entry of a worker that died disappears by itself.
func WorkersBucketConfig(t topology.Topology) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:         NamesOf(t).WorkersBucket(),
		Description:    "jetq live workers and the deliveries each holds",
		History:        1,
		Storage:        storage(t),
		Replicas:       replicas(t),
		LimitMarkerTTL: time.Second,
	}
}

// PresenceSubject is the subject of worker id's presence entry in the
// bucket, written directly so that each write carries its own TTL.
func (n Names) PresenceSubject(id string) string {
	return "$KV." + n.WorkersBucket() + "." + id
}

// PresenceTTL is how long a presence entry written every every outlives
// its write: three intervals, at least a second (the server's smallest
// TTL), in whole seconds.
func PresenceTTL(every time.Duration) time.Duration {
	return max(time.Second, (3*every + time.Second - 1).Truncate(time.Second))
}

// PresenceTTLHeader is the Nats-TTL header value for ttl.
func PresenceTTLHeader(ttl time.Duration) string {
	return fmt.Sprintf("%ds", int64(ttl/time.Second))
}

// Presence is a worker's presence entry: who it is and, per task type it
// serves, the deliveries in its hands.
type Presence struct {
	ID      string        `json:"id"`
	Host    string        `json:"host,omitempty"`
	PID     int           `json:"pid,omitempty"`
	Started time.Time     `json:"started"`
	Updated time.Time     `json:"updated"`
	Every   time.Duration `json:"every"`
	// Concurrency is how many handlers the worker runs at most.
	Concurrency int            `json:"concurrency,omitempty"`
	Tasks       []PresenceTask `json:"tasks"`
}

// PresenceTask is what a worker holds of one task type.
type PresenceTask struct {
	Queue string `json:"queue"`
	Task  string `json:"task"`
	// Tracked is set when the type's definition tracks its tasks' status
	// (tasks.WithStateTracking): their records hold progress and errors.
	Tracked bool `json:"tracked,omitempty"`
	// Retention is how long the type keeps each task's final outcome
	// (tasks.WithRetention); 0 keeps none. Workers before it leave it out.
	Retention time.Duration `json:"retention,omitempty"`
	// RateLimit and KeyRateLimit are the type's rate limits
	// (tasks.WithRateLimit, tasks.WithKeyRateLimit), KeyConcurrency its
	// concurrency per key (tasks.WithKeyConcurrency), as this worker's
	// definition has them; zero without. Workers before them leave them
	// out.
	RateLimit      tasks.Rate `json:"rate_limit,omitzero"`
	KeyRateLimit   tasks.Rate `json:"key_rate_limit,omitzero"`
	KeyConcurrency int        `json:"key_concurrency,omitempty"`
	// KeyWaiting counts the tasks the worker holds until their key's rate
	// limit grants them a start (counted in Held too).
	KeyWaiting int `json:"key_waiting,omitempty"`
	// Held counts the deliveries in the worker's hands and not settled:
	// queued for a handler, running, or having a dead-letter record filed
	// or an acknowledgement confirmed. Each is heartbeated.
	Held int `json:"held"`
	// Running counts the handlers running now.
	Running int `json:"running"`
	// Retrying counts the retries this worker set (NakWithDelay) that are
	// still to come: deliveries waiting out a backoff, which the server
	// counts as pending acknowledgement and no worker holds. Workers before
	// it leave it out (0).
	Retrying int `json:"retrying,omitempty"`
	// NextRetryAt is the earliest retry this worker set (NakWithDelay) that
	// is still to come; zero if none.
	NextRetryAt time.Time `json:"next_retry_at,omitzero"`
	// Deliveries lists the deliveries counted in Held, running ones with
	// the time their handler started. A worker lists all it holds, at most
	// its concurrency plus its prefetch plus one a task type; workers
	// before it leave the list out, so Held beyond len(Deliveries) counts
	// deliveries that are held and not listed.
	Deliveries []PresenceDelivery `json:"deliveries,omitempty"`
	// Retries lists the retries counted in Retrying, earliest due first, at
	// most [MaxPresenceRetries] of a worker; each is dropped once due.
	// Workers before it leave the list out.
	Retries []PresenceRetry `json:"retries,omitempty"`
	// Succeeded, Failed, DeadLettered and Expired count the tasks the
	// worker settled since it started: succeeded, failed an attempt (to be
	// retried or dead-lettered), dead-lettered, or dropped past their
	// deadline.
	Succeeded    uint64 `json:"succeeded,omitempty"`
	Failed       uint64 `json:"failed,omitempty"`
	DeadLettered uint64 `json:"dead_lettered,omitempty"`
	Expired      uint64 `json:"expired,omitempty"`
}

// PresenceDelivery is one delivery in a worker's hands.
type PresenceDelivery struct {
	// ID is the task's ID, Seq the sequence of its message in the work
	// stream, Attempt the attempt it is (1 the first).
	ID      string `json:"id"`
	Seq     uint64 `json:"seq"`
	Attempt int    `json:"attempt"`
	// Started is when its handler started; zero while it waits in the
	// worker's prefetch.
	Started time.Time `json:"started,omitzero"`
}

// PresenceRetry is one retry a worker set: the attempt that failed and when
// the next is due.
type PresenceRetry struct {
	ID      string    `json:"id"`
	Seq     uint64    `json:"seq"`
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	// Error is the first line of the attempt's error, at most
	// [MaxPresenceError] bytes.
	Error string `json:"error,omitempty"`
}

// MaxPresenceRetries bounds the retries a worker lists in its presence
// entry, MaxPresenceError the error text of each: a worker that set more
// lists the earliest due.
const (
	MaxPresenceRetries = 256
	MaxPresenceError   = 200
)

// FirstLine is the first line of s, at most max bytes, cut at a rune
// boundary.
func FirstLine(s string, max int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
