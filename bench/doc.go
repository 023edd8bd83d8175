// Command bench measures jetq side by side with a hand-written baseline that
// uses nats.go's jetstream package directly, with the same stream, the same
// consumer settings and the same JSON payloads: the physical limit jetq is
// judged against. Runs alternate between the two so that noise on the
// machine hits both alike, each run and each of its phases starting on a
// collected heap; the table shows the medians of 9 runs per side (27 for the
// tracing row, whose sides differ by a few per cent) and jetq/raw as the
// median of the runs' own ratios (the ratio of the medians after it).
//
//	go run ./bench            # the full suite, about ten minutes on 2 cores
//	go run ./bench -v         # the same, with every run's figures
//	go run ./bench -quick     # fewer and smaller runs, about a minute
//
// Workloads: (a) a batch of no-op tasks enqueued with EnqueueBatch, then
// processed at concurrency 16; (b) single Enqueue calls from 8 and from 64 goroutines;
// (c) a 1 ms handler at concurrency 64; (d) latency from enqueue to handler
// start at a steady 1 000 tasks/s; (e) the peak RSS of a worker process and
// a producer process while 1 000 000 tasks are queued and drained, against a
// server in a third process; (f) in-process and loopback TCP connections;
// the cost of the tracing middleware with a no-op provider; (h) the raw
// baseline carrying jetq's headers, which separates the cost of the wire
// format from the cost of jetq's code; (r) what a task costs that keeps its
// outcome (WithRetention), returns a stored result (DefineResult) or is a
// member of a chord of 10 (workflow.Start, the callback reading the
// members' results), each run by run against a plain jetq task, end to
// end in-process at concurrency 16; and (s) how late 10 000 delayed
// tasks start, their delays spread over 0-10 s (WithDelay, the server's
// scheduler), with the tasks that ran more than once or before they were
// due: one run of about 12 s, with no raw side. -only tracing-control runs
// the tracing row with neither side traced: what its median reads for two
// sides that do not differ.
//
// bench/README.md holds the results of a full run and how to read them.
package main
