package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/retry"
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

// WorkStreamConfig is the configuration of t's work stream: WorkQueue retention so
// an acked task is gone, DiscardNew so a full queue refuses tasks instead of
// evicting unprocessed ones.
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
	}
}

// ScheduleStreamConfig is the configuration of t's stream of schedules: delayed
// tasks wait on jetq.sched.at.<id>, periodic declarations on
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
// fired tasks by ID (consumer/fired.go): one key per delayed task or
// periodic tick that ran, kept for [FiredWindow].
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

// SchedulingLevel is the JetStream API level of nats-server 2.14, the first
// with cron and @every schedules; [MinSchedulingServer] names it.
const SchedulingLevel = 4

// MinSchedulingServer is the oldest server that runs schedules.
const MinSchedulingServer = "nats-server 2.14"

// UniqueBucketConfig is the configuration of t's bucket of unique keys: per-key
// TTLs (server 2.11) bound how long a key outlives a task whose worker died.
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

// DLQStreamConfig is the configuration of t's dead-letter stream: Limits retention
// with a long MaxAge, and an hour of deduplication so the worker and the
// forwarder cannot both file one task.
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

// DLQObjectsConfig is the configuration of t's object store bucket that keeps the
// originals of truncated dead-letter records as long as the records.
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

// ConsumerConfig is the configuration in t of the durable consumer of one task type,
// all of it from the task's definition, so every worker asks for the same:
// MaxDeliver is the task's MaxAttempts, so the server gives up (and
// advises) exactly when the worker would have dead-lettered; AckWait is the
// definition's; MaxAckPending is its MaxConcurrency, the cluster-wide cap,
// or unlimited (what a worker holds is bounded by the worker). Pulls name
// [PriorityGroup]: its overflow policy lets the forwarder keep a pull
// waiting that takes no task. Its metadata (server 2.10 or newer) records
// the payload's Go type under [MetaPayloadType] and its JSON Schema, if
// any, under [MetaPayloadSchema], for the worker to notice two services
// using one task name with different payloads and for `jetq enqueue` to
// check payloads; a spec without them gets no metadata.
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
)

// Ensure creates the streams that are missing and returns the work stream's
// configuration as the server has it. A stream that exists is used as it is:
// where it differs from what t asks for (replicas, limits, windows), a
// warning gives both values, since whoever created it decided for everyone.
// A setting that breaks a guarantee is an error: a work stream that is not
// a WorkQueue stream over the task subjects, or that evicts queued tasks
// (DiscardOld with limits, or a max age), and a dead-letter stream that does not keep its
// records (not Limits retention).
func Ensure(ctx context.Context, js jetstream.JetStream, t topology.Topology, log *slog.Logger) (jetstream.StreamConfig, error) {
	n := NamesOf(t)
	work, err := ensureStream(ctx, js, WorkStreamConfig(t), log)
	if err != nil {
		return work, err
	}
	switch {
	case work.Retention != jetstream.WorkQueuePolicy || !slices.Contains(work.Subjects, n.WorkSubjects()):
		return work, fmt.Errorf("stream %s exists but is not a WorkQueue stream over %q; delete it or choose another prefix", work.Name, n.WorkSubjects())
	case work.Discard != jetstream.DiscardNew && (work.MaxMsgs > 0 || work.MaxBytes > 0 || work.MaxMsgsPerSubject > 0):
		return work, fmt.Errorf("stream %s discards old messages when full, which would evict queued tasks; set its discard policy to new (nats stream edit %s --discard new)", work.Name, work.Name)
	case work.MaxAge > 0:
		return work, fmt.Errorf("stream %s removes messages after %v, which would evict queued tasks; remove its max age (nats stream edit %s --max-age 0)", work.Name, work.MaxAge, work.Name)
	}
	if work, err = ensureSchedules(ctx, js, t, work, log); err != nil {
		return work, err
	}
	dlq, err := ensureStream(ctx, js, DLQStreamConfig(t), log)
	if err != nil {
		return work, err
	}
	if dlq.Retention != jetstream.LimitsPolicy {
		return work, fmt.Errorf("stream %s exists with %s retention, which would drop dead-letter records; it must keep them (limits retention): delete it or choose another prefix", dlq.Name, dlq.Retention)
	}
	if _, err := ensureStream(ctx, js, EventsStreamConfig(t), log); err != nil {
		return work, err
	}
	return work, nil
}

