package embeddedtest

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded"
)

// Server starts an embedded server for t and registers t.Cleanup to shut it
// down. Its JetStream store is a fresh t.TempDir(), unless opts contain
// [embedded.WithStoreDir]; other defaults are those of [embedded.Start]
// (in-process only, log discarded). Server calls t.Fatal if the server does
// not start within 10 s or t's context ends first.
func Server(t testing.TB, opts ...embedded.Option) *embedded.Server {
	t.Helper()
	// The caller's options come last, so their WithStoreDir wins.
	opts = append([]embedded.Option{embedded.WithStoreDir(t.TempDir())}, opts...)
	srv, err := embedded.Start(t.Context(), opts...)
	if err != nil {
		t.Fatalf("embeddedtest: start server: %v", err)
	}
	// Registered after t.TempDir, so it runs before the directory is removed.
	t.Cleanup(srv.Shutdown)
	return srv
}

// JetStream starts a server as [Server] does, opens a connection to it and
// returns that connection's JetStream. The connection is closed in t.Cleanup
// before the server shuts down. JetStream calls t.Fatal on any failure.
func JetStream(t testing.TB, opts ...embedded.Option) jetstream.JetStream {
	t.Helper()
	_, js := Connect(t, Server(t, opts...))
	return js
}

// Connect opens another connection to srv for t and returns it with its
// JetStream, for example to simulate a separate producer or worker process.
// opts are passed to [embedded.Server.Connect]. The connection is closed in
// t.Cleanup; when srv came from [Server], that happens before srv shuts down.
// Connect calls t.Fatal on any failure.
func Connect(t testing.TB, srv *embedded.Server, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := srv.Connect(opts...)
	if err != nil {
		t.Fatalf("embeddedtest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("embeddedtest: jetstream: %v", err)
	}
	return nc, js
}

// Cluster starts an n-node JetStream cluster for the test (see
// embedded.StartCluster), with its data under t.TempDir(), and shuts it down
// in t.Cleanup.
func Cluster(t testing.TB, n int, opts ...embedded.Option) *embedded.Cluster {
	t.Helper()
	opts = append([]embedded.Option{embedded.WithStoreDir(t.TempDir())}, opts...)
	c, err := embedded.StartCluster(context.Background(), n, opts...)
	if err != nil {
		t.Fatalf("embeddedtest: start a %d-node cluster: %v", n, err)
	}
	t.Cleanup(c.Shutdown)
	return c
}
