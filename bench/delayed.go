package main

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// Delayed is the task of workload (s): its index, and when it is due.
type Delayed struct {
	Seq int   `json:"seq"`
	Due int64 `json:"due"` // Unix nanoseconds
}

var delayedTask = tasks.Define[Delayed]("bench.delayed")

const (
	// delayedGroups batches of delayedPerGroup tasks, the batch i due
	// i*delayedStep after its enqueue: 10 000 tasks, their delays spread
	// evenly over 0-10 s (the rows' note says so).
	delayedGroups   = 100
	delayedPerGroup = 100
	delayedStep     = 100 * time.Millisecond
)

// measureDelayed enqueues 10 000 tasks with delays spread evenly over 0-10 s
// and records how late the server's scheduler has each start, from the
// time it was due to the start of its handler. It counts the tasks that ran
// more than once and those that ran before their time, and fails unless
// every task ran. There is no raw side: one run, jetq's.
func measureDelayed(ctx context.Context) ([]row, error) {
	const label = "(s) delayed tasks: lateness"
	n := delayedGroups * delayedPerGroup
	rows := []row{
		{workload: label + ", p50", conn: inProcess.String(), unit: "ms", note: "10 000 tasks due over 0-10 s, concurrency 64"},
		{workload: label + ", p99", conn: inProcess.String(), unit: "ms"},
		{workload: label + ", max", conn: inProcess.String(), unit: "ms"},
	}
	runtime.GC()
	e, err := newEnv(ctx, inProcess)
	if err != nil {
		return rows, err
	}
	defer e.close()
	p, err := producer.New(e.js, producer.WithTopology(topology.Topology{Memory: true}), producer.WithLogger(quiet))
	if err != nil {
		return rows, err
	}
	if err := p.Provision(ctx); err != nil {
		return rows, err
	}

	// runs[i] counts the runs of task i; late[i] is its first run's
	// lateness, in nanoseconds.
	runs := make([]atomic.Int32, n)
	late := make([]int64, n)
	var ran, early atomic.Int64
	done := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, delayedTask, func(ctx context.Context, t *tasks.Task[Delayed]) error {
		now := time.Now().UnixNano()
		i := t.Payload.Seq
		if i < 0 || i >= n {
			return fmt.Errorf("task %s: index %d out of range", t.ID, i)
		}
		if runs[i].Add(1) != 1 {
			return nil
		}
		late[i] = now - t.Payload.Due
		if late[i] < 0 {
			early.Add(1)
		}
		if ran.Add(1) == int64(n) {
			close(done)
		}
		return nil
	})
	w, err := consumer.New(e.js, reg, consumer.WithConcurrency(64), consumer.WithTopology(topology.Topology{Memory: true}), consumer.WithLogger(quiet))
	if err != nil {
		return rows, err
	}
	wctx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(wctx) }()
	running := true
	defer func() {
		if running {
			cancel()
			<-stopped
		}
	}()
	// Let the consumer settle before measuring.
	time.Sleep(200 * time.Millisecond)

	batch := make([]Delayed, delayedPerGroup)
	for g := range delayedGroups {
		d := time.Duration(g) * delayedStep
		// Taken before the call, so the producer's due time, from its own
		// clock reading inside it, is never earlier than the payload's.
		due := time.Now().Add(d).UnixNano()
		for j := range batch {
			batch[j] = Delayed{Seq: g*delayedPerGroup + j, Due: due}
		}
		if _, err := producer.EnqueueBatch(ctx, p, delayedTask, batch, producer.WithDelay(d)); err != nil {
			return rows, fmt.Errorf("delayed run: batch %d: %w", g, err)
		}
	}
	select {
	case <-done:
	case <-time.After(delayedGroups*delayedStep + 30*time.Second):
		return rows, fmt.Errorf("delayed run: %d of %d tasks ran", ran.Load(), n)
	}
	// Room for a second run to show.
	time.Sleep(500 * time.Millisecond)
	cancel()
	running = false
	if err := <-stopped; err != nil {
		return rows, err
	}

	again := 0
	for i := range runs {
		if runs[i].Load() > 1 {
			again++
		}
	}
	slices.Sort(late)
	for i, ns := range []int64{late[n/2], late[n*99/100], late[n-1]} {
		rows[i].add(true, float64(ns)/float64(time.Millisecond))
	}
	rows[2].note = fmt.Sprintf("ran: %d, more than once: %d, before due: %d", ran.Load(), again, early.Load())
	return rows, nil
}
