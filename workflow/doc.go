// Package workflow composes tasks: chains, groups, chords and DAGs whose
// steps read their parents' results.
//
// A [Workflow] is built from steps ([Task]) with dependencies ([Step.After])
// and started with [Start], which validates it, stores its record and
// enqueues the steps that depend on nothing. Each step is an ordinary task
// of its definition, run by any worker that handles that type; its ID is
// "<workflow ID>:<step name>". When a step settles, the worker that ran it
// records the settlement and enqueues every dependent whose parents have
// all succeeded, before it acknowledges the step: there is no poller and
// no leader, and a worker that dies half-way leaves the step to be
// delivered again, which finishes the bookkeeping (every write of it is
// idempotent). See [ExampleChord] and examples/workflow.
//
// # Results
//
// A step's handler reads its parents' results with [Input] (the single
// parent's), [Results] (all, in the order of its dependencies: a chord's
// members in member order) and [ParentResult] (one by name). A parent
// returns a result when its task is a tasks.DefineResult; results are
// decoded from JSON, or read as they are into a []byte.
//
// # Failure rules
//
//	what happens                           the step           its dependents          the workflow
//	-------------------------------------  -----------------  ----------------------  --------------------------
//	a step fails and has attempts left     retrying           wait                    running (nothing recorded)
//	a step is dead-lettered or expires     dead_lettered /    unreachable, and their  failed; OnFailure runs
//	                                       expired            dependents too          once, with what failed and
//	                                                                                  what succeeded
//	another step fails after that          dead_lettered /    unreachable             failed; OnFailure does not
//	                                       expired                                    run again
//	the failed step is replayed from the   done when it       waiting, then queued    running again, succeeded
//	dead-letter stream and succeeds        succeeds           when all parents are    when every step is done
//	                                                          done
//	the workflow is cancelled              queued: dropped    waiting: cancelled,     cancelled
//	                                       unrun, cancelled;  never enqueued
//	                                       running: finishes
//	a step's worker dies before its ack    delivered again;   enqueued once (same     unchanged
//	                                       the first outcome  task ID)
//	                                       stays; recorded
//	                                       done: acked unrun
//
// Only a step's final settlement is recorded: retries are not counted
// twice, and Attempts is the step's last count.
//
// # Traces
//
// Start opens a "workflow <name>" span under the span in its ctx, and every
// step's task carries that span's W3C trace context, those enqueued later
// by the bookkeeping too: with tracing.Consumer, each step's process span
// is a child of the workflow's span, and one workflow is one trace.
package workflow
