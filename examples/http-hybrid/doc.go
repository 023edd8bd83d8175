// Command http-hybrid is a net/http service that does fast work in-process
// and slow work through jetq, in one binary:
//
//   - POST /send-email validates its JSON body (400 with every field error,
//     nothing enqueued) and enqueues email.send (202 with the task ID);
//   - POST /upload-file saves a multipart upload, logs it in-process right
//     after the response, and enqueues the slow processing, which survives a
//     restart of the service; once it is done, its success callback
//     (producer.OnSuccess), enqueued exactly once, posts a webhook to the
//     client (at least once, with the task's ID to key on);
//   - POST /webhooks/file-processed is that client's webhook, served here so
//     that the example runs to the end by itself: it logs what it receives;
//   - GET /tasks/{id} says where a task is: queued, running, retrying (attempt
//     and next try), done, or dead-lettered with the reason.
//
// It runs an embedded NATS server, or uses NATS_URL when set. SIGTERM stops
// it gracefully: no new requests, in-process work finished, workers drained.
//
// # Tracing
//
// With OTEL_EXPORTER_OTLP_ENDPOINT set, telemetry.Setup exports over OTLP
// and each request is one trace: otelhttp's "POST /send-email" server span
// (the child of the caller's traceparent, if any), the enqueue's send span
// under it, every attempt's process span under that, and the dead-letter
// publish under the last attempt.
//
//	go run ./examples/http-hybrid
package main
