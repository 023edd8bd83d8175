package inspect

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/pausing"
	"github.com/jetq/jetq/tasks"
)

// Scope names what [Inspector.Pause] and [Inspector.Resume] act on: the
// zero Scope is every queue, Queue alone one whole queue, Queue and Task
// one task type.
type Scope struct {
	Queue string `json:"queue,omitempty"`
	Task  string `json:"task,omitempty"`
}

// String is "all queues", "queue <q>" or "task <t> on queue <q>".
func (s Scope) String() string {
	switch {
	case s.Queue == "" && s.Task == "":
		return "all queues"
	case s.Task == "":
		return "queue " + s.Queue
	}
	return "task " + s.Task + " on queue " + s.Queue
}

// Pause is one pause in force, as [Inspector.Pauses] lists it.
type Pause struct {
	Scope
	// Until is when it ends; zero: when resumed.
	Until time.Time `json:"until,omitzero"`
	// At is when it was made.
	At time.Time `json:"at"`
}

// Pause stops the tasks of s from starting, until until or, with a zero
// until, until [Inspector.Resume]. The server enforces it: each task
// type's durable consumer is paused (its PauseUntil, nats-server 2.11 or
// newer), so no worker is handed a task of the type while it lasts. Tasks
// stay queued, enqueues keep succeeding, and the handlers running finish.
// A pause until resumed sets PauseUntil to 9999-01-01, which never comes.
//
// The pause is also kept as a record on the server (the bucket
// JETQ_PAUSES), which every worker reads when it creates a task type's
// consumer: a pause of a queue or of every queue therefore also holds for
// a task type deployed after it, and no worker restart or deploy clears a
// pause (the server keeps a consumer's PauseUntil when a worker updates
// the consumer).
//
// Pauses combine: a task type is paused while its own pause, its queue's
// or the pause of every queue lasts, until the latest of them ends. The
// consumers within s are set to what jetq's pauses say: a consumer paused
// by other means (nats consumer pause) takes the end they give.
// Pausing a scope again replaces its end, earlier or later. Work resumes
// within a second of the end (the server's timer wakes the waiting pulls).
//
// It returns an error wrapping [ErrInvalidQuery], and changes nothing, for
// a Task without a Queue, a name that is not a valid queue or task name, or
// an until that is not in the future; one wrapping [ErrNotFound] for a
// queue or task type that no worker has ever served (it has no durable
// consumer). Safe for concurrent use, also with workers starting.
func (in *Inspector) Pause(ctx context.Context, s Scope, until time.Time) error {
	if err := checkScope(s); err != nil {
		return err
	}
	if !until.IsZero() && !until.After(time.Now()) {
		return fmt.Errorf("%w: pause %s until %s: that time has passed; give a time in the future, or none to pause until resumed",
			ErrInvalidQuery, s, until.Format(time.RFC3339))
	}
	types, err := in.servedTypes(ctx)
	if err != nil {
		return err
	}
	if err := known(s, types, nil); err != nil {
		return err
	}
	if err := in.pauses.Set(ctx, pausing.Scope(s), until); err != nil {
		return fmt.Errorf("inspect: pause %s: %w", s, err)
	}
	return in.applyPauses(ctx, s, types)
}

// Resume lets the tasks of s start again: it ends the pause of s and the
// pauses of the scopes within it (resuming a queue ends its task types'
// own pauses too; resuming every queue ends every pause). A pause of a
// wider scope holds on: resuming one task type of a paused queue leaves
// it paused with its queue. Waiting workers are handed tasks within a
// second, at once where the server allows (see [Inspector.Pause]).
// Resuming what is not paused does nothing and is no error.
//
// It returns an error wrapping [ErrInvalidQuery] for a Task without a
// Queue or an invalid name, and one wrapping [ErrNotFound] for a queue or
// task type that no worker has ever served and that has no pause.
func (in *Inspector) Resume(ctx context.Context, s Scope) error {
	if err := checkScope(s); err != nil {
		return err
	}
	types, err := in.servedTypes(ctx)
	if err != nil {
		return err
	}
	recs, err := in.pauses.Records(ctx)
	if err != nil {
		return fmt.Errorf("inspect: resume %s: %w", s, err)
	}
	if err := known(s, types, recs); err != nil {
		return err
	}
	if err := in.pauses.Clear(ctx, pausing.Scope(s)); err != nil {
		return fmt.Errorf("inspect: resume %s: %w", s, err)
	}
	return in.applyPauses(ctx, s, types)
}

