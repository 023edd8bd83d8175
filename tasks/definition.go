package tasks

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"time"

	"github.com/jetq/jetq/internal/schema"
)

// Defaults applied by [Define] and [New] when an option is not given.
const (
	DefaultQueue       = "default"
	DefaultMaxAttempts = 25
	DefaultTimeout     = 30 * time.Minute
	DefaultAckWait     = 30 * time.Second
)

// MinAckWait is the shortest ack wait [WithAckWait] accepts.
const MinAckWait = time.Second

var (
	nameRE  = regexp.MustCompile(`^[a-z0-9_-]+(\.[a-z0-9_-]+)*$`)
	queueRE = regexp.MustCompile(`^[a-z0-9_-]+$`)
)

// Limits on names, in bytes. maxNameLen and maxQueueLen bound each name on its
// own; maxRouteLen bounds len(queue)+1+len(name), the length of the durable
// consumer the worker names queue + ":" + name, to the longest consumer name
// nats-server accepts (JSMaxNameLen).
const (
	maxNameLen  = 200
	maxQueueLen = 64
	maxRouteLen = 255
)

// Definition is a typed task: its name, its queue, how often it may be tried
// and how long one attempt may run. One value is used on both sides: producers
// enqueue with it and workers [Handle] it. A Definition is immutable and safe
// for concurrent use.
type Definition[T any] struct {
	spec Spec
	// validates records whether T or *T has a Validate method, found once
	// so that payloads without one are never boxed to look.
	validates bool
	// checked is set by New: the spec is valid and need not be checked again.
	checked bool
}

// Spec is the untyped description of a [Definition], as producers, workers and
// tools see it. The zero Spec is invalid; [Spec.Validate] says why.
type Spec struct {
	// Name is the task name, lower-case dot-separated tokens such as
	// "email.send", at most 200 bytes.
	Name string
	// Queue is the queue the task travels on, one token of at most 64 bytes;
	// default "default". Queue and Name together, len(Queue)+1+len(Name),
	// are at most 255 bytes.
	Queue string
	// MaxAttempts is how many times the task may be tried, at least 1; default 25.
	MaxAttempts int
	// Timeout bounds one attempt; the handler's ctx is cancelled when it passes.
	// Default 30 minutes.
	Timeout time.Duration
	// Backoff shapes the delays between failed attempts.
	Backoff Backoff
	// AckWait is how long the server waits for a sign of life from the
	// worker running a task before it redelivers the task elsewhere; the
	// worker sends one every third of it for every task it holds. At least
	// [MinAckWait]; default 30 s.
	AckWait time.Duration
	// MaxConcurrency caps how many tasks of this definition run at once
	// across every worker; 0, the default, means no cap.
	MaxConcurrency int
	// RateLimit bounds how many tasks of the definition start per interval
	// across every worker ([WithRateLimit]); the zero Rate, the default,
	// means no limit.
	RateLimit Rate
	// KeyRateLimit bounds how many tasks with one key start per interval
	// across every worker ([WithKeyRateLimit]); the zero Rate, the default,
	// means no limit.
	KeyRateLimit Rate
	// Codec encodes and decodes the payload; default [JSON].
	Codec Codec
	// TrackState records each task's status in a key-value bucket, for
	// inspect.Inspector.Status to read. Default false.
	TrackState bool
	// Expiry is how long after it is due a task is still worth starting;
	// a task not started by then is dropped unrun. 0, the default: never.
	Expiry time.Duration
	// Retention is how long each task's final outcome is kept after it
	// settles ([WithRetention]); 0 keeps nothing.
	Retention time.Duration
	// ResultType names the result type of a [ResultDefinition] (as
	// PayloadType names the payload's); "" for a [Definition].
	ResultType string
	// PayloadType is the Go type of the payload with its package path, such
	// as "github.com/acme/app.EmailArgs", set by [Define] and [New]. Workers
	// record it on their durable consumer, so that two services defining
	// one task name with different payloads are told (see the consumer
	// package), and tools can say what a task takes.
	PayloadType string
	// PayloadSchema is a JSON Schema of the payload, derived from its Go type
	// by [Define] and [New] when the codec is [JSON]: objects with the
	// fields' json names, "additionalProperties": false, every field without
	// omitempty or omitzero required (encoding/json always writes it), and
	// the JSON types of booleans, numbers, strings, arrays and maps. Empty
	// when the payload accepts any JSON (json.RawMessage, an interface, its
	// own UnmarshalJSON), for other codecs, and for a schema over
	// [MaxPayloadSchema] bytes. Workers record it on their durable consumer,
	// and `jetq enqueue` checks payloads against it.
	PayloadSchema string
}

