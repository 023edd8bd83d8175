package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// queueRow is the part of a `jetq queues --json` row that earlier versions
// printed too, which scripts may read.
type queueRow struct {
	Task         string `json:"task"`
	Queue        string `json:"queue"`
	Pending      uint64 `json:"pending"`
	InFlight     int    `json:"in_flight"`
	Redelivered  int    `json:"redelivered"`
	Consumers    int    `json:"consumers"`
	DeadLettered uint64 `json:"dead_lettered"`
}

func TestQueuesRunningAndWatch(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	slow := tasks.Define[Email]("email.slow")
	release := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, slow, func(ctx context.Context, _ *tasks.Task[Email]) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	c.runWorker(reg, consumer.WithPresenceInterval(200*time.Millisecond))
	t.Cleanup(func() { close(release) }) // before the worker stops: it waits for its handlers
	p, err := producer.New(c.js, producer.WithLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := producer.Enqueue(context.Background(), p, slow, Email{To: "a@b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := producer.Enqueue(context.Background(), p, slow, Email{To: "c@d"}, producer.WithDelay(time.Hour)); err != nil {
		t.Fatal(err)
	}

	waitFor(t, func() bool {
		code, out, _ := c.jetq("queues", "--json")
		var rows []inspect.QueueStats
		return code == 0 && json.Unmarshal([]byte(out), &rows) == nil && len(rows) == 1 &&
			rows[0].Running == 1 && rows[0].Workers == 1 && rows[0].Scheduled == 1 && rows[0].WaitingToRetry == 0
	})
	code, out, _ := c.jetq("queues", "--json")
	for _, field := range []string{`"waiting_to_retry": 0`, `"oldest_pending_age": 0`, `"in_flight": 1`} {
		if code != 0 || !strings.Contains(out, field) {
			t.Errorf("queues --json lacks %s: %s", field, out)
		}
	}
	code, out, _ = c.jetq("queues")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "QUEUE TASK PENDING RUNNING HELD RETRYING SCHEDULED DLQ CANCELLED OLDEST WORKERS PAUSED" ||
		strings.Join(strings.Fields(lines[1]), " ") != "default email.slow 0 1 0 0 1 0 0 - 1 -" {
		t.Errorf("queues table: %d\n%s", code, out)
	}

	// --watch prints table after table to a pipe, and stops on interrupt.
	var wout, werr syncBuffer
	wctx, stop := context.WithCancel(context.Background())
	exited := make(chan int)
	go func() { exited <- run(wctx, []string{"--server", c.url, "queues", "--watch=100ms"}, &wout, &werr) }()
	waitFor(t, func() bool { return strings.Count(wout.String(), "QUEUE") >= 2 })
	stop()
	if code := <-exited; code != 0 || strings.Contains(wout.String(), "\x1b[") {
		t.Errorf("queues --watch: exit %d, %q, %s", code, wout.String(), werr.String())
	}
	if code, _, errOut := c.jetq("queues", "--watch=1ms"); code != exitUsage || !strings.Contains(errOut, "at least 100ms") {
		t.Errorf("queues --watch=1ms: %d %s", code, errOut)
	}
}

// TestQueuesHeldApartFromRunning gives a worker of concurrency 1 more
// tasks than it runs: RUNNING is its one handler, and the deliveries in its
// prefetch are HELD.
func TestQueuesHeldApartFromRunning(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	slow := tasks.Define[Email]("email.held")
	release := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, slow, func(ctx context.Context, _ *tasks.Task[Email]) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	p, err := producer.New(c.js, producer.WithLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := producer.Enqueue(context.Background(), p, slow, Email{To: "a@b"}); err != nil {
			t.Fatal(err)
		}
	}
	c.runWorker(reg, consumer.WithConcurrency(1), consumer.WithPrefetch(2), consumer.WithPresenceInterval(200*time.Millisecond))
	t.Cleanup(func() { close(release) }) // before the worker's stop

	// Until the table and the JSON agree on a steady state: the prefetch
	// fills in the meantime.
	var last string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last read:\n%s", last)
		}
	})
	waitFor(t, func() bool {
		code, table, _ := c.jetq("queues")
		jcode, out, _ := c.jetq("queues", "--json")
		last = table + out
		lines := strings.Split(strings.TrimSpace(table), "\n")
		var rows []inspect.QueueStats
		if code != 0 || jcode != 0 || len(lines) != 2 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 {
			return false
		}
		// QUEUE TASK PENDING RUNNING HELD RETRYING ...
		row, r := strings.Fields(lines[1]), rows[0]
		return len(row) == 12 && row[3] == "1" && row[4] == strconv.Itoa(r.Held) && row[5] == "0" &&
			r.Running == 1 && r.Held == r.InFlight-1 && r.WaitingToRetry == 0
	})
}
