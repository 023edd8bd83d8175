package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// TestQueuesLimits runs a worker with a type limited to 2 starts an hour
// and 5 tasks, and a type limited to one running task per key whose
// handlers block, with tasks of two keys: `jetq queues limits` prints a
// line per limit with what the inspector reads, and refuses what no
// worker serves.
func TestQueuesLimits(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	rated := tasks.Define[Order]("order.sync", tasks.WithRateLimit(2, time.Hour))
	placed := tasks.Define[Order]("order.import", tasks.WithQueue("tenants"), tasks.WithKeyConcurrency(1))
	jetqtest.HoldNextWindow(t, c.js, rated.Spec(), 2, nil) // a window that ends meanwhile leaves the same to read
	release := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, rated, func(context.Context, *tasks.Task[Order]) error { return nil })
	tasks.MustHandle(reg, placed, func(ctx context.Context, _ *tasks.Task[Order]) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	c.runWorker(reg, consumer.WithConcurrency(4), consumer.WithPresenceInterval(200*time.Millisecond))
	t.Cleanup(func() { close(release) }) // before the worker stops
	enqueue := c.enqueuer()
	for _, id := range []string{"s-1", "s-2", "s-3", "s-4", "s-5"} {
		enqueue(rated, id, order(1, ""))
	}
	enqueue(placed, "i-1", order(1, ""), producer.WithKey("acme"))
	enqueue(placed, "i-2", order(1, ""), producer.WithKey("acme"))
	enqueue(placed, "i-3", order(1, ""), producer.WithKey("big co"))

	var ls []inspect.Limits
	waitFor(t, func() bool {
		code, out, _ := c.jetq("queues", "limits", "--json")
		return code == 0 && json.Unmarshal([]byte(out), &ls) == nil && len(ls) == 2 &&
			ls[0].Rate != nil && ls[0].Rate.Used == 2 && ls[0].Rate.Waiting == 3 &&
			ls[1].KeyConcurrency != nil && ls[1].KeyConcurrency.Running == 2
	})
	code, out, errOut := c.jetq("queues", "limits")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	fields := func(i int) string { return strings.Join(strings.Fields(lines[i]), " ") }
	if code != 0 || len(lines) != 3 || fields(0) != "QUEUE TASK LIMIT IN USE WAITING WINDOW KEYS TOP" ||
		!strings.HasPrefix(fields(1), "default order.sync 2/1h0m0s 2 started 3 ends in ") || !strings.HasSuffix(fields(1), " - -") ||
		fields(2) != `tenants order.import 1 running a key 2 running - - 2 acme=1 "big co"=1` {
		t.Errorf("queues limits: exit %d, %q\n%s", code, errOut, out)
	}
	code, out, _ = c.jetq("queues", "limits", "tenants")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[1], "tenants") {
		t.Errorf("queues limits tenants: exit %d\n%s", code, out)
	}
	code, out, _ = c.jetq("queues", "limits", "default", "--task", "order.sync", "--json")
	var one []inspect.Limits
	if code != 0 || json.Unmarshal([]byte(out), &one) != nil || len(one) != 1 || one[0].Rate == nil || one[0].Rate.Used != 2 || one[0].KeyConcurrency != nil {
		t.Errorf("queues limits default --task order.sync --json: exit %d\n%s", code, out)
	}

	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"queues", "limits", "nowhere"}, exitError, `no live worker serves queue "nowhere"`},
		{[]string{"queues", "limits", "default", "--task", "order.none"}, exitError, `no live worker serves task "order.none"`},
		{[]string{"queues", "limits", "Bad Queue"}, exitUsage, "queue name"},
		{[]string{"queues", "limits", "--task", "order.sync"}, exitUsage, "needs its queue"},
		{[]string{"queues", "limits", "a", "b"}, exitUsage, "accepts at most 1 arg"},
	} {
		if code, _, errOut := c.jetq(tc.args...); code != tc.code || !strings.Contains(errOut, tc.says) {
			t.Errorf("jetq %v: exit %d, %q; want %d saying %q", tc.args, code, errOut, tc.code, tc.says)
		}
	}
}
