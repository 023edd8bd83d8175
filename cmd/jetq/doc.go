// Command jetq operates a jetq deployment: it inspects and replays the
// dead-letter stream, shows, pauses and resumes the queues, shows the live
// workers, serves the web dashboard, enqueues tasks by hand, lists tasks by state and deletes, runs,
// cancels and retries them, one by ID or all a filter selects, shows and
// cancels workflows, lists and cancels delayed and periodic tasks, and runs
// an embedded NATS server with JetStream for single-binary deployments.
//
//	jetq server --store-dir ./data            # a NATS server with JetStream on :4222
//	jetq queues                               # per task: pending, in flight, dead-lettered
//	jetq queues pause bulk --until 14:00      # no task of queue bulk starts until then
//	jetq queues pause default --task email.send  # one task type, until resumed; --all: every queue
//	jetq queues resume bulk                   # its tasks start again at once
//	jetq queues limits                        # rate limits and places per key in use, and what waits
//	jetq workers                              # the live worker processes
//	jetq dashboard --listen 127.0.0.1:8080    # the web dashboard and /metrics
//	jetq enqueue email.send '{"to":"ada@example.com"}'  # checked by a live worker's Validate
//	jetq enqueue email.send @mail.json        # the payload from a file; - reads stdin
//	jetq enqueue mail.remind '{"to":"ada@example.com"}' --id remind:ada --delay 24h
//	jetq enqueue user.sync '{"user":42}' --unique user:42  # dropped while another holds the key
//	jetq dlq ls --task email.send             # what failed, and why
//	jetq dlq replay 42                        # run it again
//	jetq scheduled ls                         # delayed tasks waiting to fire
//	jetq scheduled rm remind:ada              # cancel one before it fires
//	jetq periodic ls                          # periodic tasks and when each fires next
//	jetq periodic rm reports.nightly          # fire it no more
//	jetq tasks ls --state retrying --queue default --task email.send  # tasks by state, a page at a time
//	jetq tasks ls --state pending --where customer.id=42 --page <token>  # a payload field; the next page
//	jetq task rm welcome-7f3a                 # delete a pending task (--seq N names its message)
//	jetq task run remind:ada                  # run a scheduled task now; task cancel withdraws it
//	jetq task retry welcome-7f3a              # retry a retrying task now
//	jetq tasks rm --task email.send --where customer.id=42  # every task selected: counted, asked first
//	jetq tasks ls --state completed --task report.build  # history: attempts, duration, result size
//	jetq workflow show report-2026-12-07      # a workflow's steps: state, attempts, result size, deps
//	jetq workflow cancel report-2026-12-07    # its steps not run yet never will; asks first
//
// # Connecting
//
// jetq connects as the nats CLI does and takes its flags: --server (-s),
// --user and --password, --token, --creds, --nkey, --tlscert, --tlskey and
// --tlsca, and --context. A flag left out is read from the environment
// (NATS_URL, NATS_USER, NATS_PASSWORD, NATS_TOKEN, NATS_CREDS, NATS_NKEY,
// NATS_CERT, NATS_KEY, NATS_CA), and then from the nats context named by
// --context or NATS_CONTEXT, or else from the one `nats context select`
// chose, if any. Credentials (user, password, token, creds, nkey) come all
// from the flags and the environment, or, when none is given there, all from
// the context. --prefix names the jetq deployment (default "jetq").
// jetq --version prints jetq's version and that of the server, if one
// answers.
//
// # Output and exit codes
//
// Tables for people by default, --json for scripts; the keys of --json
// output are snake_case throughout (enqueue prints id, stream, sequence,
// duplicate and, for a delayed task, run_at), and under --json an error is
// printed to stderr as {"error": "...", "code": 1}. jetq exits 0 on success,
// 1 when the operation failed and 2 on a usage error. Times print as RFC
// 3339 in UTC. dlq purge, workflow cancel and the bulk actions (tasks rm,
// run, cancel and retry) ask on a terminal and otherwise need --yes.
//
// # Tasks by state
//
// tasks ls --state lists pending, running, retrying, scheduled, completed or
// failed tasks, filtered by --queue, --task, --since, --until and --where
// path=value (a field of the JSON payload, compared as JSON); a page that is
// not the last ends with the --page token of the next. task rm, run, cancel
// and retry act on one task by ID and refuse one that is no longer in the
// state they need; tasks rm, run, cancel and retry act on the tasks the
// filter selects. An unknown state, a malformed filter or a page token of
// another list is a usage error that reads and changes nothing. The
// completed list shows, for the task types that keep their outcome
// (tasks.WithRetention), each task's attempts, duration, result size and
// the error its record holds, if any.
//
// # Workflows
//
// workflow show prints a workflow's state and a table of its steps: name,
// task, state (a task's, or waiting, or unreachable), attempts, result
// size, the steps it waits for, its task ID and error; --json prints the
// record. workflow cancel asks on a terminal, or needs --yes, and refuses a
// workflow that succeeded or was cancelled already.
package main
