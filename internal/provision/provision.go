package provision

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
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/topology"
)

// SchedulingLevel is the JetStream API level of nats-server 2.14, the first
// with cron and @every schedules; [MinSchedulingServer] names it.
const SchedulingLevel = 4

// MinSchedulingServer is the oldest server that runs schedules.
const MinSchedulingServer = "nats-server 2.14"

// AtomicLevel is the JetStream API level of nats-server 2.12, the first with
// atomic batch publish; [MinAtomicServer] names it.
const AtomicLevel = 2

// MinAtomicServer is the oldest server that stores a batch all or nothing.
const MinAtomicServer = "nats-server 2.12"

// Ensure creates the streams that are missing and returns the work stream's
// configuration as the server has it. A stream that exists is used as it is:
// where it differs from what t asks for (replicas, limits, windows), a
// warning gives both values, since whoever created it decided for everyone.
// A setting that breaks a guarantee is an error: a work stream that is not
// a WorkQueue stream over the task subjects, or that evicts queued tasks
// (DiscardOld with limits, or a max age), and a dead-letter stream that does not keep its
// records (not Limits retention).
func Ensure(ctx context.Context, js jetstream.JetStream, t topology.Topology, log *slog.Logger) (jetstream.StreamConfig, error) {
	n := wire.NamesOf(t)
	work, err := ensureStream(ctx, js, wire.WorkStreamConfig(t), log)
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
	if work, err = ensureAtomic(ctx, js, work, log); err != nil {
		return work, err
	}
	dlq, err := ensureStream(ctx, js, wire.DLQStreamConfig(t), log)
	if err != nil {
		return work, err
	}
	if dlq.Retention != jetstream.LimitsPolicy {
		return work, fmt.Errorf("stream %s exists with %s retention, which would drop dead-letter records; it must keep them (limits retention): delete it or choose another prefix", dlq.Name, dlq.Retention)
	}
	if _, err := ensureStream(ctx, js, wire.EventsStreamConfig(t), log); err != nil {
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
	n := wire.NamesOf(t)
	if n.Schedules(work) && work.AllowMsgTTL {
		// Set up before; the schedule stream may have been deleted since.
		want := wire.ScheduleStreamConfig(t)
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
	want := wire.ScheduleStreamConfig(t)
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

// ensureAtomic lets a work stream made without atomic batch publish (by an
// older jetq) take atomic batches, on servers that have them: the setting
// only adds, and the server allows turning it on in an update. On an older
// server, or when the update is refused (no permission), it leaves the
// stream alone; groups then say what they need.
func ensureAtomic(ctx context.Context, js jetstream.JetStream, work jetstream.StreamConfig, log *slog.Logger) (jetstream.StreamConfig, error) {
	if work.AllowAtomicPublish {
		return work, nil
	}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	info, err := js.AccountInfo(rctx)
	cancel()
	if err != nil {
		return work, fmt.Errorf("read the server's API level: %w", err)
	}
	if info.API.Level < AtomicLevel {
		return work, nil
	}
	update := work
	update.AllowAtomicPublish = true
	rctx, cancel = context.WithTimeout(ctx, requestTimeout)
	s, err := js.UpdateStream(rctx, update)
	cancel()
	if err != nil && !retry.Transient(err) {
		log.LogAttrs(ctx, slog.LevelWarn, "jetq: work stream cannot take atomic batches; groups are unavailable",
			slog.String("stream", work.Name), slog.String("error", err.Error()))
		return work, nil
	}
	if err != nil {
		return work, fmt.Errorf("let stream %s take atomic batches: %w", work.Name, err)
	}
	log.LogAttrs(ctx, slog.LevelInfo, "jetq: work stream takes atomic batches", slog.String("stream", work.Name))
	return s.CachedInfo().Config, nil
}

// Streams makes the streams as [Ensure] does, and tries again —
// after 100 ms, doubling to 2 s — while the server cannot answer yet (a
// cluster electing its leaders, a restart), logging each retry, for at most
// budget (0: until ctx ends). It is the one provisioning loop of producers,
// workers and forwarders. It returns the work stream's configuration, or
// ctx's error when ctx ends first, nats.ErrConnectionClosed when the
// connection is closed, and at once the error of a stream that exists in a
// form jetq cannot use.
func Streams(ctx context.Context, js jetstream.JetStream, t topology.Topology, log *slog.Logger, budget time.Duration) (jetstream.StreamConfig, error) {
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
