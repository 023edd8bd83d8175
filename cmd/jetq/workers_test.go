package main

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

func TestWorkers(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	if code, out, _ := c.jetq("workers"); code != 0 || strings.TrimSpace(out) != "no live workers" {
		t.Errorf("workers with none: %d %q", code, out)
	}
	if code, out, _ := c.jetq("workers", "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("workers --json with none: %d %q", code, out)
	}
	def := tasks.Define[Email]("email.send")
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(context.Context, *tasks.Task[Email]) error { return nil })
	c.runWorker(reg, consumer.WithConcurrency(4), consumer.WithPresenceInterval(200*time.Millisecond))
	p, err := producer.New(c.js, producer.WithLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := producer.Enqueue(context.Background(), p, def, Email{To: "a@b"}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool {
		code, out, _ := c.jetq("workers", "--json")
		var ws []inspect.Worker
		return code == 0 && json.Unmarshal([]byte(out), &ws) == nil && len(ws) == 1 && ws[0].Succeeded == 2
	})
	code, out, _ := c.jetq("workers")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	host, _ := os.Hostname()
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(strings.Join(strings.Fields(lines[0]), " "), "ID HOST PID TASKS CONCURRENCY IN FLIGHT DONE FAILED DLQ STARTED LAST SEEN") ||
		!strings.Contains(lines[1], " "+host+" ") || !strings.Contains(lines[1], " "+strconv.Itoa(os.Getpid())+" ") ||
		!strings.Contains(strings.Join(strings.Fields(lines[1]), " "), "default/email.send 4 0 2 0 0") {
		t.Errorf("workers table: %d\n%s", code, out)
	}
}