// MaxPayloadSchema is the size beyond which [Spec.PayloadSchema] is left
// empty: the server bounds the metadata a consumer may carry.
const MaxPayloadSchema = 16 << 10

// payloadInfo sets spec's PayloadType and PayloadSchema from T.
func payloadInfo[T any](spec *Spec) {
	t := reflect.TypeFor[T]()
	spec.PayloadType = schema.TypeName(t)
	spec.PayloadSchema = ""
	if spec.Codec == nil || spec.Codec.ContentType() != JSON.ContentType() {
		return
	}
	if s := schema.For(t); s != nil {
		if b, err := json.Marshal(s); err == nil && len(b) <= MaxPayloadSchema {
			spec.PayloadSchema = string(b)
		}
	}
}

// Define returns the definition of the task called name with payload type T.
//
// Define panics when name is not lower-case dot-separated tokens
// ([a-z0-9_-]+ joined by dots), a name or queue is too long (see
// [Spec.Validate]) or an option is out of range, like regexp.MustCompile on a
// bad literal: a definition is meant to be a package-level value written once.
// Use [New] for names that arrive at run time.
func Define[T any](name string, opts ...Option) *Definition[T] {
	d, err := New[T](name, opts...)
	if err != nil {
		panic(err)
	}
	return d
}

// New is [Define] for names and options known only at run time: it returns an
// error wrapping [ErrInvalidName] or [ErrInvalidOption] instead of panicking.
func New[T any](name string, opts ...Option) (*Definition[T], error) {
	spec := Spec{
		Name:        name,
		Queue:       DefaultQueue,
		MaxAttempts: DefaultMaxAttempts,
		Timeout:     DefaultTimeout,
		AckWait:     DefaultAckWait,
		Codec:       JSON,
	}
	for _, opt := range opts {
		opt(&spec)
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	payloadInfo[T](&spec)
	return &Definition[T]{spec: spec, validates: hasValidate[T](), checked: true}, nil
}

// Name returns the task name.
func (d *Definition[T]) Name() string { return d.spec.Name }

// Queue returns the queue the task travels on.
func (d *Definition[T]) Queue() string { return d.spec.Queue }

// Spec returns the untyped description of the definition. A nil or zero
// Definition returns a zero Spec, which does not validate.
func (d *Definition[T]) Spec() Spec {
	if d == nil {
		return Spec{}
	}
	return d.spec
}

// Check reports whether d can be used to enqueue and run tasks: nil for a
// definition made by [Define] or [New], the reason for a nil or zero one
// (an error wrapping [ErrInvalidName]). It is cheap.
func (d *Definition[T]) Check() error {
	if d != nil && d.checked {
		return nil
	}
	return d.Spec().Validate()
}

// Encode validates v (see [Validator]) and encodes it with the definition's
// codec. Errors wrap [ErrInvalidPayload].
func (d *Definition[T]) Encode(v T) ([]byte, error) {
	if d.validates {
		if err := validate(d.spec.Name, v); err != nil {
			return nil, err
		}
	}
	b, err := d.spec.Codec.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: task %q: encode: %w", ErrInvalidPayload, d.spec.Name, err)
	}
	return b, nil
}

// Decode decodes and validates a payload encoded by [Definition.Encode].
// Errors wrap [ErrInvalidPayload].
func (d *Definition[T]) Decode(data []byte) (T, error) {
	var v T
	err := d.decodeInto(data, &v)
	return v, err
}

// decodeInto is [Definition.Decode] into *v, which the worker's typed
// handler points at its task's Payload: task and payload are then one
// allocation.
func (d *Definition[T]) decodeInto(data []byte, v *T) error {
	if err := d.spec.Codec.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: task %q: decode: %w", ErrInvalidPayload, d.spec.Name, err)
	}
	if d.validates {
		return validate(d.spec.Name, *v)
	}
	return nil
}

