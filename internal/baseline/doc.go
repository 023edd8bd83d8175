// Package baseline is the hand-written JetStream code that jetq's benchmarks
// measure jetq against: what a service without jetq writes with
// nats.go/jetstream directly, on jetq's own stream and consumer settings —
// JSON payloads, a Nats-Msg-Id on every publish, PublishMsgAsync with every
// acknowledgement awaited, and one Consume whose callback hands each message
// to a goroutine bounded by a semaphore (jetstream-notes §1.10).
//
// The go test benchmarks of producer and consumer and the benchmark command
// (go run ./bench) share it, so that every ratio they print has the same
// denominator.
package baseline
