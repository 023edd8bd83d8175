package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetq/jetq/dlq"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/schedule"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// defaultScan is how many work-stream messages `task show` reads at most to
// find a task's message.
const defaultScan = 1000

// newTaskCmd is the task command: tasks found by their ID.
func newTaskCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "task",
		Short: "Find a task by its ID: its status, dead-letter records, queued message and schedule",
	}
	cmd.AddCommand(newTaskShow(g))
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

	records []dlq.Entry
}

// workView is a task message in the work stream.
type workView struct {
	Stream  string `json:"stream"`
	Seq     uint64 `json:"seq"`
	Subject string `json:"subject"`
	Task    string `json:"task"`
	Queue   string `json:"queue"`
	// State is "queued" (not delivered yet) or "running" (delivered to a
	// worker and not acknowledged: a handler has it, or it waits to be
	// delivered again).
	State    string      `json:"state"`
	StoredAt time.Time   `json:"stored_at"`
	Header   nats.Header `json:"header,omitempty"`
	Payload  any         `json:"payload,omitempty"`
}

// scheduledView is a delayed task not fired yet.
type scheduledView struct {
	Task  string    `json:"task"`
	Queue string    `json:"queue"`
	RunAt time.Time `json:"run_at"`
	Seq   uint64    `json:"seq"`
}

// found reports whether anything was found.
func (v *taskView) found() bool {
	return v.Status != nil || len(v.records) > 0 || v.Work != nil || v.Scheduled != nil
}

// taskName is the queue and name of the task, from whatever was found.
func (v *taskView) taskName() (queue, name string) {
	switch {
	case v.Status != nil && v.Status.Task != "":
		return v.Status.Queue, v.Status.Task
	case len(v.records) > 0:
		e := v.records[len(v.records)-1]
		return e.Queue, e.Task
	case v.Scheduled != nil:
		return v.Scheduled.Queue, v.Scheduled.Task
	}
	return "", ""
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
				v, err := g.findTask(ctx, js, names, id, scan)
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
				if !v.found() {
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

// findTask looks the task up everywhere; what cannot be looked at is noted.
func (g *globals) findTask(ctx context.Context, js jetstream.JetStream, names wire.Names, id string, scan int) (*taskView, error) {
	v := &taskView{ID: id, DeadLetters: []any{}}

	// The status record, without creating the bucket.
	if _, err := js.KeyValue(ctx, names.StatusBucket()); err == nil {
		tr, err := status.NewTracker(js, status.WithPrefix(g.prefix))
		if err != nil {
			return nil, usageError{err}
		}
		st, err := tr.Get(ctx, id)
		switch {
		case err == nil:
			v.Status = &st
		case !errors.Is(err, status.ErrNotFound):
			return nil, err
		}
	} else if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("status bucket %s: %w", names.StatusBucket(), err)
	}

	// The dead-letter records.
	in, err := dlq.NewInspector(js, dlq.WithPrefix(g.prefix))
	if err != nil {
		return nil, usageError{err}
	}
	if v.records, err = in.FindByTaskID(ctx, id); err != nil {
		return nil, err
	}
	for _, e := range v.records {
		v.DeadLetters = append(v.DeadLetters, entryJSON(e))
	}

	// The delayed task, without creating the schedule stream.
	if _, err := js.Stream(ctx, names.ScheduleStream()); err == nil {
		s, err := schedule.New(js, schedule.WithPrefix(g.prefix), schedule.WithLogger(quietLog()))
		if err != nil {
			return nil, usageError{err}
		}
		d, err := s.GetDelayed(ctx, id)
		switch {
		case err == nil:
			v.Scheduled = &scheduledView{Task: d.Task, Queue: d.Queue, RunAt: d.RunAt, Seq: d.Sequence}
		case !errors.Is(err, schedule.ErrNotScheduled):
			return nil, err
		}
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("stream %s: %w", names.ScheduleStream(), err)
	}

	// The work-stream message.
	if scan == 0 {
		v.Notes = append(v.Notes, "work stream not looked at (--scan 0)")
		return v, nil
	}
	work, err := js.Stream(ctx, names.WorkStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return v, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", names.WorkStream(), err)
	}
	subject := names.WorkSubjects()
	if q, n := v.taskName(); n != "" {
		subject = names.TaskSubject(q, n)
	}
	m, read, err := scanWork(ctx, work, subject, id, scan)
	if err != nil {
		return nil, err
	}
	if m == nil {
		if read >= scan {
			v.Notes = append(v.Notes, fmt.Sprintf("read the first %d messages on %s in %s without finding the task; "+
				"more follow: raise --scan to read further", read, subject, names.WorkStream()))
		}
		return v, nil
	}
	v.Work, err = workOf(ctx, js, names, m)
	return v, err
}

// scanWork reads the messages on subject in the work stream, oldest first,
// at most limit, until one carries the task ID id. It returns that message,
// or nil, and how many it read.
func scanWork(ctx context.Context, s jetstream.Stream, subject, id string, limit int) (*jetstream.RawStreamMsg, int, error) {
	stream := s.CachedInfo().Config.Name
	from := uint64(1)
	for read := 0; read < limit; read++ {
		m, err := s.GetMsg(ctx, from, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, read, nil // no more on subject
		}
		if err != nil {
			return nil, read, fmt.Errorf("read %s: %w", stream, err)
		}
		if wire.TaskID(tasks.Header(m.Header), stream, m.Sequence) == id {
			return m, read + 1, nil
		}
		from = m.Sequence + 1
	}
	return nil, limit, nil
}

// workOf describes a work-stream message; whether it was delivered is what
// its durable consumer delivered so far: the work stream keeps a message
// until it is acknowledged.
func workOf(ctx context.Context, js jetstream.JetStream, names wire.Names, m *jetstream.RawStreamMsg) (*workView, error) {
	w := &workView{Stream: names.WorkStream(), Seq: m.Sequence, Subject: m.Subject, State: "queued", StoredAt: m.Time, Header: m.Header}
	if p := jsonPayload(m.Header, m.Data); p != nil {
		w.Payload = p
	} else if len(m.Data) > 0 {
		w.Payload = m.Data
	}
	q, n, err := names.ParseTaskSubject(m.Subject)
	if err != nil {
		return w, nil
	}
	w.Queue, w.Task = q, n
	c, err := js.Consumer(ctx, names.WorkStream(), names.Durable(q, n))
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return w, nil // no worker ever ran this task: queued
	}
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", names.Durable(q, n), err)
	}
	if c.CachedInfo().Delivered.Stream >= m.Sequence {
		w.State = "running"
	}
	return w, nil
}

