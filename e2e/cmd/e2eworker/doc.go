// Command e2eworker is a jetq worker process for the end-to-end scenarios:
// it handles e2e.work tasks and appends "<task ID> <unix nanos>" to --out for
// every success, before the acknowledgement, so a SIGKILL loses no record.
//
// With --flow it is instead the process of the results and workflows
// scenarios, as a deployment runs it: a worker of the chord members
// (e2e.member, failing at random), the chords' callbacks (e2e.chord-done)
// and e2e.echo, with a dead-letter forwarder beside it. It appends one
// line to --out for each handler run, written before the handler returns:
//
//	member <chord> <index> <task ID> <attempt> <worker> <start ns> <end ns> ok|fail
//	cstart <chord> <task ID> <attempt> <worker> <start ns> <enqueued ns>
//	cend <chord> <task ID> <attempt> <worker> <end ns> ok|bad:<why> <values, comma separated>
//	echo <task ID> <end ns>
//
// With --snooze it handles the snooze scenario's e2e.snooze tasks instead:
// each snoozes three times, and then its run appends, before it returns,
//
//	done <task ID> <work-stream seq> <snoozes> <attempt>
//
// With --cancel it handles e2e.cancellable, the cancel scenario's task,
// and appends a line at each step of a handler, before it goes on:
//
//	start <task ID> <attempt> <unix nanos>
//	ctxdone <task ID> <unix nanos> <context.Cause of the handler's ctx>
//
// A handler in mode UntilCancelled returns its ctx's error once ctx ends;
// one in mode IgnoreCtx runs on after it, until the process dies; one in
// mode Quick returns nil at once.
//
// With --rate it is a worker of the rate-limit scenario (rate.go): it
// handles e2e.rate.typed, e2e.rate.keyed and e2e.rate.free and appends a
// line to --out as each handler starts:
//
//	<task name> <task ID> <key or -> <start ns> <attempt>
//
// With --keys it is a worker of the per-key concurrency scenario
// (keys.go): it handles e2e.key.one and e2e.key.two, each working for its
// payload's milliseconds, and appends a line as each handler starts and
// as it ends:
//
//	start|end <task name> <task ID> <key> <unix nanos> <attempt>
package main
