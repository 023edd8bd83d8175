// Package topology is the one place a deployment chooses its streams: the
// prefix every name derives from, replicas, storage, queue limits, the
// deduplication window and how long dead-letter records are kept.
//
// # One value for every component
//
// Give the same [Topology] to every producer, worker, forwarder, schedule,
// inspector, dashboard and metrics collector, with their WithTopology
// options, each package's one option for its streams:
//
//	topo := topology.Topology{Replicas: 3, MaxTasks: 1_000_000}
//	p, err := producer.New(js, producer.WithTopology(topo))
//	w, err := consumer.New(js, reg, consumer.WithTopology(topo))
//	f, err := dlq.NewForwarder(js, dlq.WithTopology(topo))
//	in, err := inspect.New(js, inspect.WithTopology(topo))
//
// Each New checks the value ([Topology.Validate]) and refuses one out of
// range; call Validate to check a configuration when a program starts.
//
// Whichever process provisions first creates the streams from its value;
// the others use the streams as the server has them. Where an existing
// stream differs from what a process asks for, it logs a warning with both
// values; a stream that would break a guarantee (a work stream that evicts
// queued tasks, a dead-letter stream that does not keep its records) is
// refused with what to do.
package topology