// ensureSchedules creates the schedule stream and has the work stream
// source it and take per-task TTLs, on servers that run schedules (a work
// stream made by an older jetq is updated: both changes only add). On an
// older server it leaves the work stream alone; the calls that need
// schedules then say which server they need.
func ensureSchedules(ctx context.Context, js jetstream.JetStream, t topology.Topology, work jetstream.StreamConfig, log *slog.Logger) (jetstream.StreamConfig, error) {
	n := NamesOf(t)
	if n.Schedules(work) && work.AllowMsgTTL {
		// Set up before; the schedule stream may have been deleted since.
		want := ScheduleStreamConfig(t)
		want.Replicas, want.Storage = work.Replicas, work.Storage
		_, err := ensureStream(ctx, js, want, log)
		return work, err
	}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	info, err := js.AccountInfo(rctx)
	cancel()
	if err != nil {
		return work, fmt.Errorf("read the server's API level: %w", err)
	}
	if info.API.Level < SchedulingLevel {
		return work, nil
	}
	// Replicated and stored as the work stream, whoever made that.
	want := ScheduleStreamConfig(t)
	want.Replicas, want.Storage = work.Replicas, work.Storage
	sched, err := ensureStream(ctx, js, want, log)
	if err != nil {
		return work, err
	}
	if sched.Retention != jetstream.WorkQueuePolicy || !sched.AllowMsgSchedules {
		return work, fmt.Errorf("stream %s exists but is not a WorkQueue stream that allows message schedules; delete it or choose another prefix", sched.Name)
	}
	update := work
	update.AllowMsgTTL = true
	if !n.Schedules(work) {
		update.Sources = append(slices.Clone(work.Sources), n.ScheduleSource())
	}
	rctx, cancel = context.WithTimeout(ctx, requestTimeout)
	s, err := js.UpdateStream(rctx, update)
	cancel()
	if err != nil && !retry.Transient(err) {
		// Tasks run without it; the calls that need schedules say so.
		log.LogAttrs(ctx, slog.LevelWarn, "jetq: work stream cannot take scheduled tasks; delayed and periodic tasks are unavailable",
			slog.String("stream", work.Name), slog.String("error", err.Error()))
		return work, nil
	}
	if err != nil {
		return work, fmt.Errorf("let stream %s take scheduled tasks from %s: %w", work.Name, sched.Name, err)
	}
	log.LogAttrs(ctx, slog.LevelInfo, "jetq: work stream takes scheduled tasks", slog.String("stream", work.Name), slog.String("from", sched.Name))
	return s.CachedInfo().Config, nil
}

// Provision makes the streams as [Ensure] does, and tries again —
// after 100 ms, doubling to 2 s — while the server cannot answer yet (a
// cluster electing its leaders, a restart), logging each retry, for at most
// budget (0: until ctx ends). It is the one provisioning loop of producers,
// workers and forwarders. It returns the work stream's configuration, or
// ctx's error when ctx ends first, nats.ErrConnectionClosed when the
// connection is closed, and at once the error of a stream that exists in a
// form jetq cannot use.
func Provision(ctx context.Context, js jetstream.JetStream, t topology.Topology, log *slog.Logger, budget time.Duration) (jetstream.StreamConfig, error) {
	bo := retry.New(100*time.Millisecond, 2*time.Second, budget)
	for {
		work, err := Ensure(ctx, js, t, log)
		switch {
		case err == nil:
			return work, nil
		case ctx.Err() != nil:
			return work, ctx.Err()
		case js.Conn().IsClosed():
			return work, nats.ErrConnectionClosed
		case !retry.Transient(err):
			return work, err
		}
		log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot provision streams yet; retrying", slog.String("error", err.Error()))
		if werr := bo.Wait(ctx); werr != nil {
			if errors.Is(werr, retry.ErrBudget) {
				return work, err
			}
			return work, werr
		}
	}
}

