package tasks

import (
	"time"
)

// Task is one delivery of a task to its handler: the decoded payload and the
// metadata that travelled with it. The ID is stable across retries and
// redeliveries, so handlers use it to make their side effects idempotent.
type Task[T any] struct {
	// ID is the task ID, chosen by the producer (see producer.WithID) or
	// generated, unique within the deduplication window.
	ID string
	// Name is the task name, such as "email.send".
	Name string
	// Queue is the queue the task travelled on.
	Queue string
	// Attempt is 1 on the first delivery and grows with every retry and
	// redelivery.
	Attempt int
	// MaxAttempts is the definition's limit; the attempt that reaches it is
	// the last.
	MaxAttempts int
	// EnqueuedAt is when the producer enqueued the task.
	EnqueuedAt time.Time
	// Header holds the message headers, trace context included.
	Header Header
	// Payload is the decoded and validated payload.
	Payload T
}

// LastAttempt reports whether a failure now dead-letters the task.
func (t *Task[T]) LastAttempt() bool { return t.Attempt >= t.MaxAttempts }

// Header is a set of message headers. Unlike http.Header its keys are
// case-sensitive, as NATS headers are: "traceparent" stays lower-case.
// It converts to and from nats.Header without copying.
type Header map[string][]string

// Get returns the first value for key, or "".
func (h Header) Get(key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set replaces the values for key with value.
func (h Header) Set(key, value string) { h[key] = []string{value} }

// Add appends value to the values for key.
func (h Header) Add(key, value string) { h[key] = append(h[key], value) }

// Values returns all values for key.
func (h Header) Values(key string) []string { return h[key] }

// Del removes key.
func (h Header) Del(key string) { delete(h, key) }

// Envelope is a task as it travels, without its decoded payload: what
// [Middleware] and [EnqueueMiddleware] see. Producers fill the identity and
// body; the result fields are filled by whoever publishes or settles it.
type Envelope struct {
	// ID, Name and Queue identify the task.
	ID, Name, Queue string
	// Subject is the NATS subject of the task: the work stream's, where a
	// worker receives it.
	Subject string
	// ScheduleSubject is where a delayed task waits until it is due, set
	// by the producer before the middleware run: it is published there, in
	// the schedule stream, and the server fires it onto the work stream.
	// Empty for a task that runs now, and on delivery.
	ScheduleSubject string
	// EnqueuedAt is when the task was enqueued.
	EnqueuedAt time.Time
	// Header is the message header; middleware may add to it before publish.
	Header Header
	// Deadline is when the task stops being worth starting; zero: never.
	// A worker settles a task picked up after it as [ActionExpire].
	Deadline time.Time
	// Body is the encoded payload.
	Body []byte
	// Result is the encoded value a [ResultDefinition]'s handler returned,
	// set when it returns with no error; nil for other tasks.
	Result []byte
	// Server is the address, host:port, of the NATS server the producer
	// publishes to or the worker received the task from, as
	// nats.Conn.ConnectedAddr reports it before the middleware run: "pipe"
	// over an in-process connection, empty when not connected. It is set
	// only for middleware (a producer or worker without any leaves it
	// empty) and is not part of the message.
	Server string

	// Attempt and MaxAttempts are set on delivery: 1 on the first.
	Attempt, MaxAttempts int
	// Stream and Sequence locate the message in JetStream: set by the producer
	// once the server has stored it, and on delivery.
	Stream   string
	Sequence uint64
	// Duplicate is set by the producer when the server already held a task
	// with this ID and dropped the new one.
	Duplicate bool
	// Consumer is the durable consumer that delivered the task.
	Consumer string
	// Outcome is set by the worker once it has settled the delivery.
	Outcome Outcome
}

// Action is what a worker did with a delivery.
type Action uint8

// The settlements a worker applies; see [Outcome].
const (
	// ActionNone: not settled yet.
	ActionNone Action = iota
	// ActionAck: the handler succeeded and the task was acknowledged.
	ActionAck
	// ActionRetry: the attempt failed and the task comes back after Delay.
	ActionRetry
	// ActionDeadLetter: the task was filed in the dead-letter stream.
	ActionDeadLetter
	// ActionRelease: the worker stopped before the handler finished and handed
	// the task back for immediate redelivery.
	ActionRelease
	// ActionExpire: the task was picked up after its Deadline and removed
	// without running.
	ActionExpire
	// ActionSnooze: the handler snoozed the task ([Snooze]); it runs again
	// after Delay as the same attempt.
	ActionSnooze
	// ActionCancel: the task was cancelled (inspect's Cancel): removed
	// unrun, or its running handler's ctx cancelled and the error it
	// returned not retried. It is not dead-lettered.
	ActionCancel
)

// String returns the action's name as used in logs and traces.
func (a Action) String() string {
	switch a {
	case ActionAck:
		return "ack"
	case ActionRetry:
		return "retry"
	case ActionDeadLetter:
		return "dead_letter"
	case ActionRelease:
		return "release"
	case ActionExpire:
		return "expire"
	case ActionSnooze:
		return "snooze"
	case ActionCancel:
		return "cancel"
	}
	return "none"
}

// Reason says why a task was dead-lettered.
type Reason string

// The reasons recorded on dead-letter records.
const (
	ReasonPermanent      Reason = "permanent"
	ReasonMaxAttempts    Reason = "max_attempts"
	ReasonMaxDeliveries  Reason = "max_deliveries"
	ReasonInvalidPayload Reason = "invalid_payload"
	ReasonTimeout        Reason = "timeout"
)

// Outcome is how a worker settled a delivery.
type Outcome struct {
	// Action is what was done.
	Action Action
	// Delay is the wait before the next attempt, for ActionRetry, and
	// before the task runs again, for ActionSnooze.
	Delay time.Duration
	// Reason is why the task was dead-lettered, for ActionDeadLetter.
	Reason Reason
	// Err is the handler's error, nil for ActionAck.
	Err error
}
