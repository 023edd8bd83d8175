package wire

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

var benchBody = []byte(`{"user_id":42,"email":"ada.lovelace@example.com","subject":"Your weekly summary is ready",` +
	`"body":"Hello Ada, here is what happened in your projects this week: 3 merged, 2 opened.","tags":["weekly","summary"]}`)

// BenchmarkEnvelope measures the wire format's own cost per task: building the
// envelope of a new task (ID and headers) and its NATS message (encode),
// and reading the envelope of a delivered message, metadata included (decode).
// Payload encoding is the codec's and not included.
//
//	go test -run '^$' -bench Envelope -benchmem ./internal/wire/
func BenchmarkEnvelope(b *testing.B) {
	names, err := NewNames("jetq")
	if err != nil {
		b.Fatal(err)
	}
	spec := tasks.Define[struct{}]("bench.envelope").Spec()
	b.Run("encode", func(b *testing.B) {
		tpl := NewTemplate(names, spec, time.Now())
		b.ReportAllocs()
		for b.Loop() {
			_ = Msg(tpl.Envelope(NewID(), benchBody))
		}
	})
	b.Run("encode-batch-of-100", func(b *testing.B) {
		tpl := NewTemplate(names, spec, time.Now())
		bodies := make([][]byte, 100)
		for i := range bodies {
			bodies[i] = benchBody
		}
		b.ReportAllocs()
		for b.Loop() {
			_ = tpl.Envelopes(nil, bodies)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(bodies)), "ns/task")
	})
	b.Run("decode", func(b *testing.B) {
		msg := delivered(b, names, spec)
		subject := names.TaskSubject(spec.Queue, spec.Name)
		var env tasks.Envelope
		b.ReportAllocs()
		for b.Loop() {
			md, err := msg.Metadata()
			if err != nil {
				b.Fatal(err)
			}
			if err := ReadRoute(&env, names, msg, md, subject, spec.Queue, spec.Name); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// delivered enqueues one task of spec on an in-process server and returns
// its delivery, unacknowledged.
func delivered(b *testing.B, names Names, spec tasks.Spec) jetstream.Msg {
	b.Helper()
	ctx := context.Background()
	_, js := embeddedtest.Connect(b, embeddedtest.Server(b))
	topo := topology.Topology{Prefix: names.Prefix(), Memory: true}
	if _, err := js.CreateStream(ctx, WorkStreamConfig(topo)); err != nil {
		b.Fatal(err)
	}
	env := NewEnvelope(names, spec, NewID(), benchBody, time.Now())
	if _, err := js.PublishMsg(ctx, Msg(env)); err != nil {
		b.Fatal(err)
	}
	cons, err := js.CreateConsumer(ctx, names.WorkStream(), ConsumerConfig(topo, spec))
	if err != nil {
		b.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5*time.Second), jetstream.FetchPriorityGroup(PriorityGroup))
	if err != nil {
		b.Fatal(err)
	}
	return msg
}
