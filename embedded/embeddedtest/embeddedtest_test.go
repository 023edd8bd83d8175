package embeddedtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestServerUsesTempDir(t *testing.T) {
	t.Parallel()
	srv := embeddedtest.Server(t)
	if srv.StoreDir() == "" {
		t.Fatal("StoreDir: got \"\", want a t.TempDir() directory")
	}
	dir := t.TempDir()
	if srv2 := embeddedtest.Server(t, embedded.WithStoreDir(dir)); srv2.StoreDir() != dir {
		t.Errorf("StoreDir with WithStoreDir: got %q, want %q", srv2.StoreDir(), dir)
	}
}

func TestJetStreamAndConnect(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	srv := embeddedtest.Server(t)
	_, producer := embeddedtest.Connect(t, srv, nats.Name("producer"))
	_, worker := embeddedtest.Connect(t, srv, nats.Name("worker"))

	if _, err := producer.CreateStream(ctx, jetstream.StreamConfig{Name: "JOBS", Subjects: []string{"jobs.>"}}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	if _, err := producer.Publish(ctx, "jobs.a", []byte("job")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	cons, err := worker.CreateOrUpdateConsumer(ctx, "JOBS", jetstream.ConsumerConfig{Durable: "w"})
	if err != nil {
		t.Fatalf("CreateOrUpdateConsumer: %v", err)
	}
	msg, err := cons.Next(jetstream.FetchContext(ctx))
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	if got, want := string(msg.Data()), "job"; got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
	if err := msg.Ack(); err != nil {
		t.Fatalf("Ack: %v", err)
	}

	js := embeddedtest.JetStream(t, embedded.WithServerName("other"))
	if _, err := js.Stream(ctx, "JOBS"); err == nil {
		t.Error("Stream JOBS on a second server: got nil error, want stream not found")
	}
}
