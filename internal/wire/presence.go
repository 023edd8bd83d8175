package wire

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

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
	// Succeeded, Failed, DeadLettered and Expired count the tasks the
	// worker settled since it started: succeeded, failed an attempt (to be
	// retried or dead-lettered), dead-lettered, or dropped past their
	// deadline.
	Succeeded    uint64 `json:"succeeded,omitempty"`
	Failed       uint64 `json:"failed,omitempty"`
	DeadLettered uint64 `json:"dead_lettered,omitempty"`
	Expired      uint64 `json:"expired,omitempty"`
}
