package producer

import (
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/topology"
)

// WithOwnHeader adds headers that jetq's own packages set on the tasks they
// enqueue, such as a workflow step's Jetq-Workflow and Jetq-Step. Its
// argument's type is internal to jetq: other callers use [WithHeader],
// which refuses the reserved names.
func WithOwnHeader(h wire.OwnHeader) EnqueueOption {
	return func(c *enqueueConfig) {
		for k, v := range h {
			if c.header == nil {
				c.header = make(map[string][]string)
			}
			c.header[k] = []string{v}
			if c.own == nil {
				c.own = make(map[string]bool)
			}
			c.own[k] = true
		}
	}
}

// JetStream returns the JetStream context the producer was made with.
func (p *Producer) JetStream() jetstream.JetStream { return p.js }

// Topology returns the deployment's topology ([WithTopology]).
func (p *Producer) Topology() topology.Topology { return p.cfg.topo }
