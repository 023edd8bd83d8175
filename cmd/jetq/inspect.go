package main

import (
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/topology"
)

// inspector returns the one reader every command that reads or acts on the
// deployment of --prefix goes through; opts add to the prefix. It does no
// I/O, and logs nothing: the commands print what happened.
func (g *globals) inspector(js jetstream.JetStream, opts ...inspect.Option) (*inspect.Inspector, error) {
	base := []inspect.Option{inspect.WithTopology(topology.Topology{Prefix: g.prefix}), inspect.WithLogger(quietLog())}
	return inspect.New(js, append(base, opts...)...)
}
