package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
)

// defaultScan is how many work-stream messages `task show` reads at most to
// find a task's message.
const defaultScan = inspect.DefaultScan

// newTaskCmd is the task command: tasks found by their ID.
func newTaskCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "task",
		Short: "Find a task by its ID, and delete, run, cancel or retry it",
	}
	cmd.AddCommand(newTaskShow(g))
	for _, a := range taskActions {
		cmd.AddCommand(newTaskAction(g, a))
	}
	return cmd
}

// taskView is everything `task show` found about one task.
type taskView struct {
	ID string `json:"id"`
	// Status is the status record of a tracked task.
	Status *status.Status `json:"status"`
	// DeadLetters are its dead-letter records, oldest first.
	DeadLetters []any `json:"dead_letters"`
	// Work is its message in the work stream, while it is queued or running.
	Work *workView `json:"work"`
	// Scheduled is the delayed task waiting for its time.
	Scheduled *scheduledView `json:"scheduled"`
	// Notes say what could not be looked at, or only in part.
	Notes []string `json:"notes,omitempty"`

	found inspect.Lookup
}

// workView is a task message in the work stream, its payload printed as
// JSON when it is JSON.
type workView struct {
	inspect.Work
	Payload any `json:"payload,omitempty"`
}

// scheduledView is a delayed task not fired yet.
type scheduledView struct {
	Task  string    `json:"task"`
	Queue string    `json:"queue"`
	RunAt time.Time `json:"run_at"`
	Seq   uint64    `json:"seq"`
}

