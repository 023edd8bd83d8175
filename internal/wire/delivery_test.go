package wire

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/tasks"
)

func TestReadDeliveryAgreesWithMetadata(t *testing.T) {
	t.Parallel()
	names, err := NewNames("jetq")
	if err != nil {
		t.Fatal(err)
	}
	spec := tasks.Define[struct{}]("wire.delivery").Spec()
	ctx := context.Background()
	_, js := embeddedtest.Connect(t, embeddedtest.Server(t))
	topo := Topology{Names: names, Memory: true}
	if _, err := js.CreateStream(ctx, topo.WorkStream()); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := js.PublishMsg(ctx, Msg(NewEnvelope(names, spec, NewID(), []byte("{}"), time.Now()))); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := js.CreateConsumer(ctx, topo.WorkStream().Name, topo.Consumer(spec, time.Minute, 0))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		msg, err := cons.Next(jetstream.FetchMaxWait(5*time.Second), jetstream.FetchPriorityGroup(PriorityGroup))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := parseAckReply(msg.Reply()); !ok {
			t.Fatalf("reply subject %q not read in place", msg.Reply())
		}
		got, err := ReadDelivery(msg)
		md, mdErr := msg.Metadata()
		if err != nil || mdErr != nil {
			t.Fatalf("ReadDelivery: %v; Metadata: %v", err, mdErr)
		}
		want := Delivery{Stream: md.Stream, Consumer: md.Consumer, NumDelivered: md.NumDelivered,
			StreamSeq: md.Sequence.Stream, Timestamp: md.Timestamp, Pending: md.NumPending}
		if got.Stream != want.Stream || got.Consumer != want.Consumer || got.NumDelivered != want.NumDelivered ||
			got.StreamSeq != want.StreamSeq || !got.Timestamp.Equal(want.Timestamp) || got.Pending != want.Pending {
			t.Errorf("delivery %d: ReadDelivery = %+v, Metadata says %+v", i, got, want)
		}
		if i == 0 {
			_ = msg.Nak() // delivered again below, as delivery 2
		} else {
			_ = msg.Ack()
		}
	}
}

func TestParseAckReply(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 8, 0, 0, 123, time.UTC)
	ns := "1796112000000000123"
	want := Delivery{Stream: "JETQ_TASKS", Consumer: "default:email:send", NumDelivered: 3, StreamSeq: 42, Timestamp: at, Pending: 7}
	for _, reply := range []string{
		"$JS.ACK.JETQ_TASKS.default:email:send.3.42.40." + ns + ".7",                                 // before domains
		"$JS.ACK._.Z2CXXF2TXA3PZNQ9J8DAQR.JETQ_TASKS.default:email:send.3.42.40." + ns + ".7",        // no domain, no token
		"$JS.ACK.hub.Z2CXXF2TXA3PZNQ9J8DAQR.JETQ_TASKS.default:email:send.3.42.40." + ns + ".7.Xk3f", // domain and token
	} {
		got, ok := parseAckReply(reply)
		if !ok || got.Stream != want.Stream || got.Consumer != want.Consumer || got.NumDelivered != want.NumDelivered ||
			got.StreamSeq != want.StreamSeq || !got.Timestamp.Equal(want.Timestamp) || got.Pending != want.Pending {
			t.Errorf("parseAckReply(%q) = %+v, %v; want %+v", reply, got, ok, want)
		}
	}
	for _, reply := range []string{
		"",
		"_INBOX.abc",
		"$JS.ACK.JETQ_TASKS.c.3.42.40.123",     // one token short
		"$JS.ACK.d.h.JETQ_TASKS.c.3.42.40.123", // eight tokens: neither form
		"$JS.ACK.JETQ_TASKS.c.x.42.40.123.7",   // delivered is no number
		"$JS.ACK.JETQ_TASKS.c.3.-4.40.123.7",   // nor is the sequence
		"$JS.ACK..c.3.42.40.123.7",             // no stream
		"$JS.ACK.JETQ_TASKS.c.3.42.40.123.",    // nor a pending count
		"$JS.ACK.JETQ_TASKS.c.3.42.40.12345678901234567890.7", // time overflows
		"$JS.ACK.JETQ_TASKS.c.3.42.40.9999999999999999999.7",  // int64 nanoseconds, that is
	} {
		if got, ok := parseAckReply(reply); ok {
			t.Errorf("parseAckReply(%q) = %+v, true; want not read", reply, got)
		}
	}
}