// requestTimeout bounds each provisioning request: while a cluster elects
// its meta leader a request can go unanswered, and the caller's retry loop
// should try again rather than wait out its whole ctx.
const requestTimeout = 5 * time.Second

func ensureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig, log *slog.Logger) (jetstream.StreamConfig, error) {
	// Creating an existing stream with the same configuration succeeds, so
	// a producer and a worker of one process that both found it missing
	// would both log its creation: one at a time, the second finds it.
	mu, _ := ensuring.LoadOrStore(ensureKey(js, want.Name), new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	for range 3 {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		cfg, done, err := ensureOnce(rctx, js, want, log)
		cancel()
		if done || err != nil {
			return cfg, err
		}
		// Another process created it first: look again.
	}
	return jetstream.StreamConfig{}, fmt.Errorf("create stream %s: created and deleted concurrently", want.Name)
}

// ensuring holds a mutex per stream and server or cluster that this
// process provisions.
var ensuring sync.Map // ensureKey → *sync.Mutex

// ensureKey names stream on the cluster, or else the server, js is
// connected to.
func ensureKey(js jetstream.JetStream, stream string) string {
	nc := js.Conn()
	if c := nc.ConnectedClusterName(); c != "" {
		return "cluster " + c + " " + stream
	}
	return "server " + nc.ConnectedServerId() + " " + stream
}

// ensureOnce looks the stream up and creates it if missing. done is false
// when another process created it meanwhile.
func ensureOnce(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig, log *slog.Logger) (cfg jetstream.StreamConfig, done bool, err error) {
	s, err := js.Stream(ctx, want.Name)
	if err == nil {
		have := s.CachedInfo().Config
		if diff := streamDiff(have, want); diff != "" {
			log.LogAttrs(ctx, slog.LevelWarn, "jetq: using existing stream whose configuration differs",
				slog.String("stream", want.Name), slog.String("differences", diff))
		}
		return have, true, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return cfg, true, fmt.Errorf("look up stream %s: %w", want.Name, err)
	}
	s, err = js.CreateStream(ctx, want)
	if err == nil {
		log.LogAttrs(ctx, slog.LevelInfo, "jetq: created stream", slog.String("stream", want.Name))
		return s.CachedInfo().Config, true, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return cfg, true, fmt.Errorf("create stream %s: %w", want.Name, err)
	}
	return cfg, false, nil
}

func streamDiff(have, want jetstream.StreamConfig) string {
	var d []string
	add := func(field string, h, w any) { d = append(d, fmt.Sprintf("%s=%v (want %v)", field, h, w)) }
	if have.Retention != want.Retention {
		add("retention", have.Retention, want.Retention)
	}
	if have.Discard != want.Discard {
		add("discard", have.Discard, want.Discard)
	}
	if have.MaxMsgs != want.MaxMsgs {
		add("max_msgs", have.MaxMsgs, want.MaxMsgs)
	}
	if have.MaxBytes != want.MaxBytes {
		add("max_bytes", have.MaxBytes, want.MaxBytes)
	}
	if have.Replicas != want.Replicas {
		add("replicas", have.Replicas, want.Replicas)
	}
	if have.Storage != want.Storage {
		add("storage", have.Storage, want.Storage)
	}
	if have.Duplicates != want.Duplicates {
		add("duplicate_window", have.Duplicates, want.Duplicates)
	}
	if want.MaxAge != 0 && have.MaxAge != want.MaxAge {
		add("max_age", have.MaxAge, want.MaxAge)
	}
	if !slices.Equal(have.Subjects, want.Subjects) {
		add("subjects", have.Subjects, want.Subjects)
	}
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint(d)
}
