package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/human"
)

func newWorkersCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "workers",
		Short: "Show every live worker process: host, pid, task types, concurrency, in flight, done, failed",
		Long: "workers lists the live worker processes, oldest first, from the entries they keep in\n" +
			"the JETQ_WORKERS bucket: host and pid, the task types served, concurrency, deliveries in\n" +
			"flight (IN FLIGHT), tasks that succeeded (DONE), failed attempts (FAILED) and\n" +
			"dead-lettered tasks (DLQ) since the worker started, when it started and when it last\n" +
			"wrote its entry. A worker that stops deletes its entry; the entry of one that died\n" +
			"expires three presence intervals (6 s by default) after its last write.",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withJS(cmd, func(ctx context.Context, js jetstream.JetStream) error {
				in, err := g.inspector(js)
				if err != nil {
					return usageError{err}
				}
				ws, err := in.Workers(ctx)
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(orEmpty(ws))
				}
				if len(ws) == 0 {
					fmt.Fprintln(g.stdout, "no live workers")
					return nil
				}
				// One now for every row, so that the LAST SEEN ages compare.
				now := time.Now()
				table := make([][]string, len(ws))
				for i, w := range ws {
					table[i] = []string{w.ID, w.Host, strconv.Itoa(w.PID), taskTypes(w), strconv.Itoa(w.Concurrency),
						strconv.Itoa(w.InFlight), strconv.FormatUint(w.Succeeded, 10), strconv.FormatUint(w.Failed, 10),
						strconv.FormatUint(w.DeadLettered, 10), formatTime(w.StartedAt), human.Age(now.Sub(w.LastSeen)) + " ago"}
				}
				return g.table([]string{"ID", "HOST", "PID", "TASKS", "CONCURRENCY", "IN FLIGHT", "DONE", "FAILED", "DLQ", "STARTED", "LAST SEEN"}, table)
			})
		},
	}
}

// taskTypes is the TASKS cell: queue/task of each type served.
func taskTypes(w inspect.Worker) string {
	names := make([]string, len(w.Tasks))
	for i, t := range w.Tasks {
		names[i] = t.Queue + "/" + t.Task
	}
	return strings.Join(names, ",")
}
