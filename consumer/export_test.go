package consumer

import "github.com/nats-io/nats.go/jetstream"

// SetConsumeFunc makes w call f where it would call Consume on a route's
// consumer. Call it before Run.
func SetConsumeFunc(w *Worker, f func(jetstream.Consumer, jetstream.MessageHandler, ...jetstream.PullConsumeOpt) (jetstream.ConsumeContext, error)) {
	w.consumeFunc = f
}
