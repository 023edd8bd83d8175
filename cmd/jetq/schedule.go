package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// delayedRow is one delayed task as `jetq scheduled ls` shows it.
type delayedRow struct {
	ID    string    `json:"id"`
	Task  string    `json:"task"`
	Queue string    `json:"queue"`
	RunAt time.Time `json:"run_at"`
	Seq   uint64    `json:"seq"`
}

// periodicRow is one periodic declaration as `jetq periodic ls` shows it.
type periodicRow struct {
	Name       string    `json:"name"`
	Schedule   string    `json:"schedule"`
	TimeZone   string    `json:"time_zone"`
	StaleAfter string    `json:"stale_after,omitempty"`
	Task       string    `json:"task"`
	Queue      string    `json:"queue"`
	Next       time.Time `json:"next"`
	DeclaredAt time.Time `json:"declared_at"`
}

// withSchedules runs fn with an Inspector, and none true when the server
// has no schedule stream for --prefix: then nothing was ever scheduled
// there, which the listings say. A bad name or option is a usage error.
func (g *globals) withSchedules(cmd *cobra.Command, fn func(ctx context.Context, in *inspect.Inspector, none bool) error) error {
	names, err := wire.NewNames(g.prefix)
	if err != nil {
		return usageError{err}
	}
	return g.withJS(cmd, func(ctx context.Context, js jetstream.JetStream) error {
		in, err := g.inspector(js)
		if err != nil {
			return usageError{err}
		}
		// Looked up only to tell a server where nothing was ever
		// scheduled (a --prefix mistyped?) from an empty schedule.
		_, err = js.Stream(ctx, names.ScheduleStream())
		if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return err
		}
		err = fn(ctx, in, err != nil)
		if isInvalid(err) {
			return usageError{err}
		}
		return err
	})
}

// scheduleStreamName is the schedule stream of --prefix, for messages.
func (g *globals) scheduleStreamName() string {
	names, err := wire.NewNames(g.prefix)
	if err != nil {
		return g.prefix
	}
	return names.ScheduleStream()
}

func newScheduledCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scheduled",
		Short: "List and cancel delayed tasks waiting to fire",
		Long: "scheduled works on the delayed tasks (enqueued with a delay or a run time) that the\n" +
			"server keeps in the schedule stream until they are due.",
	}
	cmd.AddCommand(newScheduledLs(g), newScheduledRm(g))
	return cmd
}

func newScheduledLs(g *globals) *cobra.Command {
	var limit int
	var page string
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List delayed tasks waiting to fire, in the order they were enqueued",
		Example: "  jetq scheduled ls --limit 20\n  jetq scheduled ls --limit 20 --page <token printed by the previous page>",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > inspect.MaxLimit {
				return usagef("--limit must be 1 to %d, got %d", inspect.MaxLimit, limit)
			}
			return g.withSchedules(cmd, func(ctx context.Context, in *inspect.Inspector, none bool) error {
				list, err := in.Tasks(ctx, inspect.Query{State: inspect.Scheduled, Limit: limit, Token: page})
				if err != nil {
					return err
				}
				rows := make([]delayedRow, len(list.Tasks))
				for i, d := range list.Tasks {
					rows[i] = delayedRow{ID: d.ID, Task: d.Task, Queue: d.Queue, RunAt: d.RunAt, Seq: d.Seq}
				}
				if g.json {
					return g.printJSON(rows)
				}
				if len(rows) == 0 {
					if none {
						fmt.Fprintf(g.stdout, "no delayed tasks: no stream %s on this server\n", g.scheduleStreamName())
					} else {
						fmt.Fprintln(g.stdout, "no delayed tasks waiting")
					}
					return nil
				}
				out := make([][]string, len(rows))
				for i, r := range rows {
					out[i] = []string{r.ID, r.Task, r.Queue, formatTime(r.RunAt), strconv.FormatUint(r.Seq, 10)}
				}
				if err := g.table([]string{"ID", "TASK", "QUEUE", "RUN AT", "SEQ"}, out); err != nil {
					return err
				}
				if list.Next != "" {
					fmt.Fprintf(g.stdout, "(more follow: --page %s)\n", list.Next)
				}
				return nil
			})
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", 100, "at most this many tasks")
	cmd.Flags().StringVar(&page, "page", "", "continue with the page whose token the previous listing printed")
	return cmd
}

