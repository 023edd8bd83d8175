package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetq/jetq/internal/wire"
)

// queueRow is one task type as `jetq queues` shows it.
type queueRow struct {
	Task         string `json:"task"`
	Queue        string `json:"queue"`
	Pending      uint64 `json:"pending"`
	InFlight     int    `json:"in_flight"`
	Redelivered  int    `json:"redelivered"`
	Consumers    int    `json:"consumers"`
	DeadLettered uint64 `json:"dead_lettered"`
}

func newQueuesCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "queues",
		Short: "Show every task type: pending, in flight, redelivered, dead-lettered",
		Long: "queues lists each task type found on the work stream or the dead-letter stream:\n" +
			"tasks waiting (pending), delivered and not yet settled (in flight), delivered more\n" +
			"than once and not yet settled (redelivered), the consumers serving it (0: no worker\n" +
			"has ever served it) and records in the dead-letter stream.",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withJS(cmd, func(ctx context.Context, js jetstream.JetStream) error {
				rows, err := g.queueRows(ctx, js)
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(orEmpty(rows))
				}
				if len(rows) == 0 {
					fmt.Fprintf(g.stdout, "no tasks yet: no jetq streams with prefix %q on this server\n", g.prefix)
					return nil
				}
				out := make([][]string, len(rows))
				for i, r := range rows {
					out[i] = []string{r.Task, r.Queue, strconv.FormatUint(r.Pending, 10), strconv.Itoa(r.InFlight),
						strconv.Itoa(r.Redelivered), strconv.Itoa(r.Consumers), strconv.FormatUint(r.DeadLettered, 10)}
				}
				return g.table([]string{"TASK", "QUEUE", "PENDING", "IN FLIGHT", "REDELIVERED", "CONSUMERS", "DEAD-LETTERED"}, out)
			})
		},
	}
}

func (g *globals) queueRows(ctx context.Context, js jetstream.JetStream) ([]queueRow, error) {
	names, err := wire.NewNames(g.prefix)
	if err != nil {
		return nil, usageError{err}
	}
	rows := map[string]*queueRow{}
	row := func(queue, task string) *queueRow {
		k := queue + " " + task
		if rows[k] == nil {
			rows[k] = &queueRow{Task: task, Queue: queue}
		}
		return rows[k]
	}
	parse := func(subject, prefix string) (string, string, bool) {
		q, t, err := names.ParseTaskSubject(names.Prefix() + ".task." + subject[len(prefix):])
		return q, t, err == nil
	}

	work, err := js.Stream(ctx, names.WorkStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil // nothing was ever enqueued here (or --prefix is wrong)
	}
	if err != nil {
		return nil, err
	}
	// Tasks waiting with no consumer show only in the stream's subject counts.
	queued := map[string]uint64{}
	info, err := work.Info(ctx, jetstream.WithSubjectFilter(names.WorkSubjects()))
	if err != nil {
		return nil, err
	}
	taskPrefix := names.Prefix() + ".task."
	for subj, n := range info.State.Subjects {
		if q, t, ok := parse(subj, taskPrefix); ok {
			queued[q+" "+t] = n
			row(q, t)
		}
	}
	consumers := work.ListConsumers(ctx)
	for ci := range consumers.Info() {
		q, t, ok := parse(ci.Config.FilterSubject, taskPrefix)
		if !ok {
			continue
		}
		r := row(q, t)
		r.Consumers++
		r.Pending += ci.NumPending
		r.InFlight += ci.NumAckPending
		r.Redelivered += ci.NumRedelivered
	}
	if err := consumers.Err(); err != nil {
		return nil, err
	}
	for k, r := range rows {
		if r.Consumers == 0 {
			r.Pending = queued[k]
		}
	}

	dlq, err := js.Stream(ctx, names.DLQStream())
	if err == nil {
		info, err := dlq.Info(ctx, jetstream.WithSubjectFilter(names.DLQSubjects()))
		if err != nil {
			return nil, err
		}
		dlqPrefix := names.Prefix() + ".dlq."
		for subj, n := range info.State.Subjects {
			if q, t, ok := parse(subj, dlqPrefix); ok {
				row(q, t).DeadLettered = n
			}
		}
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, err
	}

	out := make([]queueRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b queueRow) int {
		if a.Queue != b.Queue {
			if a.Queue < b.Queue {
				return -1
			}
			return 1
		}
		if a.Task < b.Task {
			return -1
		}
		return 1
	})
	return out, nil
}