func newTaskShow(g *globals) *cobra.Command {
	var scan int
	cmd := &cobra.Command{
		Use:   "show <task ID>",
		Short: "Show where a task is: its status, dead-letter records, queued message and schedule",
		Long: "show merges what the server knows of one task ID: the status record of a tracked task\n" +
			"(tasks.WithStateTracking), its dead-letter records (several when it failed again after a\n" +
			"replay), its message in the work stream while it is queued or running, and the delayed\n" +
			"task still waiting for its time. It creates nothing on the server.\n\n" +
			"The server tells only whether the work-stream message was delivered: its state is queued,\n" +
			"running or waiting_to_retry as the task's status says, and delivered when no status tells\n" +
			"more. Progress shows while the task runs; a task not done shows the last progress of the\n" +
			"attempt that ended, labelled so, and a task done none.\n\n" +
			"The work stream is not indexed by task ID: show reads its messages, on the task's subject\n" +
			"when the status record, a dead-letter record or the schedule names the task, and on every\n" +
			"task subject otherwise, oldest first, at most --scan of them; a message beyond them is\n" +
			"reported as not looked at.\n\n" +
			"With --json it prints one object: id, status, dead_letters, work, scheduled (null or empty\n" +
			"when there is none) and notes; JSON payloads print as JSON.",
		Example: "  jetq task show welcome-7f3a\n  jetq task show welcome-7f3a --json --scan 100000",
		Args:    exactArgs("<task ID>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if scan < 0 {
				return usagef("--scan must not be negative, got %d", scan)
			}
			id := args[0]
			if strings.TrimSpace(id) == "" {
				return usagef("the task ID is empty")
			}
			names, err := wire.NewNames(g.prefix)
			if err != nil {
				return usageError{err}
			}
			return g.withJS(cmd, func(ctx context.Context, js jetstream.JetStream) error {
				v, err := g.findTask(ctx, js, id, scan)
				if err != nil {
					return err
				}
				if g.json {
					if err := g.printJSON(v); err != nil {
						return err
					}
				} else {
					printTask(g.stdout, v)
				}
				// What was looked at is printed before the error, so that
				// --json gives a script the same object either way, and the
				// exit code says whether anything was found.
				if !v.found.Found() {
					return fmt.Errorf("task %q: nothing found: no status record (is its definition tracked, with tasks.WithStateTracking?), "+
						"no dead-letter record, no message in %s, nothing scheduled; check the ID and --prefix", id, names.WorkStream())
				}
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&scan, "scan", defaultScan, "read at most this many work-stream messages to find the task's message (0: skip the work stream)")
	return cmd
}

// findTask looks the task up everywhere with inspect.Inspector.Find; what cannot
// be looked at is noted.
func (g *globals) findTask(ctx context.Context, js jetstream.JetStream, id string, scan int) (*taskView, error) {
	// Every dead-letter record: show promises all of a task's records, and
	// a replayed task's may lie anywhere in the stream.
	f, err := g.inspector(js, inspect.WithScan(scan), inspect.WithDeadLetterScan(-1))
	if err != nil {
		return nil, usageError{err}
	}
	r, err := f.Find(ctx, id)
	if err != nil {
		return nil, err
	}
	if scan == 0 {
		r.Notes = []string{"work stream not looked at (--scan 0)"}
	}
	v := &taskView{ID: id, Status: r.Status, DeadLetters: []any{}, Notes: r.Notes, found: r}
	for _, e := range r.DeadLetters {
		v.DeadLetters = append(v.DeadLetters, entryJSON(e))
	}
	if d := r.Scheduled; d != nil {
		v.Scheduled = &scheduledView{Task: d.Task, Queue: d.Queue, RunAt: d.RunAt, Seq: d.Seq}
	}
	if m := r.Work; m != nil {
		v.Work = &workView{Work: *m}
		if p := jsonPayload(m.Header, m.Payload); p != nil {
			v.Work.Payload = p
		} else if len(m.Payload) > 0 {
			v.Work.Payload = m.Payload
		}
	}
	return v, nil
}

// printTask writes v for people.
func printTask(w io.Writer, v *taskView) {
	fmt.Fprintf(w, "task %s\n", v.ID)
	if q, n := v.found.Task(); n != "" {
		fmt.Fprintf(w, "  %s on queue %s\n", n, q)
	}

	fmt.Fprintln(w, "\nstatus")
	if st := v.Status; st != nil {
		fmt.Fprintf(w, "  state       %s\n  attempt     %d of %d\n", st.State, st.Attempt, st.MaxAttempts)
		printTime(w, "  enqueued at ", st.EnqueuedAt)
		printTime(w, "  updated at  ", st.UpdatedAt)
		printTime(w, "  next try at ", st.NextAttemptAt)
		printTime(w, "  run at      ", st.RunAt)
		printTime(w, "  deadline    ", st.Deadline)
		if st.Reason != "" {
			fmt.Fprintf(w, "  reason      %s\n", st.Reason)
		}
		if st.Error != "" {
			fmt.Fprintf(w, "  error       %s\n", st.Error)
		}
		printProgress(w, st)
	} else {
		fmt.Fprintln(w, "  none recorded (the definition may not track state: tasks.WithStateTracking)")
	}

	fmt.Fprintln(w, "\nwork stream")
	if m := v.Work; m != nil {
		fmt.Fprintf(w, "  %s        %s seq %d (%s)\n", m.State, m.Stream, m.Seq, m.Subject)
		printTime(w, "  stored at      ", m.StoredAt)
		fmt.Fprintln(w, "  payload")
		printPayload(w, m.Work.Payload, "  ")
	} else {
		fmt.Fprintln(w, "  not queued or running")
	}

	fmt.Fprintln(w, "\nschedule")
	if d := v.Scheduled; d != nil {
		fmt.Fprintf(w, "  runs at     %s (schedule seq %d)\n", formatTime(d.RunAt), d.Seq)
	} else {
		fmt.Fprintln(w, "  not scheduled")
	}

	fmt.Fprintln(w, "\ndead letters")
	if len(v.found.DeadLetters) == 0 {
		fmt.Fprintln(w, "  none")
	}
	if len(v.found.DeadLetters) > 1 {
		fmt.Fprintf(w, "  %d records (%s), oldest first\n", len(v.found.DeadLetters), seqList(v.found.DeadLetters))
	}
	for i, e := range v.found.DeadLetters {
		if i > 0 {
			fmt.Fprintln(w)
		}
		printEntry(w, e, "  ")
	}
	for _, n := range v.Notes {
		fmt.Fprintf(w, "\nnote: %s\n", n)
	}
}

// printProgress writes the progress of a running task, and the last
// progress of an attempt that ended for a task not done: the record keeps
// it after the attempt, and "99% working" on a task done would mislead.
func printProgress(w io.Writer, st *status.Status) {
	p := st.Progress
	if p == nil || st.State == status.Done {
		return
	}
	text := strings.TrimSpace(fmt.Sprintf("%.0f%% %s", p.Percent, p.Note))
	if st.State == status.Running {
		fmt.Fprintf(w, "  progress    %s\n", text)
		return
	}
	fmt.Fprintf(w, "  last progress %s (attempt %d, when it ended)\n", text, st.Attempt)
}

func printTime(w io.Writer, label string, t time.Time) {
	if !t.IsZero() {
		fmt.Fprintf(w, "%s%s\n", label, formatTime(t))
	}
}
