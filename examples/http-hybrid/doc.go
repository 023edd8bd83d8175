// Command http-hybrid is a net/http service that does fast work in-process
// and slow work through jetq, in one binary:
//
//   - POST /send-email validates its JSON body (400 with every field error,
//     nothing enqueued) and enqueues email.send (202 with the task ID);
//   - POST /upload-file saves a multipart upload, logs it in-process right
//     after the response, and enqueues the slow processing, which survives a
//     restart of the service;
//   - GET /tasks/{id} says where a task is: queued, running, retrying (attempt
//     and next try), done, or dead-lettered with the reason.
//
// It runs an embedded NATS server, or uses NATS_URL when set. SIGTERM stops
// it gracefully: no new requests, in-process work finished, workers drained.
//
//	go run ./examples/http-hybrid
package main
