package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/human"
)

// stateNames lists the states `tasks ls --state` takes, for help and errors.
const stateNames = "pending, running, retrying, scheduled, completed or failed"

func newTasksCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tasks",
		Short: "List tasks by state, and delete, run, cancel or retry the tasks a filter selects",
		Long: "tasks lists the tasks in one state (" + stateNames + "),\n" +
			"a page at a time, filtered by queue, task type, time and a payload field; and applies an\n" +
			"action to every task a filter selects, after counting them and asking first.",
	}
	cmd.AddCommand(newTasksLs(g))
	for _, a := range taskActions {
		cmd.AddCommand(newTasksBulk(g, a))
	}
	return cmd
}

// queryFlags are the flags that select tasks.
type queryFlags struct {
	queue, task, since, until, where string
}

func (qf *queryFlags) register(f *pflag.FlagSet) {
	f.StringVarP(&qf.queue, "queue", "q", "", "only tasks of this queue")
	f.StringVar(&qf.task, "task", "", "only tasks of this task name")
	f.StringVar(&qf.since, "since", "", "only tasks enqueued since: a duration ago (2h) or an RFC 3339 time")
	f.StringVar(&qf.until, "until", "", "only tasks enqueued before: a duration ago or an RFC 3339 time")
	f.StringVar(&qf.where, "where", "", "only tasks whose JSON payload has this value at this path, as path=value: customer.id=42, customer.name=\"Ada\"")
}

// query is the Query the flags select in state. Each flag is checked here,
// before jetq connects, so that a typo costs no round trip and changes
// nothing.
func (qf *queryFlags) query(state inspect.State) (inspect.Query, error) {
	q := inspect.Query{State: state, Queue: qf.queue, Task: qf.task}
	var err error
	if q.Since, err = parseWhen(qf.since); err != nil {
		return q, usagef("--since: %v", err)
	}
	if q.Until, err = parseWhen(qf.until); err != nil {
		return q, usagef("--until: %v", err)
	}
	if qf.where != "" {
		if q.Where, err = inspect.ParseMatch(qf.where); err != nil {
			return q, usagef("--where: %v", err)
		}
	}
	return q, nil
}

// describe names the tasks the flags select in state, for a question or
// an empty list.
func (qf *queryFlags) describe(state inspect.State) string {
	return string(state) + " task(s)" + givenFlags([][2]string{
		{"queue", qf.queue}, {"task", qf.task}, {"since", qf.since}, {"until", qf.until}, {"where", qf.where}})
}

func (qf *queryFlags) empty() bool { return *qf == queryFlags{} }

// pageJSON is a page of `tasks ls --json`: a type of its own, as
// inspect.Page has no snake_case keys, and with each payload as JSON.
type pageJSON struct {
	State inspect.State `json:"state"`
	Tasks []any         `json:"tasks"`
	// Next is the --page of the next page; empty on the last.
	Next string `json:"next"`
	// Scanned, Partial and Note say how far the page looked, as
	// inspect.Page does.
	Scanned int    `json:"scanned"`
	Partial bool   `json:"partial"`
	Note    string `json:"note,omitempty"`
}

// taskInfoJSON is t for --json: its payload as JSON when it is JSON.
func taskInfoJSON(t inspect.TaskInfo) any {
	if p := jsonPayload(t.Header, t.Payload); p != nil {
		return struct {
			inspect.TaskInfo
			Payload json.RawMessage `json:"payload"`
		}{t, p}
	}
	return t
}

