package inspect_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/statusstore"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// finalRecord is the final status record of a task of a type with
// retention, as the worker writes it at the task's settlement: one write,
// with when its last attempt ran and its result's size.
func finalRecord(id, task string, state status.State, attempts int, started time.Time, took time.Duration, result []byte, errText string) status.Status {
	return status.Status{ID: id, Task: task, Queue: "default", State: state, Attempt: attempts, MaxAttempts: 5,
		EnqueuedAt: started.Add(-time.Second), StartedAt: started, FinishedAt: started.Add(took),
		Result: result, ResultSize: len(result), ContentType: "application/json", Error: errText}
}

// TestCompletedHistory lists the final records of a type with retention,
// written through the status store as the worker writes them: the tasks
// that succeeded, newest first, with their attempts, duration, error and
// result size; a record of a task that failed for good, expired or was
// cancelled is not listed as completed.
func TestCompletedHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, _, in := setupQueues(t)
	_, js := embeddedtest.Connect(t, srv)
	store, err := statusstore.New(js, topology.Topology{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, st := range []status.Status{
		finalRecord("r-1", "hist.report", status.Done, 1, at, 1500*time.Millisecond, []byte(`{"rows":12}`), ""),
		finalRecord("o-1", "hist.other", status.Done, 1, at, time.Second, nil, ""),
		finalRecord("r-2", "hist.report", status.DeadLettered, 3, at.Add(time.Minute), time.Second, nil, "upstream 503"),
		finalRecord("r-3", "hist.report", status.Done, 2, at.Add(2*time.Minute), 250*time.Millisecond, []byte(`{"rows":1234567}`), "first attempt: timeout"),
		finalRecord("r-4", "hist.report", status.Expired, 0, at.Add(3*time.Minute), 0, nil, ""),
		finalRecord("r-5", "hist.report", status.Cancelled, 0, at.Add(4*time.Minute), 0, nil, ""),
	} {
		if err := store.Final(ctx, st, time.Hour); err != nil {
			t.Fatal(err)
		}
	}

	p, err := in.Tasks(ctx, inspect.Query{State: inspect.Completed, Task: "hist.report"})
	if err != nil {
		t.Fatal(err)
	}
	want := []inspect.TaskInfo{
		{ID: "r-3", Task: "hist.report", Queue: "default", State: inspect.Completed, Attempt: 2, StartedAt: at.Add(2 * time.Minute),
			FinishedAt: at.Add(2*time.Minute + 250*time.Millisecond), Duration: 250 * time.Millisecond, ResultSize: 16, Error: "first attempt: timeout"},
		{ID: "r-1", Task: "hist.report", Queue: "default", State: inspect.Completed, Attempt: 1, StartedAt: at,
			FinishedAt: at.Add(1500 * time.Millisecond), Duration: 1500 * time.Millisecond, ResultSize: 11},
	}
	if len(p.Tasks) != len(want) {
		t.Fatalf("completed hist.report: got %v, want r-3, r-1", p.Tasks)
	}
	for i, w := range want {
		g := p.Tasks[i]
		g.EnqueuedAt = time.Time{}
		if g.ID != w.ID || g.Task != w.Task || g.Queue != w.Queue || g.State != w.State || g.Attempt != w.Attempt ||
			!g.StartedAt.Equal(w.StartedAt) || !g.FinishedAt.Equal(w.FinishedAt) || g.Duration != w.Duration ||
			g.ResultSize != w.ResultSize || g.Error != w.Error || g.Seq != 0 {
			t.Errorf("completed task %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	all, err := in.Tasks(ctx, inspect.Query{State: inspect.Completed})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := taskIDs(all.Tasks), []string{"r-3", "o-1", "r-1"}; !slices.Equal(got, want) {
		t.Errorf("completed, every type: got %v, want %v", got, want)
	}
	if all.Scanned != 6 || !strings.Contains(all.Note, "read 6 of 6 status records") {
		t.Errorf("completed, every type: scanned %d, note %q; want 6 read of 6", all.Scanned, all.Note)
	}
}

// TestCompletedNoteNamesTypesWithoutRetention: the completed list names
// the types live workers serve that keep no record of a success, and says
// how to make them keep one; a type with retention is not named.
func TestCompletedNoteNamesTypesWithoutRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, _, in := setupQueues(t)
	reg := tasks.NewRegistry()
	noop := func(context.Context, *tasks.Task[int]) error { return nil }
	tasks.MustHandle(reg, tasks.Define[int]("hist.plain"), noop)
	tasks.MustHandle(reg, tasks.Define[int]("hist.kept", tasks.WithRetention(time.Hour)), noop)
	runWorker(t, srv, reg, consumer.WithPresenceInterval(100*time.Millisecond))

	var note string
	waitFor(t, func() error {
		p, err := in.Tasks(ctx, inspect.Query{State: inspect.Completed})
		if err != nil {
			return err
		}
		if note = p.Note; !strings.Contains(note, "hist.plain") {
			return fmt.Errorf("note %q does not name hist.plain yet", note)
		}
		return nil
	})
	if !strings.Contains(note, "default/hist.plain") || !strings.Contains(note, "tasks.WithRetention") || strings.Contains(note, "hist.kept") {
		t.Errorf("note %q: want default/hist.plain named with tasks.WithRetention, and hist.kept not named", note)
	}
	p, err := in.Tasks(ctx, inspect.Query{State: inspect.Completed, Task: "hist.kept"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(p.Note, "hist.plain") {
		t.Errorf("note of hist.kept's list %q names another type", p.Note)
	}
}

func taskIDs(ts []inspect.TaskInfo) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}
