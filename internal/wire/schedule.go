package wire

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/tasks"
)

// Header names of scheduled and periodic tasks. The server's scheduler
// strips Nats-Msg-Id from the message it fires, so a scheduled task carries
// its ID in Jetq-Id; a periodic task carries its declaration, from which
// each firing's ID is derived.
const (
	// HeaderDeadline is when a task stops being worth running (RFC 3339).
	HeaderDeadline = "Jetq-Deadline"
	// HeaderUnique is the unique key a task holds while queued or running.
	HeaderUnique = "Jetq-Unique"
	// HeaderPeriodic names the periodic declaration that fired the task.
	HeaderPeriodic = "Jetq-Periodic"
	// HeaderPeriodicSchedule and HeaderPeriodicTimeZone are its schedule.
	HeaderPeriodicSchedule = "Jetq-Periodic-Schedule"
	HeaderPeriodicTimeZone = "Jetq-Periodic-Time-Zone"
	// HeaderPeriodicStaleAfter is how long after its tick a firing is
	// still worth starting (a Go duration).
	HeaderPeriodicStaleAfter = "Jetq-Periodic-Stale-After"
	// HeaderPeriodicHash identifies a declaration's content, so that
	// declaring it again changes nothing.
	HeaderPeriodicHash = "Jetq-Periodic-Hash"
	// HeaderRunAt is when a delayed task is due (RFC 3339), on its schedule.
	HeaderRunAt = "Jetq-Run-At"
	// HeaderScheduledAt is when a delayed task was enqueued (RFC 3339 with
	// nanoseconds): with its ID, it tells one enqueue of a delayed task
	// from another, so that a worker runs each once (see [Firing]).
	HeaderScheduledAt = "Jetq-Scheduled-At"
)

// The server's scheduling headers (ADR-51).
const (
	HeaderSchedule         = "Nats-Schedule"
	HeaderScheduleTarget   = "Nats-Schedule-Target"
	HeaderScheduleTTL      = "Nats-Schedule-TTL"
	HeaderScheduleTimeZone = "Nats-Schedule-Time-Zone"
	HeaderScheduleNext     = "Nats-Schedule-Next"
	HeaderTTL              = "Nats-TTL"
	// HeaderScheduler is the schedule subject that fired a message; the
	// server adds it to every message it fires.
	HeaderScheduler = "Nats-Scheduler"
)

// ScheduleStream is the WorkQueue stream of pending schedules, "JETQ_SCHEDULES".
func (n Names) ScheduleStream() string { return n.stream("SCHEDULES") }

// ScheduleSubjects is where schedules wait, "jetq.sched.>".
func (n Names) ScheduleSubjects() string { return n.Prefix() + ".sched.>" }

// FireSubjects is where the server fires schedules, "jetq.fire.>"; the work
// stream sources them from there as "jetq.task.>".
func (n Names) FireSubjects() string { return n.Prefix() + ".fire.>" }

// FireSubject is the target of a schedule of one task type:
// "jetq.fire.<queue>.<name>".
func (n Names) FireSubject(queue, name string) string {
	return n.Prefix() + ".fire." + queue + "." + name
}

// DelayedSubject is the schedule subject of the delayed task id:
// "jetq.sched.at.<id in unpadded base64url>". One schedule lives on a
// subject, so every delayed task has its own.
func (n Names) DelayedSubject(id string) string {
	return n.DelayedSubjects() + base64.RawURLEncoding.EncodeToString([]byte(id))
}

// DelayedSubjects is the prefix of every delayed task's subject, "jetq.sched.at.".
func (n Names) DelayedSubjects() string { return n.Prefix() + ".sched.at." }

// ParseDelayedSubject returns the task ID of a delayed task's subject.
func (n Names) ParseDelayedSubject(subject string) (string, error) {
	token, ok := strings.CutPrefix(subject, n.DelayedSubjects())
	if !ok {
		return "", fmt.Errorf("subject %q is not a delayed task's", subject)
	}
	id, err := base64.RawURLEncoding.DecodeString(token)
	return string(id), err
}

