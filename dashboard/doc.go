// Package dashboard is jetq's web dashboard: an [http.Handler] to mount in
// a server of your own, which `jetq dashboard` also serves.
//
//	d, err := dashboard.New(js, dashboard.WithBasePath("/jetq"))
//	...
//	mux.Handle("/jetq/", d)
//
// Its pages read the server's own state on every request — the work
// stream's consumers, the dead-letter stream, the status, schedule and
// presence buckets, the history stream — never an event stream that could miss something, so
// what they show after a restart of the dashboard is what is there:
//
//   - Overview (/): per queue and task type, pending, running, held, retrying,
//     in flight, redelivered, dead-lettered, scheduled, the age of the
//     oldest pending task, live workers and whether the type is
//     paused, refreshed every 2 s without a reload, a task type with
//     pending tasks and no live worker marked; per type the wait of
//     the tasks started in the last hour (p50 and p99, within 19%); and a
//     chart of the tasks enqueued, succeeded, failed and dead-lettered per
//     minute over the last hour. Chart and waits come from the history
//     the workers keep on the server (see inspect's History), so a page
//     opened now shows the last hour; a deployment whose workers wrote
//     none shows an empty chart and says why. Below, the limits
//     (inspect.Inspector.Limits), refreshed with the queues: per task
//     type with a rate limit or a concurrency per key, a row a limit with
//     the starts granted in the current window or the tasks running, what
//     waits on it, when the window ends, the keys and the busiest 10 of
//     them. Then the pauses in force
//     (inspect.Inspector.Pauses); with actions allowed, a form pauses
//     every queue, one queue or one task type, until resumed or for a
//     while (POST /queues/pause), and each pause has a resume button
//     (POST /queues/resume).
//   - Tasks (/tasks/{state}, state one of pending, running, retrying,
//     scheduled, completed, failed): the tasks of one state as package
//     inspect lists them, 50 a page, paged by inspect's page tokens and
//     filtered by queue, task type, enqueue time (since, until, UTC) and
//     payload ("where=customer.id=42"; a value that does not read as JSON
//     is a string). Each row links to its task's page; a completed task
//     shows its attempts, duration, result size and error, and a
//     list's note what it could not show. With actions
//     allowed, a row offers what fits its state — delete (pending), run now
//     and cancel (scheduled), retry now (retrying) — and the list offers
//     the same for every task its filter selects: a first POST plans the
//     action (inspect.Inspector.PlanBulk) and shows how many tasks it
//     covers, the confirmation applies that plan and no other task
//     (ApplyBulk with the plan's token) and says how many were done and how
//     many had moved on and were left alone. An unknown list, a malformed
//     filter or a page token of another list or filter is answered with
//     what is wrong, and nothing is read or changed.
//   - Task (/tasks?id=...): a task by ID, as inspect's Find finds it: its
//     status record (state, attempts, progress, last error, times), its
//     message in the work stream while queued or running, its dead-letter
//     records and its schedule. The work stream's state agrees with the
//     status (waiting_to_retry, not running, for a task waiting out a
//     backoff; see inspect's Find). Progress is shown while the task runs;
//     a task not done shows the last progress of its attempt that ended,
//     labelled so, and a task done shows none. The work-stream message's
//     headers are shown, and with actions allowed the actions that fit the
//     task. A task with a stored result shows when its last attempt ran,
//     the result's size and its first kilobyte (hidden with the payloads,
//     [WithHidePayloads]); a workflow step links to its workflow, named by
//     its message's Jetq-Workflow header or, once it is done, by its task
//     ID.
//   - Workflow (/workflow/{id}): a workflow as inspect's Workflow reads it:
//     its state, its steps drawn as an inline SVG graph (a column a depth,
//     a line from each parent to its child, no script) and as a table —
//     task, state, attempts, result size, dependencies, times, error — each
//     step linked to its task's page. With actions allowed, a running or
//     failed workflow has a cancel button that asks first.
//   - Dead letters (/dlq): filtered by task, queue, reason and time,
//     newest first, 50 a page, paged by sequence. A task or queue filter
//     is applied by the server, so its page costs the same with a hundred
//     records or a hundred thousand; a reason or time filter is matched
//     record by record, and a page reads at most 2 500 records before it
//     offers to read on. A record's page (/dlq/{seq}) shows its payload
//     pretty-printed and its headers. Replay or delete one record, or
//     replay or purge every record a filter selects after a confirmation
//     page that says how many; such a bulk action runs on for up to
//     [BulkTimeout] if the browser leaves.
//   - Workers (/workers): every live worker process with host, pid, task
//     types, concurrency, in flight, tasks done and failed, start and last
//     report ("just now" under a second), from the entries workers keep in
//     JETQ_WORKERS (see inspect.Inspector.Queues). A worker that dies leaves the page
//     when its entry expires.
//   - Scheduled (/scheduled): delayed tasks and periodic declarations; a
//     periodic declaration is removed with a button when actions are
//     allowed.
//   - /metrics: the Prometheus metrics of package metrics.
//   - /api/overview and /api/workers: the JSON the pages refresh from.
//
// # Safety
//
// Reading is all a dashboard does unless [WithActions] is given: its
// actions (replay, delete and purge of dead letters; delete, run now,
// cancel and retry now of tasks, one or every one a filter selects;
// cancel of a workflow; removal of a periodic declaration) are then allowed to a browser that signed in with the
// token, for 12 hours (an HttpOnly, SameSite=Strict cookie holding the
// sign-in time and a keyed hash of it, checked by the server), or to a
// request with the header "Authorization: Bearer <token>"; every other
// POST is refused with 403. Every POST is checked by
// [http.CrossOriginProtection], so another site cannot make a signed-in
// browser act, and the pages forbid framing and foreign scripts and forms.
// [WithHidePayloads] keeps task payloads, and the headers producers set,
// off every page, for deployments where they hold personal data.
// `jetq dashboard` listens on 127.0.0.1:8080 unless told otherwise.
//
// The task page shows no result: jetq keeps none yet.
//
// The templates, script and style sheet are embedded: the dashboard needs
// no build step and loads nothing from the internet.
package dashboard
