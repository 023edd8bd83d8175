package dlq

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/forwarder"
	"github.com/jetq/jetq/internal/statusstore"
)

// Forwarder files the dead-letter records of the tasks the server gave up
// on: tasks whose worker died or hung on their last attempt, so that no
// ack, Nak or record ever came. The server then keeps the task in the work
// stream and publishes a max-deliveries advisory, which the JETQ_EVENTS
// stream keeps, so a Forwarder that is down misses nothing. For each one it
// reads the task back, files its record with reason max_deliveries (and
// marks a tracked task dead_lettered), deletes the task from the work
// stream, and only then acknowledges the advisory; a crash between any two
// steps leaves the advisory to be redone, and the record's Nats-Msg-Id
// ("<stream>:<seq>:<stored at>", the one the worker uses) keeps one record
// per task within the dead-letter stream's duplicates window (an hour).
//
// The server looks at a task's expired last delivery only while a pull
// waits on its durable. So a Forwarder keeps a pull waiting on every task
// durable, one that never takes a task: a task whose last worker died is
// filed about an ack wait later even when no worker of its type runs any
// more — its workers all died, or the type was retired.
//
// Any number of Forwarders may run, in any processes: they share one
// durable consumer, "jetq-forwarder", and so their work. A Worker runs one
// with consumer.WithForwarder. A Forwarder is safe for concurrent use.
type Forwarder struct {
	f *forwarder.Forwarder
}

// NewForwarder returns a forwarder working through js. It does no I/O. It
// returns an error wrapping [ErrInvalidOption] when js is nil or an option
// is invalid.
func NewForwarder(js jetstream.JetStream, opts ...Option) (*Forwarder, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: jetstream.JetStream is nil", ErrInvalidOption)
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	states, err := statusstore.New(js, c.pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	return &Forwarder{f: forwarder.New(js, forwarder.Config{
		Topology: c.pub, States: states, Log: c.log, AckWait: c.ackWait, Hooks: c.hooks,
	})}, nil
}

// Run creates the streams jetq needs where they are missing (as producers
// and workers do), then files records until ctx ends, and returns nil then.
// Advisories it holds when ctx ends are handed back for another forwarder.
//
// Run recovers by itself from a deleted consumer, a dropped connection and
// requests that time out, logging what happened. It returns an error
// wrapping nats.ErrConnectionClosed when the connection is closed under it,
// and an error when the streams exist in a form it cannot use. Run may be
// called again after it returns; concurrent calls work like separate
// forwarders.
func (f *Forwarder) Run(ctx context.Context) error {
	if err := f.f.Run(ctx); err != nil {
		return fmt.Errorf("dlq: forwarder: %w", err)
	}
	return nil
}