func newTasksLs(g *globals) *cobra.Command {
	var qf queryFlags
	var state, page string
	var limit, scan int
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the tasks in one state, a page at a time",
		Long: "ls lists the tasks in one state, a page of --limit at a time; a page that is not the last\n" +
			"ends with the --page that continues it. Each state shows its own columns: pending tasks\n" +
			"their place in the queue and age, running tasks their worker, attempt and progress,\n" +
			"retrying tasks their next attempt and last error, scheduled tasks when they are due,\n" +
			"completed tasks when they ended, their attempts, how long the last ran, the size of their\n" +
			"result and the error its record holds (task types that keep their outcome, with\n" +
			"tasks.WithRetention), failed tasks when they ended and why. --where compares a field of the\n" +
			"JSON payload, as JSON: customer.id=42 matches the number 42, customer.id='\"42\"' the string,\n" +
			"customer.name=Ada the string \"Ada\". A filter that skips tasks reads at most --scan messages\n" +
			"a page; a page that stopped there says so, and its --page goes on from where it stopped.\n\n" +
			"With --json it prints one object: state, tasks (each with its payload, as JSON when it is\n" +
			"JSON), next (the token of the next page, or empty), scanned (the messages the page read),\n" +
			"partial (it stopped at --scan) and note (what the list could not show).",
		Example: "  jetq tasks ls --state retrying --queue default --task email.send\n" +
			"  jetq tasks ls --state pending --where customer.id=42 --limit 20\n" +
			"  jetq tasks ls --state pending --page <token printed by the page before>",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if state == "" {
				return usagef("--state is required: %s", stateNames)
			}
			st, err := inspect.ParseState(state)
			if err != nil {
				return usagef("--state: %w", err)
			}
			if limit < 1 {
				return usagef("--limit must be positive, got %d", limit)
			}
			q, err := qf.query(st)
			if err != nil {
				return err
			}
			q.Limit, q.Scan, q.Token = limit, scan, page
			return g.inspect(cmd, func(ctx context.Context, in *inspect.Inspector) error {
				p, err := in.Tasks(ctx, q)
				if err != nil {
					return err
				}
				if g.json {
					out := pageJSON{State: st, Tasks: make([]any, len(p.Tasks)), Next: p.Next, Scanned: p.Scanned, Partial: p.Partial, Note: p.Note}
					for i, t := range p.Tasks {
						out.Tasks[i] = taskInfoJSON(t)
					}
					return g.printJSON(out)
				}
				if len(p.Tasks) == 0 {
					fmt.Fprintf(g.stdout, "no %s", qf.describe(st))
				} else {
					header, rows := taskTable(st, p.Tasks, time.Now())
					if err := g.table(header, rows); err != nil {
						return err
					}
				}
				// A page cut short by its scan bound must not read as the
				// end of the list: say how far it looked.
				switch {
				case p.Partial && len(p.Tasks) == 0:
					fmt.Fprintf(g.stdout, " among the first %d messages read (--scan); more may match further on: --page %s\n", p.Scanned, p.Next)
				case len(p.Tasks) == 0:
					fmt.Fprintln(g.stdout)
				case p.Partial:
					fmt.Fprintf(g.stdout, "(stopped after reading %d messages (--scan); more may match further on: --page %s)\n", p.Scanned, p.Next)
				case p.Next != "":
					fmt.Fprintf(g.stdout, "(next page: --page %s)\n", p.Next)
				}
				if p.Note != "" {
					fmt.Fprintf(g.stdout, "note: %s\n", p.Note)
				}
				return nil
			})
		},
	}
	qf.register(cmd.Flags())
	cmd.Flags().StringVar(&state, "state", "", "the state to list: "+stateNames+" (required)")
	cmd.Flags().IntVarP(&limit, "limit", "n", inspect.DefaultLimit, fmt.Sprintf("at most this many tasks on the page (up to %d)", inspect.MaxLimit))
	cmd.Flags().IntVar(&scan, "scan", inspect.DefaultPageScan, fmt.Sprintf("read at most this many messages for the page when a filter skips tasks (up to %d)", inspect.MaxPageScan))
	cmd.Flags().StringVar(&page, "page", "", "continue with the page this token names, as the page before printed it")
	return cmd
}