// PeriodicSubject is the schedule subject of the periodic declaration name:
// "jetq.sched.every.<name>".
func (n Names) PeriodicSubject(name string) string { return n.PeriodicSubjects() + name }

// PeriodicSubjects is the prefix of every periodic declaration's subject,
// "jetq.sched.every.".
func (n Names) PeriodicSubjects() string { return n.Prefix() + ".sched.every." }

// UniqueBucket is the key-value bucket of unique keys held, "JETQ_UNIQUE".
func (n Names) UniqueBucket() string { return n.stream("UNIQUE") }

// UniqueKey is the bucket key of unique key key of a task type:
// "<queue>.<name>.<key in unpadded base64url>".
func UniqueKey(spec tasks.Spec, key string) string {
	return spec.Queue + "." + spec.Name + "." + base64.RawURLEncoding.EncodeToString([]byte(key))
}

// FiredBucket is the key-value bucket of the fired tasks claimed by a
// worker, "JETQ_FIRED" (see [FiredBucketConfig]).
func (n Names) FiredBucket() string { return n.stream("FIRED") }

// FiredKey is the key of the claim of firing firing (see [Firing]) of the
// fired task id: both, in unpadded base64url, so that any ID makes a valid
// key.
func FiredKey(id, firing string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(id + "\n" + firing))
}

// FiredWindow is how long a worker remembers which delivery of a fired task
// it ran: a second copy of the task that the work stream delivers within
// it is dropped unrun. The server's copies came seconds apart (issue 24);
// a day also covers a copy queued behind a long backlog.
const FiredWindow = 24 * time.Hour

// MaxUniqueKey bounds a unique key's length in bytes.
const MaxUniqueKey = 256

// At is the server's schedule of a task due at t: "@at" with nanoseconds,
// so that it never fires before t. (nats.go's WithScheduleAt drops the
// fraction, which would fire up to a second early.)
func At(t time.Time) string { return "@at " + t.UTC().Format(time.RFC3339Nano) }

// TTLGrace is how long after its deadline the server keeps a task that no
// worker picked up, so that a worker running late still settles it as
// expired (counted, and recorded for tracked tasks) before the server's TTL
// removes it unseen.
const TTLGrace = time.Minute

// TTL is the Nats-TTL value of d: whole seconds, rounded up, at least 1 s,
// the server's minimum.
func TTL(d time.Duration) string {
	s := max((d+time.Second-1)/time.Second, 1)
	return fmt.Sprintf("%ds", s)
}

// PeriodicID is the ID of the firing of periodic declaration name due at
// tick: "<name>@<tick, RFC 3339 UTC>", the same whoever computes it.
func PeriodicID(name string, tick time.Time) string {
	return name + "@" + tick.UTC().Format(time.RFC3339)
}

// periodicTick reads the declaration name and scheduled time of a fired
// periodic task with header h; ok is false when h is not one.
func periodicTick(h tasks.Header) (name string, tick time.Time, ok bool) {
	name = h.Get(HeaderPeriodic)
	if name == "" {
		return "", time.Time{}, false
	}
	next, err := time.Parse(time.RFC3339Nano, h.Get(HeaderScheduleNext))
	if err != nil {
		return "", time.Time{}, false
	}
	s, err := ParseSchedule(h.Get(HeaderPeriodicSchedule), h.Get(HeaderPeriodicTimeZone))
	if err != nil {
		return "", time.Time{}, false
	}
	return name, s.Tick(next), true
}

// periodicID is the ID of a fired periodic task with header h, or "" when h
// is not one.
func periodicID(h tasks.Header) string {
	if name, tick, ok := periodicTick(h); ok {
		return PeriodicID(name, tick)
	}
	return ""
}

// periodicDeadline is when a fired periodic task with header h goes stale,
// zero for never.
func periodicDeadline(h tasks.Header) time.Time {
	s := h.Get(HeaderPeriodicStaleAfter)
	if s == "" {
		return time.Time{} // most tasks: no parse, and no error to allocate
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return time.Time{}
	}
	if _, tick, ok := periodicTick(h); ok {
		return tick.Add(d)
	}
	return time.Time{}
}

