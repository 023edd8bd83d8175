package embedded_test

import (
	"context"
	"fmt"
	"log"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded"
)

// Start a server in-process, create a stream, publish one message and read it
// back. No external server and no TCP port are needed.
func Example() {
	ctx := context.Background()

	srv, err := embedded.Start(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown()

	nc, err := srv.Connect()
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()

	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     "ORDERS",
		Subjects: []string{"orders.>"},
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := js.Publish(ctx, "orders.new", []byte("order 1")); err != nil {
		log.Fatal(err)
	}

	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:   "shipping",
		AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		log.Fatal(err)
	}
	msg, err := cons.Next()
	if err != nil {
		log.Fatal(err)
	}
	if err := msg.Ack(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s\n", msg.Subject(), msg.Data())
	// Output: orders.new: order 1
}