// taskTable is the table of tasks in state: the columns that say where
// each stands in that state, after the ones every state shares.
func taskTable(st inspect.State, ts []inspect.TaskInfo, now time.Time) ([]string, [][]string) {
	header := []string{"SEQ", "ID", "TASK", "QUEUE"}
	switch st {
	case inspect.Pending:
		header = append(header, "POSITION", "ENQUEUED AT", "AGE")
	case inspect.Running:
		header = append(header, "WORKER", "ATTEMPT", "STARTED AT", "PROGRESS")
	case inspect.Retrying:
		header = append(header, "ATTEMPT", "NEXT ATTEMPT AT", "LAST ERROR")
	case inspect.Scheduled:
		header = append(header, "RUN AT", "ENQUEUED AT")
	case inspect.Completed:
		header = append(header, "FINISHED AT", "ATTEMPTS", "DURATION", "RESULT", "ERROR")
	case inspect.Failed:
		header = append(header, "FINISHED AT", "REASON", "ERROR")
	}
	rows := make([][]string, len(ts))
	for i, t := range ts {
		r := []string{strconv.FormatUint(t.Seq, 10), t.ID, t.Task, t.Queue}
		switch st {
		case inspect.Pending:
			r = append(r, orDash(t.Position), timeOrDash(t.EnqueuedAt), human.Age(t.Age(now)))
		case inspect.Running:
			r = append(r, orNone(t.Worker), orDash(t.Attempt), timeOrDash(t.StartedAt), progressText(t))
		case inspect.Retrying:
			r = append(r, orDash(t.Attempt), timeOrDash(t.NextAttemptAt), orNone(shorten(t.LastError, 60)))
		case inspect.Scheduled:
			r = append(r, timeOrDash(t.RunAt), timeOrDash(t.EnqueuedAt))
		case inspect.Completed:
			r = append(r, timeOrDash(t.FinishedAt), orDash(t.Attempt), human.Wait(t.Duration), human.Bytes(t.ResultSize), orNone(shorten(t.Error, 60)))
		case inspect.Failed:
			r = append(r, timeOrDash(t.FinishedAt), orNone(string(t.Reason)), orNone(shorten(t.Error, 60)))
		}
		rows[i] = r
	}
	return header, rows
}

// orDash prints n, or "-" for an unknown zero: a table cell left empty
// would shift the columns a reader's eye follows.
func orDash[N int | uint64](n N) string {
	if n == 0 {
		return "-"
	}
	return strconv.FormatUint(uint64(n), 10)
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return formatTime(t)
}

func progressText(t inspect.TaskInfo) string {
	if t.Progress == nil {
		return "-"
	}
	return strings.TrimSpace(fmt.Sprintf("%.0f%% %s", t.Progress.Percent, t.Progress.Note))
}

// taskAction is one action on tasks in one state, the same for one task
// (`jetq task <use> <id>`) and for the tasks a filter selects
// (`jetq tasks <use> --task t`).
type taskAction struct {
	use     string
	aliases []string
	// verb says what the action does, with a %s for what it does it to;
	// done what became of a task it acted on.
	verb, done string
	state      inspect.State
	bulk       inspect.Action
	one        func(*inspect.Inspector, context.Context, inspect.Ref) error
	// needsSeq marks an action that takes no Ref without its Seq: without
	// --seq the command finds the task in the list of its state first.
	needsSeq bool
	// short and long, when set, describe `jetq task <use>` instead of the
	// text made from verb and state: an action on a task in any state.
	short, long string
}

var taskActions = []taskAction{
	{use: "rm", aliases: []string{"delete"}, verb: "delete %s", done: "deleted",
		state: inspect.Pending, bulk: inspect.ActionDelete, one: (*inspect.Inspector).Delete},
	{use: "run", verb: "run %s now", done: "sent to run now",
		state: inspect.Scheduled, bulk: inspect.ActionRunNow, one: (*inspect.Inspector).RunNow},
	{use: "cancel", verb: "cancel %s", done: "cancelled",
		state: inspect.Scheduled, bulk: inspect.ActionCancel, one: (*inspect.Inspector).Cancel,
		short: "Cancel a task, queued, delayed or running, so that it never runs or runs no further",
		long: "Cancel the task with this ID, whatever it waits for or does. A delayed task is withdrawn,\n" +
			"a queued one deleted from the work stream; a running one has its handler's ctx cancelled on\n" +
			"whichever worker runs it (context.Cause says tasks.ErrCancelled), and the error it returns\n" +
			"settles it as cancelled: not retried, not dead-lettered. Every worker keeps the cancel for\n" +
			"seven days and drops the task unrun if it comes again. A tracked task reads status cancelled.\n" +
			"An unknown ID, or a task that is done, dead-lettered or cancelled already, is refused and\n" +
			"nothing changes. --seq, the SEQ that `jetq tasks ls` shows, names the message meant and spares\n" +
			"the search for it.\n\n" +
			"`jetq tasks cancel` cancels the scheduled tasks a filter selects."},
	{use: "retry", verb: "retry %s now", done: "sent to retry now",
		state: inspect.Retrying, bulk: inspect.ActionRetry, one: (*inspect.Inspector).RetryNow, needsSeq: true},
}

