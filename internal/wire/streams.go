package wire

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// Defaults of a [topology.Topology]'s zero fields.
const (
	DefaultDedupWindow      = 2 * time.Minute
	DefaultDeadLetterMaxAge = 30 * 24 * time.Hour
)

// Fixed windows of jetq's streams.
const (
	// DLQDedupWindow is the dead-letter stream's deduplication window: the
	// worker and the forwarder filing one task within it make one record.
	// It is also the shortest DeadLetterMaxAge, as the server requires.
	DLQDedupWindow = time.Hour
	// EventsMaxAge is how long the events stream keeps advisories.
	EventsMaxAge = 7 * 24 * time.Hour
)

// NamesOf is the names of t's streams, subjects and buckets. t is checked
// already ([topology.Topology.Validate]); a prefix that Validate refuses
// makes names that the server refuses.
func NamesOf(t topology.Topology) Names { return Names{prefix: t.Prefix} }

func replicas(t topology.Topology) int { return max(t.Replicas, 1) }

func storage(t topology.Topology) jetstream.StorageType {
	if t.Memory {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

func orUnlimited(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// WorkStreamConfig is the configuration of t's work stream: WorkQueue
// retention so an acked task is gone, DiscardNew so a full queue refuses
// tasks instead of evicting unprocessed ones, direct gets so the list of
// pending tasks reads a page in one batched request, with no consumer, and
// atomic batch publish (server 2.12) for groups of tasks stored all or
// nothing (an older server ignores the setting).
func WorkStreamConfig(t topology.Topology) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        NamesOf(t).WorkStream(),
		Description: "jetq tasks waiting to run",
		Subjects:    []string{NamesOf(t).WorkSubjects()},
		Retention:   jetstream.WorkQueuePolicy,
		Discard:     jetstream.DiscardNew,
		MaxMsgs:     orUnlimited(t.MaxTasks),
		MaxBytes:    orUnlimited(t.MaxBytes),
		Storage:     storage(t),
		Replicas:    replicas(t),
		Duplicates:  orDefault(t.DedupWindow, DefaultDedupWindow),
		AllowDirect: true,

		AllowAtomicPublish: true,
	}
}

// ScheduleStreamConfig is the configuration of t's stream of schedules:
// delayed tasks wait on jetq.sched.at.<id>, periodic declarations on
// jetq.sched.every.<name>, and the server's scheduler fires each onto
// jetq.fire.<queue>.<task>, from where the work stream sources it.
//
// Schedules cannot live in the work stream itself: a stream that schedules
// may not discard new messages, and the work stream must, so that a full
// queue refuses tasks instead of evicting them. So this stream is
// unbounded (DiscardOld without limits evicts nothing), and a fired task
// waits here while the work stream is full. WorkQueue retention lets the
// work stream's sourcing remove what it copied; no other consumer may read
// jetq.sched.>, since one that acknowledged a schedule would cancel it.
func ScheduleStreamConfig(t topology.Topology) jetstream.StreamConfig {
	n := NamesOf(t)
	return jetstream.StreamConfig{
		Name:              n.ScheduleStream(),
		Description:       "jetq delayed tasks and periodic declarations, fired by the server into the work stream",
		Subjects:          []string{n.ScheduleSubjects(), n.FireSubjects()},
		Retention:         jetstream.WorkQueuePolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		Storage:           storage(t),
		Replicas:          replicas(t),
		Duplicates:        orDefault(t.DedupWindow, DefaultDedupWindow),
		AllowMsgSchedules: true,
		AllowMsgTTL:       true,
		AllowRollup:       true, // the server sets both for a schedule stream; stated so Ensure finds what it asked for
		AllowDirect:       true,
	}
}

// ScheduleSource is how the work stream takes fired tasks from the
// schedule stream: jetq.fire.<queue>.<task> becomes jetq.task.<queue>.<task>.
func (n Names) ScheduleSource() *jetstream.StreamSource {
	return &jetstream.StreamSource{
		Name: n.ScheduleStream(),
		SubjectTransforms: []jetstream.SubjectTransformConfig{
			{Source: n.FireSubjects(), Destination: n.WorkSubjects()},
		},
	}
}

// Schedules reports whether the work stream work takes fired tasks from
// the schedule stream: whether delayed and periodic tasks can run.
func (n Names) Schedules(work jetstream.StreamConfig) bool {
	for _, src := range work.Sources {
		if src != nil && src.Name == n.ScheduleStream() {
			return true
		}
	}
	return false
}

// FiredBucketConfig is the configuration of t's bucket in which workers claim
// fired tasks by ID (consumer/fired.go): one key per delayed task or periodic
// tick that ran, kept for [FiredWindow].
func FiredBucketConfig(t topology.Topology) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      NamesOf(t).FiredBucket(),
		Description: "jetq delayed and periodic tasks claimed by a worker, so that a second copy does not run",
		History:     1,
		TTL:         FiredWindow,
		Storage:     storage(t),
		Replicas:    replicas(t),
	}
}

