package topology

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

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

// prefixRE is what a prefix must be: every stream name is the prefix in
// upper case and every subject starts with it, so it is one subject token
// that also makes a valid stream name.
var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// minDeadLetterMaxAge is the dead-letter stream's deduplication window; the
// server refuses a stream whose max age is shorter than that window.
const minDeadLetterMaxAge = time.Hour

// Validate reports the first field of t that is out of range, saying what
// it must be; nil for a usable Topology (the zero Topology is). Every
// WithTopology option runs it in its package's New, so calling it is only
// needed to check a configuration early, such as when a program starts.
func (t Topology) Validate() error {
	switch {
	case t.Prefix != "" && !prefixRE.MatchString(t.Prefix):
		return fmt.Errorf("topology: prefix %q must be one lower-case token of a-z, 0-9, '_' and '-' starting with a letter, at most 32 bytes", t.Prefix)
	case t.Replicas < 0 || t.Replicas > 5:
		return fmt.Errorf("topology: replicas must be between 1 and 5, got %d", t.Replicas)
	case t.MaxTasks < 0 || t.MaxBytes < 0:
		return errors.New("topology: queue limits must not be negative")
	case t.DedupWindow < 0 || t.DeadLetterMaxAge < 0:
		return errors.New("topology: durations must not be negative")
	case t.DeadLetterMaxAge != 0 && t.DeadLetterMaxAge < minDeadLetterMaxAge:
		return fmt.Errorf("topology: dead-letter max age must be at least %v, got %v", minDeadLetterMaxAge, t.DeadLetterMaxAge)
	}
	return nil
}