// to is the action's verb applied to what.
func (a taskAction) to(what string) string { return fmt.Sprintf(a.verb, what) }

// newTaskAction is `jetq task <use> <id>`: the action on one task.
func newTaskAction(g *globals, a taskAction) *cobra.Command {
	var seq uint64
	cmd := &cobra.Command{
		Use:     a.use + " <task ID>",
		Aliases: a.aliases,
		Short:   cmp.Or(a.short, capitalize(a.to("a "+string(a.state)+" task"))),
		Long: cmp.Or(a.long, capitalize(a.to("the "+string(a.state)+" task with this ID"))+". A task that is no longer "+string(a.state)+"\n"+
			"(it ran, fired, was acted on or was never there) is refused with what became of it, and\n"+
			"nothing changes. --seq, the SEQ that `jetq tasks ls --state "+string(a.state)+"` shows, names the\n"+
			"message meant and spares the search for it."),
		Example: fmt.Sprintf("  jetq task %s welcome-7f3a\n  jetq task %s welcome-7f3a --seq 118", a.use, a.use),
		Args:    exactArgs("<task ID>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if strings.TrimSpace(id) == "" {
				return usagef("the task ID is empty")
			}
			return g.inspect(cmd, func(ctx context.Context, in *inspect.Inspector) error {
				ref := inspect.Ref{ID: id, Seq: seq}
				var err error
				if ref.Seq == 0 && a.needsSeq {
					ref.Seq, err = findSeq(ctx, in, a.state, id)
				}
				if err == nil {
					err = a.one(in, ctx, ref)
				}
				if err != nil {
					// The common refusal: the task ran, fired or was acted
					// on meanwhile. Say that nothing happened, and where to look.
					if errors.Is(err, inspect.ErrMovedOn) || errors.Is(err, inspect.ErrNotFound) {
						return fmt.Errorf("%s: %w; nothing changed (`jetq task show %s` tells where it is)", a.to(strconv.Quote(id)), err, id)
					}
					return fmt.Errorf("%s: %w", a.to(strconv.Quote(id)), err)
				}
				if g.json {
					return g.printJSON(map[string]any{"id": id, "action": a.bulk})
				}
				fmt.Fprintf(g.stdout, "task %s: %s\n", id, a.done)
				return nil
			})
		},
	}
	cmd.Flags().Uint64Var(&seq, "seq", 0, "the sequence of the task's message: the SEQ column of jetq tasks ls")
	return cmd
}

// findSeq returns the sequence of task id in the list of state, read a
// page of inspect.MaxLimit at a time for at most inspect.DefaultPageScan
// tasks; further back, --seq names it.
func findSeq(ctx context.Context, in *inspect.Inspector, state inspect.State, id string) (uint64, error) {
	q := inspect.Query{State: state, Limit: inspect.MaxLimit}
	for read := 0; read < inspect.DefaultPageScan; {
		p, err := in.Tasks(ctx, q)
		if err != nil {
			return 0, err
		}
		for _, t := range p.Tasks {
			if t.ID == id {
				return t.Seq, nil
			}
		}
		read += len(p.Tasks)
		if p.Next == "" {
			return 0, fmt.Errorf("no %s task has this ID: %w", state, inspect.ErrNotFound)
		}
		q.Token = p.Next
	}
	return 0, fmt.Errorf("not among the first %d %s tasks: %w; give its --seq, as `jetq tasks ls --state %s` shows it", inspect.DefaultPageScan, state, inspect.ErrNotFound, state)
}