// UniqueBucketConfig is the configuration of t's bucket of unique keys:
// per-key TTLs (server 2.11) bound how long a key outlives a task whose
// worker died.
func UniqueBucketConfig(t topology.Topology) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:         NamesOf(t).UniqueBucket(),
		Description:    "jetq unique keys of tasks queued, scheduled or running",
		History:        1,
		Storage:        storage(t),
		Replicas:       replicas(t),
		LimitMarkerTTL: time.Second,
	}
}

// StatusBucketConfig is the configuration of t's bucket of tracked tasks'
// statuses (internal/statusstore), each kept for ttl after its last update.
func StatusBucketConfig(t topology.Topology, ttl time.Duration) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:       NamesOf(t).StatusBucket(),
		Description:  "jetq task states",
		History:      1,
		TTL:          ttl,
		MaxValueSize: 64 << 10,
		Storage:      storage(t),
		Replicas:     replicas(t),
	}
}

// ResultObjectsConfig is the configuration of t's object store bucket of
// results too large for their status record, each kept for maxAge: the
// longest retention, since a bucket has one age for all.
func ResultObjectsConfig(t topology.Topology, maxAge time.Duration) jetstream.ObjectStoreConfig {
	return jetstream.ObjectStoreConfig{
		Bucket:      NamesOf(t).ResultObjects(),
		Description: "jetq task results too large for their status record",
		TTL:         maxAge,
		Storage:     storage(t),
		Replicas:    replicas(t),
	}
}

// DLQStreamConfig is the configuration of t's dead-letter stream: Limits
// retention with a long MaxAge, and an hour of deduplication so the worker
// and the forwarder cannot both file one task.
func DLQStreamConfig(t topology.Topology) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        NamesOf(t).DLQStream(),
		Description: "jetq dead-letter records",
		Subjects:    []string{NamesOf(t).DLQSubjects()},
		Retention:   jetstream.LimitsPolicy,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxAge:      orDefault(t.DeadLetterMaxAge, DefaultDeadLetterMaxAge),
		Storage:     storage(t),
		Replicas:    replicas(t),
		Duplicates:  DLQDedupWindow,
		AllowDirect: true,
	}
}

// DLQObjectsConfig is the configuration of t's object store bucket that keeps
// the originals of truncated dead-letter records as long as the records.
func DLQObjectsConfig(t topology.Topology) jetstream.ObjectStoreConfig {
	return jetstream.ObjectStoreConfig{
		Bucket:      NamesOf(t).DLQObjects(),
		Description: "jetq originals of dead-letter records too large to keep whole",
		TTL:         orDefault(t.DeadLetterMaxAge, DefaultDeadLetterMaxAge),
		Storage:     storage(t),
		Replicas:    replicas(t),
	}
}

