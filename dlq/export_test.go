package dlq

import (
	"time"

	"github.com/jetq/jetq/internal/forwarder"
)

// WithHooks injects faults into a Forwarder and sets the ack wait of its
// consumer, so that a test's crashed forwarder's event comes back soon.
func WithHooks(h forwarder.Hooks, ackWait time.Duration) Option {
	return func(c *config) { c.hooks, c.ackWait = h, ackWait }
}
