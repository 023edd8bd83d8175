package producer

import (
	"context"

	"github.com/jetq/jetq/tasks"
)

// Group collects tasks, of one or several types, to enqueue all or nothing
// with [EnqueueGroup]. Add tasks with [Add].
type Group struct {
	err error
}

// NewGroup returns an empty group.
func NewGroup() *Group { return &Group{} }

// Add adds a task of def with payload to g. An invalid payload or option
// is reported by [EnqueueGroup], which then enqueues nothing.
func Add[T any](g *Group, def tasks.Def[T], payload T, opts ...EnqueueOption) {
	g.err = errUnbuilt
}

// EnqueueGroup enqueues every task of g, or none: the tasks are published
// as one atomic batch, which the server stores whole or not at all (a full
// queue refuses the whole batch with [ErrQueueFull]). A group larger than
// the server's batch limit is split into batches of that size, each atomic
// on its own. Results are in the order of [Add].
func EnqueueGroup(ctx context.Context, p *Producer, g *Group) ([]Result, error) {
	return nil, errUnbuilt
}