// Pauses lists the pauses in force, every queue first, then by queue and
// task. Ended pauses are not listed. With nothing ever paused it returns
// none.
func (in *Inspector) Pauses(ctx context.Context) ([]Pause, error) {
	recs, err := in.pauses.Records(ctx)
	if err != nil {
		return nil, fmt.Errorf("inspect: pauses: %w", err)
	}
	now := time.Now()
	out := make([]Pause, 0, len(recs))
	for sc, r := range recs {
		if !r.Until.IsZero() && !r.Until.After(now) {
			continue
		}
		out = append(out, Pause{Scope: Scope(sc), Until: r.Until, At: r.At})
	}
	slices.SortFunc(out, func(a, b Pause) int {
		return cmp.Or(cmp.Compare(a.Queue, b.Queue), cmp.Compare(a.Task, b.Task))
	})
	return out, nil
}

// checkScope checks the names of s.
func checkScope(s Scope) error {
	if s.Task != "" && s.Queue == "" {
		return fmt.Errorf("%w: task %q without a queue: name the task's queue too (a task type is a queue and a task)", ErrInvalidQuery, s.Task)
	}
	if s.Queue != "" {
		if err := tasks.ValidateQueue(s.Queue); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidQuery, err)
		}
	}
	if s.Task != "" {
		if err := tasks.ValidateName(s.Task); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidQuery, err)
		}
	}
	return nil
}

// known checks that a worker has served something within s, or that s
// has a pause of its own (recs, for a resume).
func known(s Scope, types []Scope, recs pausing.Records) error {
	if s.Queue == "" {
		return nil
	}
	if _, ok := recs[pausing.Scope(s)]; ok {
		return nil
	}
	for _, t := range types {
		if t.Queue == s.Queue && (s.Task == "" || t.Task == s.Task) {
			return nil
		}
	}
	if s.Task != "" {
		return fmt.Errorf("%w: no worker has ever served %s (it has no durable consumer); check the names with `jetq queues`",
			ErrNotFound, s)
	}
	return fmt.Errorf("%w: no worker has ever served a task of %s (none of its task types has a durable consumer); check the name with `jetq queues`",
		ErrNotFound, s)
}

// servedTypes lists the task types that have their durable consumer.
func (in *Inspector) servedTypes(ctx context.Context) ([]Scope, error) {
	work, err := in.stream(ctx, in.names.WorkStream())
	if err != nil || work == nil {
		return nil, err
	}
	var out []Scope
	list := work.ListConsumers(ctx)
	for ci := range list.Info() {
		if k, ok := in.typeOf(ci); ok {
			out = append(out, k)
		}
	}
	if err := list.Err(); err != nil {
		return nil, fmt.Errorf("inspect: list consumers: %w", err)
	}
	return out, nil
}

// typeOf is the task type whose durable ci is, if it is one.
func (in *Inspector) typeOf(ci *jetstream.ConsumerInfo) (Scope, bool) {
	if ci == nil || ci.Config.Durable == "" {
		return Scope{}, false
	}
	q, t, err := in.names.ParseTaskSubject(ci.Config.FilterSubject)
	if err != nil || ci.Config.Durable != in.names.Durable(q, t) {
		return Scope{}, false
	}
	return Scope{Queue: q, Task: t}, true
}

// applyPauses makes the consumers of the types within s follow the
// records.
func (in *Inspector) applyPauses(ctx context.Context, s Scope, types []Scope) error {
	var errs []error
	for _, t := range types {
		if !pausing.Scope(s).Covers(t.Queue, t.Task) {
			continue
		}
		if _, err := in.pauses.Apply(ctx, t.Queue, t.Task, pausing.Exact); err != nil {
			errs = append(errs, fmt.Errorf("inspect: %s: %w", t, err))
		}
	}
	return errors.Join(errs...)
}
