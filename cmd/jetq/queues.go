package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/human"
)

// defaultWatch is the refresh interval of a bare --watch.
const defaultWatch = 2 * time.Second

func newQueuesCmd(g *globals) *cobra.Command {
	var watch time.Duration
	cmd := &cobra.Command{
		Use:   "queues",
		Short: "Show every task type: pending, running, held, retrying, scheduled, dead-lettered, cancelled, workers",
		Long: "queues lists each task type found on the work, dead-letter or schedule stream:\n" +
			"tasks waiting to be delivered (PENDING), run by a handler of a live worker (RUNNING),\n" +
			"delivered to a live worker that has no handler free for them yet — its prefetch — or is\n" +
			"settling them (HELD), not settled and held by no live worker — waiting out a retry\n" +
			"backoff, or delivered to a worker that is gone (RETRYING), delayed (SCHEDULED),\n" +
			"dead-lettered (DLQ), cancelled in the last 7 days (CANCELLED), how long the oldest pending task has waited (OLDEST), the live\n" +
			"workers serving it (WORKERS) and whether it is paused (`jetq queues pause`). Workers report what\n" +
			"they hold every 2 s; one that is gone stops counting within three reports.\n" +
			"`jetq queues limits` shows the rate limits and concurrency per key in use.\n\n" +
			"--watch refreshes every interval (default 2s) until interrupted.",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Each refresh reads every stream and consumer: faster than a
			// person reads a table only loads the server.
			if cmd.Flags().Changed("watch") && watch < 100*time.Millisecond {
				return usagef("--watch interval must be at least 100ms, got %v", watch)
			}
			return g.withJS(cmd, func(ctx context.Context, js jetstream.JetStream) error {
				in, err := g.inspector(js)
				if err != nil {
					return usageError{err}
				}
				if watch == 0 {
					return g.showQueues(ctx, in, g.stdout)
				}
				return g.watchQueues(ctx, in, watch)
			})
		},
	}
	cmd.Flags().DurationVarP(&watch, "watch", "w", 0, "refresh every interval until interrupted (bare --watch: 2s)")
	cmd.Flags().Lookup("watch").NoOptDefVal = defaultWatch.String()
	cmd.AddCommand(newQueuesPauseCmd(g), newQueuesResumeCmd(g), newQueuesLimitsCmd(g))
	return cmd
}

// showQueues prints the statistics once to out.
func (g *globals) showQueues(ctx context.Context, in *inspect.Inspector, out io.Writer) error {
	rows, err := in.Queues(ctx)
	if err != nil {
		return err
	}
	// A copy that prints to out: --watch builds each frame in a buffer and
	// writes it at once, so that the screen never shows half a table.
	gg := *g
	gg.stdout = out
	if g.json {
		return gg.printJSON(orEmpty(rows))
	}
	if len(rows) == 0 {
		fmt.Fprintf(out, "no tasks yet: no jetq streams with prefix %q on this server\n", g.prefix)
		return nil
	}
	table := make([][]string, len(rows))
	for i, r := range rows {
		table[i] = []string{r.Queue, r.Task, strconv.FormatUint(r.Pending, 10), strconv.Itoa(r.Running),
			strconv.Itoa(r.Held), retrying(r), strconv.Itoa(r.Scheduled), strconv.FormatUint(r.DeadLettered, 10),
			strconv.Itoa(r.Cancelled), human.Age(r.OldestPendingAge), strconv.Itoa(r.Workers), paused(r)}
	}
	return gg.table([]string{"QUEUE", "TASK", "PENDING", "RUNNING", "HELD", "RETRYING", "SCHEDULED", "DLQ", "CANCELLED", "OLDEST", "WORKERS", "PAUSED"}, table)
}

// watchQueues shows the statistics every interval until ctx ends (Ctrl-C):
// in place on a terminal, one table after another otherwise.
func (g *globals) watchQueues(ctx context.Context, in *inspect.Inspector, every time.Duration) error {
	tty := isTerminal(g.stdout)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		var buf bytes.Buffer
		if tty {
			buf.WriteString("\x1b[H\x1b[2J") // home, clear screen
		}
		fmt.Fprintf(&buf, "%s  every %v\n", time.Now().Format(time.TimeOnly), every)
		err := g.showQueues(ctx, in, &buf)
		if ctx.Err() != nil {
			return nil // an interrupt is how a watch ends, even mid-read
		}
		if err != nil {
			// The watch outlives a server briefly away (a restart, a
			// leader election): the error shows in place of the table.
			fmt.Fprintf(&buf, "error: %v\n", err)
		}
		if !tty {
			buf.WriteString("\n")
		}
		if _, err := g.stdout.Write(buf.Bytes()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// retrying is the RETRYING cell: the count, and when the next is due.
func retrying(r inspect.QueueStats) string {
	s := strconv.Itoa(r.WaitingToRetry)
	if r.WaitingToRetry > 0 && !r.NextAttemptAt.IsZero() {
		s += " (next in " + human.Age(time.Until(r.NextAttemptAt)) + ")"
	}
	return s
}

// paused is the PAUSED cell.
func paused(r inspect.QueueStats) string {
	if !r.Paused {
		return "-"
	}
	if r.PausedUntil.IsZero() {
		return "yes"
	}
	return "until " + formatTime(r.PausedUntil)
}