// bulkJSON is what a bulk action prints under --json.
type bulkJSON struct {
	Action inspect.Action `json:"action"`
	// Counted is the count shown before the question; Done and MovedOn
	// split it into the tasks acted on and those that left the state
	// before their turn.
	Counted int `json:"counted"`
	Done    int `json:"done"`
	MovedOn int `json:"moved_on"`
	// More says the filter selected more tasks than one bulk covers
	// (inspect.MaxBulk): the same command again acts on the rest.
	More bool `json:"more"`
}

// newTasksBulk is `jetq tasks <use>`: the action on every task a filter
// selects, counted and confirmed first.
func newTasksBulk(g *globals, a taskAction) *cobra.Command {
	var qf queryFlags
	var all, yes bool
	cmd := &cobra.Command{
		Use:     a.use,
		Aliases: a.aliases,
		Short:   capitalize(a.to("every " + string(a.state) + " task the filter selects")),
		Long: a.use + " counts the " + string(a.state) + " tasks the filter flags select (or every one, with --all),\n" +
			"asks to " + a.to("that many") + ", and acts on the tasks counted and on no other: a task that\n" +
			"arrives after the count is left alone, and one that is no longer " + string(a.state) + " by its turn\n" +
			"is counted as moved on. It asks on a terminal; --yes confirms without asking, as a script must.",
		Example: fmt.Sprintf("  jetq tasks %s --task email.send --where customer.id=42\n  jetq tasks %s --queue default --since 2h --yes", a.use, a.use),
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if qf.empty() && !all {
				return usagef("tasks %s acts on every task it selects: give filter flags, or --all for every %s task", a.use, a.state)
			}
			q, err := qf.query(a.state)
			if err != nil {
				return err
			}
			return g.inspect(cmd, func(ctx context.Context, in *inspect.Inspector) error {
				b, err := in.PlanBulk(ctx, a.bulk, q)
				if err != nil {
					return err
				}
				what := qf.describe(a.state)
				if b.Count == 0 {
					if g.json {
						return g.printJSON(bulkJSON{Action: a.bulk})
					}
					fmt.Fprintf(g.stdout, "no %s: nothing done\n", what)
					return nil
				}
				// The count goes into the question: what is confirmed
				// is that many tasks, and ApplyBulk acts on no more.
				counted := fmt.Sprintf("%d %s", b.Count, what)
				if b.More {
					counted = fmt.Sprintf("the first %d %s (more match: one bulk covers %d)", b.Count, what, inspect.MaxBulk)
				}
				if !yes {
					if err := g.confirm(a.to(counted)+"?", "--yes"); err != nil {
						return err
					}
				}
				r, err := in.ApplyBulk(ctx, b)
				if err != nil {
					return fmt.Errorf("%s: %w%s", a.to(counted), err, doneBefore(r.Done, a.done))
				}
				if g.json {
					return g.printJSON(bulkJSON{Action: a.bulk, Counted: b.Count, Done: r.Done, MovedOn: r.MovedOn, More: b.More})
				}
				fmt.Fprintf(g.stdout, "%d of %d %s %s", r.Done, b.Count, what, a.done)
				if r.MovedOn > 0 {
					fmt.Fprintf(g.stdout, "; %d moved on before their turn and were left alone", r.MovedOn)
				}
				fmt.Fprintln(g.stdout)
				if b.More {
					fmt.Fprintf(g.stdout, "more tasks match than one bulk covers (%d): run it again for the rest\n", inspect.MaxBulk)
				}
				return nil
			})
		},
	}
	qf.register(cmd.Flags())
	cmd.Flags().BoolVar(&all, "all", false, "every "+string(a.state)+" task, when no filter flag is given")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "act without asking")
	return cmd
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
