package e2etask

import (
	"time"

	"github.com/jetq/jetq/tasks"
)

// The per-key concurrency scenario's tasks: at most one task of a key at
// once, and at most two, across the workers. An ack wait of 2 s, which is
// also how long a dead worker's place of a key outlives its last renewal.
var (
	KeyOne = tasks.Define[Payload]("e2e.key.one",
		tasks.WithKeyConcurrency(1), tasks.WithAckWait(2*time.Second))
	KeyTwo = tasks.Define[Payload]("e2e.key.two",
		tasks.WithKeyConcurrency(2), tasks.WithAckWait(2*time.Second))
)