// printTask writes v for people.
func printTask(w io.Writer, v *taskView) {
	fmt.Fprintf(w, "task %s\n", v.ID)
	if q, n := v.taskName(); n != "" {
		fmt.Fprintf(w, "  %s on queue %s\n", n, q)
	} else if v.Work != nil && v.Work.Task != "" {
		fmt.Fprintf(w, "  %s on queue %s\n", v.Work.Task, v.Work.Queue)
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
		if p := st.Progress; p != nil {
			fmt.Fprintf(w, "  progress    %.0f%% %s\n", p.Percent, p.Note)
		}
	} else {
		fmt.Fprintln(w, "  none recorded (the definition may not track state: tasks.WithStateTracking)")
	}

	fmt.Fprintln(w, "\nwork stream")
	if m := v.Work; m != nil {
		fmt.Fprintf(w, "  %s        %s seq %d (%s)\n", m.State, m.Stream, m.Seq, m.Subject)
		printTime(w, "  stored at      ", m.StoredAt)
		fmt.Fprintln(w, "  payload")
		printPayload(w, rawPayload(m.Payload), "  ")
	} else {
		fmt.Fprintln(w, "  not queued or running")
	}

	fmt.Fprintln(w, "\nschedule")
	if d := v.Scheduled; d != nil {
		fmt.Fprintf(w, "  runs at     %s (schedule seq %d)\n", d.RunAt.Local().Format(time.RFC3339), d.Seq)
	} else {
		fmt.Fprintln(w, "  not scheduled")
	}

	fmt.Fprintln(w, "\ndead letters")
	if len(v.records) == 0 {
		fmt.Fprintln(w, "  none")
	}
	if len(v.records) > 1 {
		fmt.Fprintf(w, "  %d records (%s), oldest first\n", len(v.records), seqList(v.records))
	}
	for i, e := range v.records {
		if i > 0 {
			fmt.Fprintln(w)
		}
		printEntry(w, e, "  ")
	}
	for _, n := range v.Notes {
		fmt.Fprintf(w, "\nnote: %s\n", n)
	}
}

func printTime(w io.Writer, label string, t time.Time) {
	if !t.IsZero() {
		fmt.Fprintf(w, "%s%s\n", label, t.Local().Format(time.RFC3339))
	}
}

// rawPayload is the bytes of a workView payload.
func rawPayload(p any) []byte {
	switch p := p.(type) {
	case json.RawMessage:
		return p
	case []byte:
		return p
	}
	return nil
}
