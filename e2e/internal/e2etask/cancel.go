package e2etask

import (
	"time"

	"github.com/jetq/jetq/tasks"
)

// The modes of a [Cancellable] task's handler.
const (
	// UntilCancelled: the handler runs until its ctx ends.
	UntilCancelled = ""
	// IgnoreCtx: the handler notes that its ctx ended and runs on, until
	// its process dies.
	IgnoreCtx = "ignore"
	// Quick: the handler returns at once.
	Quick = "quick"
)

// CancelArgs is the payload of a [Cancellable] task.
type CancelArgs struct {
	Mode string `json:"mode,omitempty"`
}

// Cancellable is the task of the cancel scenario: tracked, so that its
// status says cancelled, with a 2 s ack wait that brings a killed worker's
// task back soon and a timeout longer than the scenario.
var Cancellable = tasks.Define[CancelArgs]("e2e.cancellable", tasks.WithStateTracking(),
	tasks.WithMaxAttempts(50), tasks.WithTimeout(10*time.Minute), tasks.WithAckWait(2*time.Second))
