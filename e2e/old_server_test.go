package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/schedule"
	"github.com/jetq/jetq/tasks"
)

// TestOlderServerRunsTasksAndRefusesSchedules runs jetq on nats-server 2.11,
// which has no message scheduler and no atomic batches: immediate, unique
// and expiring tasks work, and what needs schedules or groups says which
// server it needs.
func TestOlderServerRunsTasksAndRefusesSchedules(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := testkit.NATSServer(t, testkit.OldServerVersion)
	port := freePorts(t, 1)[0]
	startProc(t, dir, "nats-old", bin, "-js", "-sd", filepath.Join(dir, "store"), "-a", "127.0.0.1", "-p", fmt.Sprint(port))
	var nc *nats.Conn
	testkit.WaitFor(t, 10*time.Second, func() (err error) {
		nc, err = nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port))
		return err
	})
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("server %s", nc.ConnectedServerVersion())

	def := tasks.Define[int]("old.server", tasks.WithExpiry(time.Hour))
	done := make(chan string, 4)
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[int]) error {
		done <- tk.ID
		return nil
	})
	// Without schedules a snooze is a retry after its delay: it spends an attempt.
	snoozy := tasks.Define[int]("old.snooze")
	snoozed := make(chan int, 4)
	tasks.MustHandle(reg, snoozy, func(ctx context.Context, tk *tasks.Task[int]) error {
		snoozed <- tk.Attempt
		if tk.Attempt == 1 {
			return tasks.Snooze(100 * time.Millisecond)
		}
		return nil
	})
	w, err := consumer.New(js, reg, consumer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = w.Run(ctx) }()
	defer w.Shutdown(ctx) //nolint:errcheck

	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = producer.Enqueue(ctx, p, def, 1, producer.WithDelay(time.Second))
	if !errors.Is(err, producer.ErrUnsupported) || !strings.Contains(err.Error(), "nats-server 2.14") {
		t.Errorf("delayed task: got %v, want ErrUnsupported naming nats-server 2.14", err)
	}
	_, err = producer.Enqueue(ctx, p, def, 1, producer.WithDebounce("k", time.Second))
	if !errors.Is(err, producer.ErrUnsupported) || !strings.Contains(err.Error(), "nats-server 2.14") {
		t.Errorf("debounced task: got %v, want ErrUnsupported naming nats-server 2.14", err)
	}
	if _, err := producer.Enqueue(ctx, p, snoozy, 1); err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 2; want++ {
		select {
		case got := <-snoozed:
			if got != want {
				t.Errorf("snoozed task: run %d was attempt %d", want, got)
			}
		case <-ctx.Done():
			t.Fatalf("snoozed task: run %d never came", want)
		}
	}
	g := producer.NewGroup()
	producer.Add(g, def, 4)
	if _, err := producer.EnqueueGroup(ctx, p, g); !errors.Is(err, producer.ErrUnsupported) || !strings.Contains(err.Error(), "nats-server 2.12") {
		t.Errorf("group: got %v, want ErrUnsupported naming nats-server 2.12", err)
	}
	r, err := producer.Enqueue(ctx, p, def, 2, producer.WithUnique("k", time.Minute))
	if err != nil {
		t.Fatalf("unique task: %v", err)
	}
	select {
	case id := <-done:
		if id != r.ID {
			t.Errorf("ran %s, want %s", id, r.ID)
		}
	case <-ctx.Done():
		t.Fatal("the task never ran")
	}

	s, err := schedule.New(js, schedule.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	in, err := inspect.New(js, inspect.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Tasks(ctx, inspect.Query{State: inspect.Scheduled}); !errors.Is(err, inspect.ErrUnsupported) || !strings.Contains(err.Error(), "nats-server 2.14") {
		t.Errorf("Tasks(Scheduled): got %v, want ErrUnsupported naming nats-server 2.14", err)
	}
	err = schedule.Declare(ctx, s, def, schedule.Periodic{Name: "tick", Schedule: "@every 1s"}, 3)
	if !errors.Is(err, schedule.ErrUnsupported) {
		t.Errorf("Declare: got %v, want ErrUnsupported", err)
	}
}
