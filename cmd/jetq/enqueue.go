package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// enqueueResult is what `jetq enqueue --json` prints: the producer's result,
// and for a delayed task when it runs.
type enqueueResult struct {
	producer.Result
	RunAt time.Time `json:",omitzero"`
}

func newEnqueueCmd(g *globals) *cobra.Command {
	var queue, id, at, deadline, unique string
	var headers []string
	var delay, uniqueTTL time.Duration
	var force bool
	cmd := &cobra.Command{
		Use:   "enqueue <task> <json>",
		Short: "Enqueue one task by hand",
		Long: "enqueue publishes one task with a JSON payload, as a producer would. It refuses a task\n" +
			"no worker has ever served on that queue (no consumer exists for it) unless --force is given.\n" +
			"--delay or --at hold the task in the schedule stream until it is due; --deadline drops it\n" +
			"unrun if no worker has started it by then; --unique enqueues nothing while another task of\n" +
			"the same definition holds the key, and names that task instead.",
		Example: `  jetq enqueue email.send '{"recipient":"ada@example.com","content":"hi"}'
  jetq enqueue report.build '{"month":"2026-10"}' --queue reports --id report:2026-10
  jetq enqueue email.remind '{"recipient":"ada@example.com"}' --delay 24h --deadline 48h
  jetq enqueue report.build '{"month":"2026-10"}' --at 2026-11-01T06:00:00+01:00
  jetq enqueue user.sync '{"user":42}' --unique user:42 --unique-ttl 10m`,
		Args: exactArgs("<task>", "<json>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := tasks.New[json.RawMessage](args[0], tasks.WithQueue(queue))
			if err != nil {
				return usageError{err}
			}
			if !json.Valid([]byte(args[1])) {
				return usagef("payload is not valid JSON: %s", args[1])
			}
			f := cmd.Flags()
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
			var runAt time.Time
			switch {
			case f.Changed("delay") && f.Changed("at"):
				return usagef("--delay and --at both say when the task runs; give one of them")
			case f.Changed("delay"):
				opts = append(opts, producer.WithDelay(delay))
			case f.Changed("at"):
				if runAt, err = time.Parse(time.RFC3339, at); err != nil {
					return usagef("--at: %q is not an RFC 3339 time like 2026-10-01T09:00:00Z; for a time from now use --delay", at)
				}
				opts = append(opts, producer.WithRunAt(runAt))
			}
			if f.Changed("deadline") {
				t, err := parseUntil(deadline)
				if err != nil {
					return usagef("--deadline: %v", err)
				}
				opts = append(opts, producer.WithDeadline(t))
			}
			switch {
			case f.Changed("unique"):
				opts = append(opts, producer.WithUnique(unique, uniqueTTL))
			case f.Changed("unique-ttl"):
				return usagef("--unique-ttl sets how long a unique key is held; give the key with --unique KEY")
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
				// When the task runs, as the producer reckons it: a delay
				// counts from about now, and a time that has passed is now.
				var due time.Time
				switch now := time.Now(); {
				case f.Changed("delay") && delay > 0:
					due = now.Add(delay)
				case runAt.After(now):
					due = runAt
				}
				r, err := producer.Enqueue(ctx, p, def, json.RawMessage(args[1]), opts...)
				if err != nil {
					return err
				}
				if r.Duplicate {
					due = time.Time{} // the task that was there runs when it runs
				}
				if g.json {
					return g.printJSON(enqueueResult{Result: r, RunAt: due})
				}
				if r.Duplicate && r.Stream == "" {
					// A unique key is held: nothing was published.
					fmt.Fprintf(g.stdout, "%s on queue %s: duplicate of %s, which holds unique key %q; dropped\n", args[0], queue, r.ID, unique)
					return nil
				}
				state := "enqueued"
				switch {
				case r.Duplicate:
					state = "duplicate of a task already enqueued; dropped"
				case !due.IsZero():
					state = "enqueued to run at " + due.Local().Format(time.RFC3339)
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
	f.DurationVar(&delay, "delay", 0, "run the task this long from now (90s, 15m, 2h)")
	f.StringVar(&at, "at", "", "run the task at this RFC 3339 time; one that has passed runs now")
	f.StringVar(&deadline, "deadline", "", "drop the task unrun if no worker has started it by then: a duration from now (2h) or an RFC 3339 time")
	f.StringVar(&unique, "unique", "", "enqueue nothing while another task of this definition holds this key")
	f.DurationVar(&uniqueTTL, "unique-ttl", time.Hour, "hold the --unique key at most this long after the task is due, should no worker settle it")
	return cmd
}

// parseUntil reads "2h" as two hours from now, or an RFC 3339 time: the
// units and times of parseWhen, counted forward.
func parseUntil(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("empty: give a duration like 2h or an RFC 3339 time")
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(d), nil
	}
	return parseWhen(s)
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
