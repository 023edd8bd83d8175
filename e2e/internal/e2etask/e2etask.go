package e2etask

import (
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/tasks"
)

// Payload is the payload of the scenario task.
type Payload struct {
	// WorkMillis is how long the handler works.
	WorkMillis int `json:"work_ms"`
}

// Work is the scenario task. Many attempts and short backoff: faults may
// cost a task several deliveries, and the scenario wants it handled, not
// dead-lettered; a 2 s ack wait brings a killed worker's tasks back soon.
var Work = tasks.Define[Payload]("e2e.work",
	tasks.WithMaxAttempts(50), tasks.WithTimeout(30*time.Second), tasks.WithAckWait(2*time.Second),
	tasks.WithBackoff(tasks.Backoff{Initial: 100 * time.Millisecond, Max: time.Second}))

// Snoozy is the snooze scenario's task: its handler snoozes it a few
// times before it succeeds. Attempts and ack wait as Work's: a worker
// killed mid-snooze costs the task a delivery.
var Snoozy = tasks.Define[Payload]("e2e.snooze",
	tasks.WithMaxAttempts(50), tasks.WithTimeout(30*time.Second), tasks.WithAckWait(2*time.Second),
	tasks.WithBackoff(tasks.Backoff{Initial: 100 * time.Millisecond, Max: time.Second}))

// Snoozes is how often the snooze scenario's handler snoozes a task, for
// SnoozeFor each time.
const (
	Snoozes   = 3
	SnoozeFor = 100 * time.Millisecond
)

// ConnectOptions reconnect forever and ping every second, so a client of a
// frozen (SIGSTOPped) server moves to another node after about three seconds
// instead of the two minutes of the default ping interval.
func ConnectOptions(name string) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond),
		nats.PingInterval(time.Second),
		nats.MaxPingsOutstanding(2),
		nats.Timeout(2 * time.Second),
		nats.RetryOnFailedConnect(true),
	}
}
