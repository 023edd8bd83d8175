package baseline

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// Payload is the task both sides carry: about 200 bytes of JSON.
type Payload struct {
	UserID  int      `json:"user_id"`
	Email   string   `json:"email"`
	Subject string   `json:"subject"`
	Body    string   `json:"body"`
	Tags    []string `json:"tags"`
}

// NewPayload returns the i-th benchmark payload.
func NewPayload(i int) Payload {
	return Payload{UserID: i, Email: "ada.lovelace@example.com", Subject: "Your weekly summary is ready",
		Body: "Hello Ada, here is what happened in your projects this week: 3 merged, 2 opened.", Tags: []string{"weekly", "summary"}}
}

// Payloads returns n benchmark payloads.
func Payloads(n int) []Payload {
	ps := make([]Payload, n)
	for i := range ps {
		ps[i] = NewPayload(i)
	}
	return ps
}

// Msg encodes p as a message on subject with a fresh Nats-Msg-Id. With
// jetqHeaders it carries jetq's task headers (for spec) instead of the
// ID alone: the raw code paying for jetq's wire format and nothing else.
func Msg(subject string, p Payload, jetqHeaders bool, spec tasks.Spec) (*nats.Msg, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	m := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{wire.HeaderMsgID: {nuid.Next()}}}
	if jetqHeaders {
		m.Header = nats.Header(wire.NewEnvelope(wire.Names{}, spec, m.Header.Get(wire.HeaderMsgID), nil, time.Now()).Header)
	}
	return m, nil
}

// Round is how many messages PublishAsync publishes before it awaits their
// acknowledgements: nats.go's default limit of pending async publishes.
const Round = 4000

// PublishAsync publishes payloads on subject with PublishMsgAsync in rounds
// of [Round], awaiting every acknowledgement, and returns the first error.
func PublishAsync(js jetstream.JetStream, subject string, payloads []Payload, jetqHeaders bool, spec tasks.Spec) error {
	futures := make([]jetstream.PubAckFuture, 0, Round)
	for i := 0; i < len(payloads); {
		futures = futures[:0]
		for end := min(i+Round, len(payloads)); i < end; i++ {
			m, err := Msg(subject, payloads[i], jetqHeaders, spec)
			if err != nil {
				return err
			}
			f, err := js.PublishMsgAsync(m)
			if err != nil {
				return err
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return err
			}
		}
	}
	return nil
}

// Publish publishes p on subject and waits for its acknowledgement.
func Publish(ctx context.Context, js jetstream.JetStream, subject string, p Payload) error {
	m, err := Msg(subject, p, false, tasks.Spec{})
	if err != nil {
		return err
	}
	_, err = js.PublishMsg(ctx, m)
	return err
}

// Consume processes the messages of cons: each is decoded from JSON on a
// goroutine of its own, at most concurrency at once, held for work, then
// acknowledged (terminated if it does not decode); handled is called after
// each. Stop the returned context to end it.
//
// It pulls for 5 s at a time, as jetq's worker does, with the shortest
// heartbeat nats.go accepts, 500 ms. Its Consume sometimes skips a pull it
// owes and pulls again only when two heartbeats have gone missing: with
// nats.go's defaults (30 s pulls, 15 s heartbeats) that pause lasts 30 s, in
// about one run of 100 000 tasks in three, and the comparison would measure
// that luck rather than the framework; here it lasts 1 s. (jetq's worker
// notices the missing pull itself, within about 20 ms.)
func Consume(cons jetstream.Consumer, concurrency int, work time.Duration, handled func()) (jetstream.ConsumeContext, error) {
	sem := make(chan struct{}, concurrency)
	return cons.Consume(func(m jetstream.Msg) {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			var p Payload
			if err := json.Unmarshal(m.Data(), &p); err != nil {
				_ = m.Term()
				return
			}
			if work > 0 {
				time.Sleep(work)
			}
			_ = m.Ack()
			handled()
		}()
	}, jetstream.PullMaxMessages(concurrency), jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(500*time.Millisecond))
}
