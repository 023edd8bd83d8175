package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetq/jetq/inspect"
)

// pauseFlags are the scope flags of queues pause and queues resume.
type pauseFlags struct {
	task string
	all  bool
}

// scope is the scope the arguments and flags name.
func (f pauseFlags) scope(cmd *cobra.Command, args []string) (inspect.Scope, error) {
	switch {
	case f.all && (len(args) > 0 || f.task != ""):
		return inspect.Scope{}, usagef("--all takes no queue and no --task: it %ss every queue", cmd.Name())
	case f.all:
		return inspect.Scope{}, nil
	case len(args) != 1:
		return inspect.Scope{}, usagef("%s takes one argument, <queue>, or --all for every queue; got %d", cmd.CommandPath(), len(args))
	}
	return inspect.Scope{Queue: args[0], Task: f.task}, nil
}

func (f *pauseFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.task, "task", "", "one task type of the queue, not the whole queue")
	cmd.Flags().BoolVar(&f.all, "all", false, "every queue, also queues deployed later")
}

func newQueuesPauseCmd(g *globals) *cobra.Command {
	var (
		f     pauseFlags
		until string
	)
	cmd := &cobra.Command{
		Use:   "pause <queue> [--task <task>] [--until <when>] | --all",
		Short: "Pause a queue, one task type of it, or every queue, now or until a time",
		Long: "pause stops the tasks of a queue (or of one --task of it, or of every queue with --all)\n" +
			"from starting, until resumed or until --until. The server enforces it: workers are handed\n" +
			"none of the paused tasks, tasks stay queued, enqueues keep succeeding and running handlers\n" +
			"finish. The pause survives worker restarts and deploys, and a queue's pause (or --all)\n" +
			"also holds for task types deployed later. A task type is paused while any pause over it\n" +
			"lasts (its own, its queue's, every queue's). `jetq queues` shows PAUSED.\n\n" +
			"--until takes a clock time today in the local time zone (14:00, 14:00:30), an RFC 3339\n" +
			"time, or a duration from now (30m, 2h, 1d). A queue or task that no worker has served, or a\n" +
			"time that has passed, is refused and nothing changes.",
		Example: "  jetq queues pause default\n  jetq queues pause default --task email.send --until 14:00\n" +
			"  jetq queues pause bulk --until 2h\n  jetq queues pause --all",
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.scope(cmd, args)
			if err != nil {
				return err
			}
			end, err := parsePauseEnd(until, time.Now())
			if err != nil {
				return usagef("--until: %v", err)
			}
			return g.inspect(cmd, func(ctx context.Context, in *inspect.Inspector) error {
				if err := in.Pause(ctx, s, end); err != nil {
					return fmt.Errorf("pause %s: %w; nothing changed", s, err)
				}
				if g.json {
					return g.printJSON(map[string]any{"action": "pause", "scope": s, "until": jsonTime(end)})
				}
				if end.IsZero() {
					fmt.Fprintf(g.stdout, "paused %s until resumed\n", s)
				} else {
					fmt.Fprintf(g.stdout, "paused %s until %s\n", s, formatTime(end))
				}
				return nil
			})
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&until, "until", "", "when the pause ends: 14:00 (today, local time), an RFC 3339 time, or a duration like 2h (default: when resumed)")
	return cmd
}

func newQueuesResumeCmd(g *globals) *cobra.Command {
	var f pauseFlags
	cmd := &cobra.Command{
		Use:   "resume <queue> [--task <task>] | --all",
		Short: "Resume a paused queue, task type or every queue",
		Long: "resume ends the pause of a queue (or of one --task of it, or of every queue with --all)\n" +
			"and the pauses within it: resuming a queue also ends its task types' own pauses, --all\n" +
			"ends every pause. A wider pause holds on: a task type of a paused queue stays paused\n" +
			"when only the type is resumed. Waiting workers take the tasks at once. Resuming what is\n" +
			"not paused does nothing.",
		Example: "  jetq queues resume default\n  jetq queues resume default --task email.send\n  jetq queues resume --all",
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.scope(cmd, args)
			if err != nil {
				return err
			}
			return g.inspect(cmd, func(ctx context.Context, in *inspect.Inspector) error {
				if err := in.Resume(ctx, s); err != nil {
					return fmt.Errorf("resume %s: %w", s, err)
				}
				still, err := stillPaused(ctx, in, s)
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(map[string]any{"action": "resume", "scope": s, "still_paused_by": orEmpty(still)})
				}
				fmt.Fprintf(g.stdout, "resumed %s\n", s)
				for _, p := range still {
					end := "until resumed"
					if !p.Until.IsZero() {
						end = "until " + formatTime(p.Until)
					}
					fmt.Fprintf(g.stdout, "still paused: the pause of %s holds, %s\n", p.Scope, end)
				}
				return nil
			})
		},
	}
	f.register(cmd)
	return cmd
}

// stillPaused lists the pauses of wider scopes than s, which a resume of s
// leaves in force.
func stillPaused(ctx context.Context, in *inspect.Inspector, s inspect.Scope) ([]inspect.Pause, error) {
	ps, err := in.Pauses(ctx)
	if err != nil {
		return nil, err
	}
	var out []inspect.Pause
	for _, p := range ps {
		if p.Queue == "" && s.Queue != "" || p.Queue == s.Queue && p.Task == "" && s.Task != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// jsonTime is t for JSON, null when zero.
func jsonTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// parsePauseEnd reads --until at now: "" (until resumed, the zero time),
// a clock time today in the local time zone ("14:00", "14:00:30"), or what
// parseUntil reads (a duration from now, an RFC 3339 time). A time that
// has passed is returned as it is, for Pause to refuse.
func parsePauseEnd(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"15:04", "15:04:05"} {
		if c, err := time.ParseInLocation(layout, s, now.Location()); err == nil {
			y, m, d := now.Date()
			return time.Date(y, m, d, c.Hour(), c.Minute(), c.Second(), 0, now.Location()), nil
		}
	}
	t, err := parseUntil(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a clock time like 14:00, a duration like 2h nor an RFC 3339 time", s)
	}
	return t, nil
}
