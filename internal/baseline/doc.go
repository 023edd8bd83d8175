// Package baseline is the hand-written JetStream code that jetq's benchmarks
// measure jetq against: what a service without jetq writes with
// nats.go/jetstream directly, on jetq's own stream and consumer settings —
// JSON payloads, a Nats-Msg-Id on every publish, PublishMsgAsync in a
// sliding window with every acknowledgement awaited, and overlapping Fetches
// sized to free room feeding fixed runner goroutines (jetstream-notes
// §1.10): the fastest raw shapes measured on the bench's machine.
//
// The go test benchmarks of producer and consumer and the benchmark command
// (go run ./bench) share it, so that every ratio they print has the same
// denominator.
package baseline