// EventsStreamConfig is the configuration of t's stream that keeps the work
// stream's max-deliveries and terminated advisories. The server publishes
// advisories only while someone listens, so this stream must exist before
// failures happen: it is the forwarder's memory while no forwarder runs.
func EventsStreamConfig(t topology.Topology) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        NamesOf(t).EventsStream(),
		Description: "jetq advisories of the work stream, for the dead-letter forwarder",
		Subjects:    NamesOf(t).EventSubjects(),
		Retention:   jetstream.LimitsPolicy,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxAge:      EventsMaxAge,
		Storage:     storage(t),
		Replicas:    replicas(t),
		// Advisories carry no Nats-Msg-Id; this is the server's default,
		// stated so that Ensure finds an existing stream as asked for.
		Duplicates: DefaultDedupWindow,
	}
}

// ConsumerConfig is the configuration in t of the durable consumer of one
// task type, all of it from the task's definition, so every worker asks
// for the same:
// MaxDeliver is the task's MaxAttempts, so the server gives up (and
// advises) exactly when the worker would have dead-lettered; AckWait is the
// definition's; MaxAckPending is its MaxConcurrency, the cluster-wide cap,
// or unlimited (what a worker holds is bounded by the worker). Pulls name
// [PriorityGroup]: its overflow policy lets the forwarder keep a pull
// waiting that takes no task. Its metadata (server 2.10 or newer) records
// the payload's Go type under [MetaPayloadType] and its JSON Schema, if
// any, under [MetaPayloadSchema], for the worker to notice two services
// using one task name with different payloads and for `jetq enqueue` to
// check payloads; a spec without them gets no metadata. A spec with a
// retention records it under [MetaRetention], for the forwarder to keep
// the final outcome of the tasks it dead-letters.
func ConsumerConfig(t topology.Topology, spec tasks.Spec) jetstream.ConsumerConfig {
	maxAckPending := -1
	if spec.MaxConcurrency > 0 {
		maxAckPending = spec.MaxConcurrency
	}
	var meta map[string]string
	if spec.PayloadType != "" {
		meta = map[string]string{MetaPayloadType: spec.PayloadType}
		if spec.PayloadSchema != "" {
			meta[MetaPayloadSchema] = spec.PayloadSchema
		}
	}
	if spec.Retention > 0 {
		if meta == nil {
			meta = map[string]string{}
		}
		meta[MetaRetention] = spec.Retention.String()
	}
	return jetstream.ConsumerConfig{
		Durable:       NamesOf(t).Durable(spec.Queue, spec.Name),
		Description:   "jetq worker of task " + spec.Name + " on queue " + spec.Queue,
		FilterSubject: NamesOf(t).TaskSubject(spec.Queue, spec.Name),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       orDefault(spec.AckWait, tasks.DefaultAckWait),
		MaxDeliver:    spec.MaxAttempts,
		MaxAckPending: maxAckPending,
		Replicas:      replicas(t),
		// Server 2.11 or newer.
		PriorityPolicy: jetstream.PriorityPolicyOverflow,
		PriorityGroups: []string{PriorityGroup},
		Metadata:       meta,
	}
}

// Keys of the metadata of a task's durable consumer, see [ConsumerConfig].
const (
	// MetaPayloadType is the Go type of the payload, with its package path.
	MetaPayloadType = "jetq.payload.type"
	// MetaPayloadSchema is the JSON Schema of the payload (see
	// tasks.Spec.PayloadSchema).
	MetaPayloadSchema = "jetq.payload.schema"
	// MetaRetention is how long the final outcome of each task is kept
	// (tasks.Spec.Retention), as time.Duration.String writes it.
	MetaRetention = "jetq.retention"
)

// PauseBucketConfig is the configuration of t's bucket of pauses
// (internal/pausing): one small record per paused scope (every queue, one
// queue, one task type), which a worker reads when it creates a task
// type's durable consumer, so that a pause also holds for a type deployed
// after it.
func PauseBucketConfig(t topology.Topology) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      NamesOf(t).PauseBucket(),
		Description: "jetq pauses of queues and task types",
		History:     1,
		Storage:     storage(t),
		Replicas:    replicas(t),
	}
}
