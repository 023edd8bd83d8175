package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

func newEnqueueCmd(g *globals) *cobra.Command {
	var queue, id string
	var headers []string
	var force bool
	cmd := &cobra.Command{
		Use:   "enqueue <task> <json>",
		Short: "Enqueue one task by hand",
		Long: "enqueue publishes one task with a JSON payload, as a producer would. It refuses a task\n" +
			"no worker has ever served on that queue (no consumer exists for it) unless --force is given.",
		Example: `  jetq enqueue email.send '{"recipient":"ada@example.com","content":"hi"}'
  jetq enqueue report.build '{"month":"2026-10"}' --queue reports --id report:2026-10`,
		Args: exactArgs("<task>", "<json>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := tasks.New[json.RawMessage](args[0], tasks.WithQueue(queue))
			if err != nil {
				return usageError{err}
			}
			if !json.Valid([]byte(args[1])) {
				return usagef("payload is not valid JSON: %s", args[1])
			}
			var opts []producer.EnqueueOption
			if id != "" {
				opts = append(opts, producer.WithID(id))
			}
			for _, h := range headers {
				k, v, ok := strings.Cut(h, "=")
				if !ok {
					return usagef("--header %q: want name=value", h)
				}
				opts = append(opts, producer.WithHeader(k, v))
			}
			return g.withJS(cmd, func(ctx context.Context, js jetstream.JetStream) error {
				if !force {
					if err := g.checkServed(ctx, js, def.Spec()); err != nil {
						return err
					}
				}
				p, err := producer.New(js, producer.WithPrefix(g.prefix), producer.WithLogger(quietLog()))
				if err != nil {
					return err
				}
				r, err := producer.Enqueue(ctx, p, def, json.RawMessage(args[1]), opts...)
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(r)
				}
				state := "enqueued"
				if r.Duplicate {
					state = "duplicate of a task already enqueued; dropped"
				}
				fmt.Fprintf(g.stdout, "%s on queue %s: %s (id %s, %s seq %d)\n", args[0], queue, state, r.ID, r.Stream, r.Sequence)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&queue, "queue", "q", tasks.DefaultQueue, "queue of the task")
	f.StringVar(&id, "id", "", "task ID (default: generated); a repeated ID is dropped as a duplicate")
	f.StringArrayVarP(&headers, "header", "H", nil, "header name=value to add (repeatable)")
	f.BoolVar(&force, "force", false, "enqueue even if no worker has ever served the task")
	return cmd
}

// checkServed refuses a task that has no consumer on the work stream: a typo
// in the task name would otherwise sit in the queue forever.
func (g *globals) checkServed(ctx context.Context, js jetstream.JetStream, spec tasks.Spec) error {
	names, err := wire.NewNames(g.prefix)
	if err != nil {
		return usageError{err}
	}
	_, err = js.Consumer(ctx, names.WorkStream(), names.Durable(spec.Queue, spec.Name))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("unknown task %q on queue %q: no worker has served it (no consumer %q on %s); check the name, or use --force",
			spec.Name, spec.Queue, names.Durable(spec.Queue, spec.Name), names.WorkStream())
	default:
		return err
	}
}
