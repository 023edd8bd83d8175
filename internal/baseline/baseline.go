package baseline

import (
	"context"
	"encoding/json"
	"sync"
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

// Round is how many acknowledgements PublishAsync awaits at most: nats.go's
// default limit of pending async publishes.
const Round = 4000

// PublishAsync publishes payloads on subject with PublishMsgAsync, at most
// [Round] unacknowledged at a time in a sliding window (it awaits the
// oldest acknowledgement before it publishes past the window: about 5%
// faster than rounds of Round, each awaited whole), awaits every
// acknowledgement, and returns the first error.
func PublishAsync(js jetstream.JetStream, subject string, payloads []Payload, jetqHeaders bool, spec tasks.Spec) error {
	window := make([]jetstream.PubAckFuture, Round) // a ring of the pending
	await := func(f jetstream.PubAckFuture) error {
		select {
		case <-f.Ok():
			return nil
		case err := <-f.Err():
			return err
		}
	}
	for i, p := range payloads {
		if old := window[i%Round]; old != nil {
			if err := await(old); err != nil {
				return err
			}
		}
		m, err := Msg(subject, p, jetqHeaders, spec)
		if err != nil {
			return err
		}
		if window[i%Round], err = js.PublishMsgAsync(m); err != nil {
			return err
		}
	}
	for _, f := range window {
		if f == nil {
			continue
		}
		if err := await(f); err != nil {
			return err
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

// Pull processes the messages of cons with concurrency fixed runner
// goroutines: each message is decoded from JSON, held for work, then
// acknowledged (terminated if it does not decode); handled is called after
// each. Call the returned stop to end it.
//
// It pulls with overlapping Fetches sized to free room: what is queued,
// running and asked for stays within twice the concurrency, a Fetch is
// made whenever at least half the concurrency is free, and each batch is
// read at once into a queue the runners take from (jetstream-notes §1.10).
// Issue 24 measured this at 48-52k tasks/s where one Consume whose
// callback hands each message to a goroutine under a semaphore drained
// 27-31k/s (see bench/README.md for the measurements since). A Fetch waits
// at most a second for its batch.
func Pull(cons jetstream.Consumer, concurrency int, work time.Duration, handled func()) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	limit := 2 * concurrency
	queue := make(chan jetstream.Msg, limit)
	room := make(chan struct{}, limit) // a token per free place
	for range limit {
		room <- struct{}{}
	}
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case m := <-queue:
					var p Payload
					if err := json.Unmarshal(m.Data(), &p); err != nil {
						_ = m.Term()
					} else {
						if work > 0 {
							time.Sleep(work)
						}
						_ = m.Ack()
						handled()
					}
					room <- struct{}{}
				}
			}
		})
	}
	least := max(concurrency/2, 1)
	wg.Go(func() {
		for {
			n := 0
			for n < least || len(room) > 0 && n < limit {
				select {
				case <-ctx.Done():
					return
				case <-room:
					n++
				}
			}
			batch, err := cons.Fetch(n, jetstream.FetchMaxWait(time.Second))
			if err != nil {
				for range n {
					room <- struct{}{}
				}
				continue
			}
			wg.Go(func() {
				got := 0
				for m := range batch.Messages() {
					select {
					case queue <- m:
						got++
					case <-ctx.Done(): // stopped: what is left stays unacknowledged
					}
				}
				for range n - got {
					room <- struct{}{}
				}
			})
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}