// Validate reports whether the spec can be used to enqueue and run tasks. The
// name must pass [ValidateName] and the queue [ValidateQueue], and together
// they must fit the name of the task's durable consumer, queue + ":" + name:
// len(queue)+1+len(name) at most 255 bytes, the longest consumer name
// nats-server accepts. The error wraps [ErrInvalidName] for a bad name or
// queue and [ErrInvalidOption] for anything else.
func (s Spec) Validate() error {
	if err := ValidateName(s.Name); err != nil {
		return err
	}
	if err := ValidateQueue(s.Queue); err != nil {
		return err
	}
	// Each name passes on its own, so both are longer than the 20 bytes shown.
	if n := len(s.Queue) + 1 + len(s.Name); n > maxRouteLen {
		return fmt.Errorf("%w: task name %.20q… (%d bytes) and queue %.20q… (%d bytes) are too long together: "+
			"len(queue)+1+len(name) is %d bytes, the limit is %d, the longest consumer name the server accepts; shorten the name or the queue",
			ErrInvalidName, s.Name, len(s.Name), s.Queue, len(s.Queue), n, maxRouteLen)
	}
	switch {
	case s.MaxAttempts < 1:
		return fmt.Errorf("%w: task %q: max attempts must be at least 1, got %d", ErrInvalidOption, s.Name, s.MaxAttempts)
	case s.Timeout <= 0:
		return fmt.Errorf("%w: task %q: timeout must be positive, got %v", ErrInvalidOption, s.Name, s.Timeout)
	case s.AckWait < MinAckWait:
		return fmt.Errorf("%w: task %q: ack wait must be at least %v, got %v", ErrInvalidOption, s.Name, MinAckWait, s.AckWait)
	case s.MaxConcurrency < 0:
		return fmt.Errorf("%w: task %q: max concurrency must not be negative (0: no cap), got %d", ErrInvalidOption, s.Name, s.MaxConcurrency)
	case s.Codec == nil:
		return fmt.Errorf("%w: task %q: codec is nil", ErrInvalidOption, s.Name)
	case s.Expiry < 0:
		return fmt.Errorf("%w: task %q: expiry must not be negative (0: never), got %v", ErrInvalidOption, s.Name, s.Expiry)
	case s.Retention < 0 || s.Retention > MaxRetention:
		return fmt.Errorf("%w: task %q: retention must be between 0 (keep nothing) and %v (the status bucket's age limit), got %v",
			ErrInvalidOption, s.Name, MaxRetention, s.Retention)
	case s.Retention > 0 && s.Retention < MinRetention:
		return fmt.Errorf("%w: task %q: retention must be 0 (keep nothing) or at least %v (the server's shortest message TTL), got %v",
			ErrInvalidOption, s.Name, MinRetention, s.Retention)
	case s.ResultType != "" && s.Retention == 0:
		return fmt.Errorf("%w: task %q returns a result, which is kept only for the retention: give it a positive one (default %v)",
			ErrInvalidOption, s.Name, DefaultRetention)
	}
	if err := s.RateLimit.validate(s.Name, "rate limit"); err != nil {
		return err
	}
	if err := s.KeyRateLimit.validate(s.Name, "key rate limit"); err != nil {
		return err
	}
	return s.Backoff.validate(s.Name)
}

// ValidateName reports whether name is a valid task name: lower-case
// dot-separated tokens of [a-z0-9_-], at most 200 bytes. [Spec.Validate] also
// bounds the name together with its queue. The error wraps [ErrInvalidName]
// and says what is wrong.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: task name is empty", ErrInvalidName)
	case len(name) > maxNameLen:
		return fmt.Errorf("%w: task name %.20q… is %d bytes, the limit is %d", ErrInvalidName, name, len(name), maxNameLen)
	case !nameRE.MatchString(name):
		return fmt.Errorf("%w: task name %q must be lower-case dot-separated tokens of a-z, 0-9, '_' and '-' (like \"email.send\")", ErrInvalidName, name)
	}
	return nil
}

// ValidateQueue reports whether queue is a valid queue name: one token of
// [a-z0-9_-], at most 64 bytes. [Spec.Validate] also bounds the queue together
// with the task name. The error wraps [ErrInvalidName].
func ValidateQueue(queue string) error {
	switch {
	case queue == "":
		return fmt.Errorf("%w: queue name is empty", ErrInvalidName)
	case len(queue) > maxQueueLen:
		return fmt.Errorf("%w: queue name %.20q… is %d bytes, the limit is %d", ErrInvalidName, queue, len(queue), maxQueueLen)
	case !queueRE.MatchString(queue):
		return fmt.Errorf("%w: queue name %q must be one token of a-z, 0-9, '_' and '-'", ErrInvalidName, queue)
	}
	return nil
}
