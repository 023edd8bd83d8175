// Package status is the one home of task state: where tracked tasks stand —
// queued or scheduled, running, retrying (with the attempt and the time of
// the next), done, dead-lettered with the reason, expired or cancelled — and
// its types ([Status], [State], [Progress]). Producers, workers, forwarders
// and replays write the records; applications read them through the
// inspect package.
//
// # Tracking
//
// Tracking is opt-in per task definition:
//
//	var Transcode = tasks.Define[Video]("video.transcode", tasks.WithStateTracking())
//
// The producer records "queued" when it enqueues, the worker "running" when
// a handler starts and what the settlement made of each attempt; a handler
// may add its progress with tasks.ReportProgress. A task the forwarder files
// becomes dead_lettered, and a replayed one queued again. A delayed task is
// "scheduled" with its run time until it fires, and "cancelled" if it is
// withdrawn before; one still queued a minute past its deadline reads
// "expired", as the worker records it when it drops it. The records live in
// a JetStream key-value bucket (JETQ_STATUS, kept 7 days after the last
// update), so they survive restarts of workers and services.
//
// # Reading
//
//	in, err := inspect.New(js)
//	st, err := in.Status(ctx, taskID)     // the status now
//	st, err = in.WaitStatus(ctx, taskID)  // once the task is final (State.Final)
package status