// Delay turns env into a delayed task due at due: it gets the server's
// scheduling headers, keeps its ID in Jetq-Id (the scheduler strips
// Nats-Msg-Id, which still deduplicates the schedule itself) and the time
// of this enqueue in Jetq-Scheduled-At, and fires onto
// its task subject's fire subject. With a deadline, the fired task gets the
// TTL left from due to the deadline. env.Subject stays the task subject, as
// middleware sees it; [Msg] publishes it on env.ScheduleSubject.
func Delay(env *tasks.Envelope, n Names, due time.Time) {
	h := env.Header
	h[HeaderID] = []string{env.ID}
	h[HeaderSchedule] = []string{At(due)}
	h[HeaderScheduleTarget] = []string{n.FireSubject(env.Queue, env.Name)}
	h[HeaderRunAt] = []string{FormatTime(due)}
	h[HeaderScheduledAt] = []string{FormatTime(time.Now())}
	if !env.Deadline.IsZero() {
		h[HeaderScheduleTTL] = []string{TTL(env.Deadline.Sub(due) + TTLGrace)}
	}
	env.ScheduleSubject = n.DelayedSubject(env.ID)
}

// Delayed reports whether env was made a delayed task by [Delay].
func Delayed(env *tasks.Envelope) bool { return env.ScheduleSubject != "" }

// Firing tells apart the firings of one task ID in a fired task's header
// h: the time a delayed task was enqueued (its due time, from a producer
// that did not record it), and "" for a periodic tick, whose ID names its
// tick already. Two deliveries of one ID and firing are copies of one task.
func Firing(h tasks.Header) string {
	if at := h.Get(HeaderScheduledAt); at != "" {
		return at
	}
	return h.Get(HeaderRunAt)
}

// SetDeadline gives env the deadline dl: the Jetq-Deadline header that a
// worker checks at pickup.
func SetDeadline(env *tasks.Envelope, dl time.Time) {
	env.Deadline = dl
	env.Header[HeaderDeadline] = []string{FormatTime(dl)}
}

// ParseFireSubject splits a schedule's target into queue and task name.
func (n Names) ParseFireSubject(subject string) (queue, name string, err error) {
	rest, ok := strings.CutPrefix(subject, n.Prefix()+".fire.")
	if !ok {
		return "", "", fmt.Errorf("subject %q is not a schedule target of prefix %q", subject, n.Prefix())
	}
	return n.ParseTaskSubject(n.Prefix() + ".task." + rest)
}

// FireNow is the message that fires now the delayed task waiting on
// schedule subject subject with header h and body body, as the server's
// scheduler fires it: onto the schedule's target, with the task's own
// headers, the scheduling ones dropped, and Nats-Schedule-Next "purge" with
// Nats-Scheduler naming the schedule, which makes the server remove the
// schedule as it stores the message (ADR-51, ending a schedule early). The
// work stream takes it as any fired task, and a worker claims it by ID and
// firing as it does them. A deadline gives it the TTL the scheduler would.
// h is not changed.
func FireNow(n Names, subject string, h tasks.Header, body []byte, now time.Time) (*nats.Msg, error) {
	target := h.Get(HeaderScheduleTarget)
	if _, _, err := n.ParseFireSubject(target); err != nil {
		return nil, err
	}
	id, err := n.ParseDelayedSubject(subject)
	if err != nil {
		return nil, err
	}
	out := make(nats.Header, len(h)+2)
	for k, v := range h {
		if !strings.HasPrefix(k, "Nats-") {
			out[k] = v
		}
	}
	out[HeaderID] = []string{id}
	out[HeaderScheduleNext] = []string{"purge"}
	out[HeaderScheduler] = []string{subject}
	if dl, err := ParseTime(h.Get(HeaderDeadline)); err == nil {
		out[HeaderTTL] = []string{TTL(dl.Sub(now) + TTLGrace)}
	}
	return &nats.Msg{Subject: target, Header: out, Data: body}, nil
}
