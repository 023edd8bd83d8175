package topology

import "time"

// Topology describes the streams of one jetq deployment. The zero Topology
// is jetq's default: prefix "jetq", one replica, file storage, an unbounded
// work stream, a 2-minute deduplication window, dead-letter records kept 30
// days. It is a plain value, safe to copy and share.
type Topology struct {
	// Prefix derives every stream and subject name: streams PREFIX_TASKS,
	// PREFIX_SCHEDULES, PREFIX_DLQ and PREFIX_EVENTS, subjects prefix.task.>. One lower-case
	// token of at most 32 bytes starting with a letter; "" means "jetq".
	Prefix string
	// Replicas of every stream, bucket and consumer: 1 to 5, 0 means 1.
	// Three in a cluster.
	Replicas int
	// MaxTasks and MaxBytes bound the work stream; a full stream refuses new
	// tasks (producer.ErrQueueFull) rather than evicting queued ones. Zero
	// means unbounded.
	MaxTasks, MaxBytes int64
	// DedupWindow is how long the work stream remembers task IDs to drop
	// duplicate enqueues; 0 means 2 minutes.
	DedupWindow time.Duration
	// DeadLetterMaxAge is how long dead-letter records are kept, at least an
	// hour; 0 means 30 days.
	DeadLetterMaxAge time.Duration
	// Memory keeps the streams in memory instead of files: for tests and
	// benchmarks, never where tasks must survive a restart.
	Memory bool
}
