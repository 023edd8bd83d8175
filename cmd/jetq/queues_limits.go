package main

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/human"
	"github.com/jetq/jetq/tasks"
)

func newQueuesLimitsCmd(g *globals) *cobra.Command {
	var task string
	cmd := &cobra.Command{
		Use:   "limits [<queue>] [--task <task>]",
		Short: "Show the rate limits and concurrency per key in use, and what waits on them",
		Long: "limits lists each task type with a rate limit or a concurrency per key, one line a limit:\n" +
			"the limit (LIMIT), what of it is in use now (IN USE: the starts granted in the current\n" +
			"window, or the tasks running), the tasks waiting on it (WAITING: of a type's rate limit,\n" +
			"the tasks queued on the server; of a key rate limit, the tasks workers hold for their\n" +
			"key's window), when the window ends (WINDOW), the keys that started in the window or run\n" +
			"(KEYS) and the busiest of them (TOP, at most 10). The limits are the live workers'\n" +
			"definition, from their presence entries; the counts are the server's: the counters of\n" +
			"stream JETQ_RATES and the places of bucket JETQ_KEYSLOTS.\n\n" +
			"A queue (or --task of it) that no live worker serves is refused.",
		Example: "  jetq queues limits\n  jetq queues limits tenants\n  jetq queues limits default --task email.send --json",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if task != "" && len(args) == 0 {
				return usagef("--task %q needs its queue: jetq queues limits <queue> --task %s", task, task)
			}
			return g.inspect(cmd, func(ctx context.Context, in *inspect.Inspector) error {
				ls, err := limitsOf(ctx, in, args, task)
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(orEmpty(ls))
				}
				if len(ls) == 0 {
					fmt.Fprintln(g.stdout, "no live worker serves a task type with a rate limit or a concurrency per key")
					return nil
				}
				return g.table([]string{"QUEUE", "TASK", "LIMIT", "IN USE", "WAITING", "WINDOW", "KEYS", "TOP"}, limitRows(ls, time.Now()))
			})
		},
	}
	cmd.Flags().StringVar(&task, "task", "", "one task type of the queue")
	return cmd
}

// limitsOf reads the limits the arguments name: every type's, a queue's,
// or one type's.
func limitsOf(ctx context.Context, in *inspect.Inspector, args []string, task string) ([]inspect.Limits, error) {
	switch {
	case task != "":
		l, err := in.Limit(ctx, args[0], task)
		if err != nil {
			return nil, err
		}
		return []inspect.Limits{l}, nil
	case len(args) == 0:
		return in.Limits(ctx)
	}
	queue := args[0]
	if err := tasks.ValidateQueue(queue); err != nil {
		return nil, usageError{err}
	}
	all, err := in.Limits(ctx)
	if err != nil {
		return nil, err
	}
	var ls []inspect.Limits
	for _, l := range all {
		if l.Queue == queue {
			ls = append(ls, l)
		}
	}
	if len(ls) == 0 {
		ws, err := in.Workers(ctx)
		if err != nil {
			return nil, err
		}
		for _, w := range ws {
			for _, t := range w.Tasks {
				if t.Queue == queue {
					return nil, nil // served, without limits
				}
			}
		}
		return nil, fmt.Errorf("%w: no live worker serves queue %q (jetq workers lists what they serve)", inspect.ErrNotFound, queue)
	}
	return ls, nil
}

// limitRows are the table's lines: one a limit of each type.
func limitRows(ls []inspect.Limits, now time.Time) [][]string {
	var rows [][]string
	window := func(end time.Time) string { return "ends in " + human.Age(end.Sub(now)) }
	for _, l := range ls {
		if r := l.Rate; r != nil {
			rows = append(rows, []string{l.Queue, l.Task, r.Limit.String(),
				strconv.Itoa(r.Used) + " started", strconv.FormatUint(r.Waiting, 10), window(r.WindowEnd), "-", "-"})
		}
		if r := l.KeyRate; r != nil {
			keys := strconv.Itoa(r.Keys)
			if r.Partial {
				keys += "+"
			}
			rows = append(rows, []string{l.Queue, l.Task, r.Limit.String() + " a key",
				strconv.Itoa(r.Used) + " started", strconv.Itoa(r.Waiting), window(r.WindowEnd), keys, topKeys(r.Top)})
		}
		if c := l.KeyConcurrency; c != nil {
			keys := strconv.Itoa(c.Keys)
			if c.Partial {
				keys += "+"
			}
			rows = append(rows, []string{l.Queue, l.Task, strconv.Itoa(c.Limit) + " running a key",
				strconv.Itoa(c.Running) + " running", "-", "-", keys, topKeys(c.Top)})
		}
		if l.Rate == nil && l.KeyRate == nil && l.KeyConcurrency == nil {
			rows = append(rows, []string{l.Queue, l.Task, "none", "-", "-", "-", "-", "-"})
		}
	}
	return rows
}

// topKeys is the TOP cell: "acme=2 bolt=1", "-" for none.
func topKeys(top []inspect.KeyCount) string { return cmp.Or(inspect.FormatKeys(top), "-") }