func newScheduledRm(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm <id>...",
		Aliases: []string{"cancel"},
		Short:   "Cancel delayed tasks before they fire",
		Long: "rm withdraws delayed tasks by task ID so that they never run. It cancels as `jetq task\n" +
			"cancel` does: a task that fired already is cancelled where it is, queued or running. An\n" +
			"unknown ID, or a task done or cancelled already, is reported and changes nothing.",
		Example: "  jetq scheduled rm remind:ada remind:grace",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("rm needs the IDs of the delayed tasks to cancel")
			}
			return g.withSchedules(cmd, func(ctx context.Context, in *inspect.Inspector, none bool) error {
				return g.each(args, "cancelled", "task(s)", func(id string) error {
					return in.Cancel(ctx, inspect.Ref{ID: id})
				})
			})
		},
	}
}

func newPeriodicCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "periodic",
		Short: "List and remove periodic task declarations",
		Long: "periodic works on the periodic tasks declared with schedule.Declare, which the server\n" +
			"fires on their schedule.",
	}
	cmd.AddCommand(newPeriodicLs(g), newPeriodicRm(g))
	return cmd
}

func newPeriodicLs(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List periodic tasks and when each fires next, in the order declared",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withSchedules(cmd, func(ctx context.Context, in *inspect.Inspector, none bool) error {
				list, err := in.PeriodicTasks(ctx)
				if err != nil {
					return err
				}
				rows := make([]periodicRow, len(list))
				for i, p := range list {
					rows[i] = periodicRow{Name: p.Name, Schedule: p.Schedule, TimeZone: p.TimeZone,
						Task: p.Task, Queue: p.Queue, Next: p.Next, DeclaredAt: p.DeclaredAt}
					if p.StaleAfter > 0 {
						rows[i].StaleAfter = p.StaleAfter.String()
					}
				}
				if g.json {
					return g.printJSON(rows)
				}
				if len(rows) == 0 {
					if none {
						fmt.Fprintf(g.stdout, "no periodic tasks: no stream %s on this server\n", g.scheduleStreamName())
					} else {
						fmt.Fprintln(g.stdout, "no periodic tasks declared")
					}
					return nil
				}
				out := make([][]string, len(rows))
				for i, r := range rows {
					out[i] = []string{r.Name, r.Schedule, timeZone(r.Schedule, r.TimeZone), r.Task, r.Queue, formatTime(r.Next)}
				}
				return g.table([]string{"NAME", "SCHEDULE", "TIME ZONE", "TASK", "QUEUE", "NEXT"}, out)
			})
		},
	}
}

// timeZone is the TIME ZONE column: "" is UTC, and an interval has none.
func timeZone(spec, tz string) string {
	switch {
	case tz != "":
		return tz
	case strings.HasPrefix(spec, "@every"):
		return "-"
	default:
		return "UTC"
	}
}

func newPeriodicRm(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm <name>...",
		Aliases: []string{"delete"},
		Short:   "Remove periodic tasks: they fire no more",
		Long: "rm deletes periodic declarations by name. Ticks fired already still run, and a\n" +
			"process that declares the task again at start-up brings it back.",
		Example: "  jetq periodic rm reports.nightly",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("rm needs the names of the periodic tasks to remove")
			}
			for _, name := range args {
				// A name is part of a subject: one like ">" must not reach a purge.
				if err := tasks.ValidateName(name); err != nil {
					return usagef("periodic task name: %w", err)
				}
			}
			return g.withSchedules(cmd, func(ctx context.Context, in *inspect.Inspector, none bool) error {
				return g.each(args, "removed", "periodic task(s)", func(name string) error {
					return in.RemovePeriodic(ctx, name)
				})
			})
		},
	}
}

// each applies one to every argument in turn, stops at the first error and
// reports how many were done.
func (g *globals) each(args []string, done, what string, one func(string) error) error {
	n := 0
	for _, a := range args {
		// Stop at the first error: the rest likely share its cause (a
		// wrong --prefix, a server away), and the count says where to go on.
		if err := one(a); err != nil {
			return fmt.Errorf("%w%s", err, doneBefore(n, done))
		}
		n++
	}
	if g.json {
		return g.printJSON(map[string]int{done: n})
	}
	fmt.Fprintf(g.stdout, "%s %d %s\n", done, n, what)
	return nil
}
