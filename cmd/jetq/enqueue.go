package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/spf13/cobra"

	"github.com/jetq/jetq/internal/schema/schemacheck"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// enqueueResult is what `jetq enqueue --json` prints: the producer's result
// (id, stream, sequence, duplicate), its error if any, and for a delayed task
// when it runs.
type enqueueResult struct {
	producer.Result
	Error string    `json:"error,omitempty"`
	RunAt time.Time `json:"run_at,omitzero"`
}

func newEnqueueResult(r producer.Result, runAt time.Time) enqueueResult {
	v := enqueueResult{Result: r, RunAt: runAt}
	if r.Err != nil {
		v.Error = r.Err.Error()
	}
	return v
}

func newEnqueueCmd(g *globals) *cobra.Command {
	var queue, id, at, deadline, unique, debounce string
	var headers []string
	var delay, uniqueTTL, debounceWindow time.Duration
	var force bool
	cmd := &cobra.Command{
		Use:   "enqueue <task> <json>|-|@file",
		Short: "Enqueue one task by hand",
		Long: "enqueue publishes one task with a JSON payload, as a producer would. It refuses a task\n" +
			"no worker has ever served on that queue (no consumer exists for it), naming the queues that\n" +
			"serve a task of that name, and a payload that does not match the JSON Schema the task's\n" +
			"workers recorded from their Go payload type: unknown fields, missing fields (those without\n" +
			"omitempty or omitzero) and values of the wrong JSON type.\n" +
			"It then asks a live worker of the task to decode the payload and run its Validate method, as\n" +
			"the worker would before running it, and refuses what the worker refuses, with its reason;\n" +
			"with no worker answering it enqueues and warns that Validate could not be run. --force skips\n" +
			"every check and enqueues anyway. The payload is the argument, - for standard input, or @file.\n" +
			"--delay or --at hold the task in the schedule stream until it is due; --deadline drops it\n" +
			"unrun if no worker has started it by then; --unique enqueues nothing while another task of\n" +
			"the same definition holds the key, and names that task instead. --debounce with\n" +
			"--debounce-window runs the enqueues of one key within the window once, with the last\n" +
			"payload, the window after the last of them.",
		Example: `  jetq enqueue email.send '{"recipient":"ada@example.com","content":"hi"}'
  jetq enqueue email.send @mail.json
  make-payload | jetq enqueue email.send -
  jetq enqueue report.build '{"month":"2026-10"}' --queue reports --id report:2026-10
  jetq enqueue email.remind '{"recipient":"ada@example.com"}' --delay 24h --deadline 48h
  jetq enqueue report.build '{"month":"2026-10"}' --at 2026-11-01T06:00:00+01:00
  jetq enqueue user.sync '{"user":42}' --unique user:42 --unique-ttl 10m
  jetq enqueue search.reindex '{"doc":7}' --debounce doc-7 --debounce-window 5s`,
		Args: exactArgs("<task>", "<json>|-|@file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// jetq has no Go type for the payload: json.RawMessage passes the
			// JSON given through as it is, for the worker's codec to decode.
			def, err := tasks.New[json.RawMessage](args[0], tasks.WithQueue(queue))
			if err != nil {
				return usageError{err}
			}
			payload, err := g.readPayload(args[1])
			if err != nil {
				return err
			}
			// Changed, not the zero value, says whether a flag was given:
			// --delay 0 with --at is two answers to when, refused as any
			// other pair is.
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
			switch {
			case f.Changed("debounce") != f.Changed("debounce-window"):
				return usagef("--debounce KEY and --debounce-window DURATION go together; give both")
			case f.Changed("debounce"):
				opts = append(opts, producer.WithDebounce(debounce, debounceWindow))
			}
			return g.withJS(cmd, func(ctx context.Context, js jetstream.JetStream) error {
				if !force {
					if err := g.checkServed(ctx, js, def.Spec(), payload); err != nil {
						return err
					}
					var unchecked notCheckedError
					switch err := g.checkLive(ctx, js.Conn(), def.Spec(), payload); {
					case errors.As(err, &unchecked):
						fmt.Fprintf(cmd.ErrOrStderr(), "jetq: warning: %v\n", err)
					case err != nil:
						return err
					}
				}
				// The producer comes after the checks: its first enqueue
				// provisions the streams, and a refused task must leave the
				// server as it found it.
				p, err := producer.New(js, producer.WithTopology(topology.Topology{Prefix: g.prefix}), producer.WithLogger(quietLog()))
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
				case f.Changed("debounce"):
					due = now.Add(debounceWindow)
				}
				r, err := producer.Enqueue(ctx, p, def, json.RawMessage(payload), opts...)
				if err != nil {
					return err
				}
				if r.Duplicate {
					due = time.Time{} // the task that was there runs when it runs
				}
				if g.json {
					return g.printJSON(newEnqueueResult(r, due))
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
				case r.Debounced:
					state = "debounced: replaced the task of key " + strconv.Quote(debounce) + " still waiting; runs at " + formatTime(due)
				case !due.IsZero():
					state = "enqueued to run at " + formatTime(due)
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
	f.BoolVar(&force, "force", false, "enqueue without any check: even if no worker serves the task, no live worker can check the payload, or the payload does not match")
	f.DurationVar(&delay, "delay", 0, "run the task this long from now (90s, 15m, 2h)")
	f.StringVar(&at, "at", "", "run the task at this RFC 3339 time; one that has passed runs now")
	f.StringVar(&deadline, "deadline", "", "drop the task unrun if no worker has started it by then: a duration from now (2h) or an RFC 3339 time")
	f.StringVar(&unique, "unique", "", "enqueue nothing while another task of this definition holds this key")
	f.DurationVar(&uniqueTTL, "unique-ttl", time.Hour, "hold the --unique key at most this long after the task is due, should no worker settle it")
	f.StringVar(&debounce, "debounce", "", "run the enqueues of this key within --debounce-window once, with the last payload")
	f.DurationVar(&debounceWindow, "debounce-window", 0, "the --debounce window: the task runs this long after the key's last enqueue (5s, 1m)")
	return cmd
}

// parseUntil reads "2h" as two hours from now, or an RFC 3339 time: the
// units and times of parseWhen, counted forward.
func parseUntil(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("empty: give a duration like 2h or an RFC 3339 time")
	}
	if d, err := parseDuration(s); err == nil {
		return time.Now().Add(d), nil
	}
	return parseWhen(s)
}

// checkServed refuses a task that has no consumer on the work stream: a typo
// in the task name or the queue would otherwise sit in the queue forever.
// The error names the queues whose consumers serve a task of that name. Of
// a served task it checks the payload against the schema its workers
// recorded (see checkPayload).
func (g *globals) checkServed(ctx context.Context, js jetstream.JetStream, spec tasks.Spec, payload []byte) error {
	names, err := wire.NewNames(g.prefix)
	if err != nil {
		return usageError{err}
	}
	durable := names.Durable(spec.Queue, spec.Name)
	cons, err := js.Consumer(ctx, names.WorkStream(), durable)
	switch {
	case err == nil:
		return checkPayload(spec, cons.CachedInfo(), payload)
	case errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
	default:
		return err
	}
	msg := fmt.Sprintf("unknown task %q on queue %q: no worker has served it (no consumer %q on %s)",
		spec.Name, spec.Queue, durable, names.WorkStream())
	queues, err := servingQueues(ctx, js, names, spec.Name)
	switch {
	case err != nil:
		return fmt.Errorf("%s; check the name, or use --force (looking for it on other queues: %w)", msg, err)
	case len(queues) == 0:
		return fmt.Errorf("%s; check the name, or use --force", msg)
	}
	quoted := make([]string, len(queues))
	for i, q := range queues {
		quoted[i] = strconv.Quote(q)
	}
	return fmt.Errorf("%s; a task of that name is served on queue %s: use --queue %s, or --force",
		msg, strings.Join(quoted, ", "), queues[0])
}

// servingQueues lists the queues with a consumer of the task called name,
// in order: the work stream's durables are "<queue>:<name with ':' for '.'>".
func servingQueues(ctx context.Context, js jetstream.JetStream, names wire.Names, name string) ([]string, error) {
	st, err := js.Stream(ctx, names.WorkStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil // nothing was ever enqueued with this prefix: no queue serves it
	}
	if err != nil {
		return nil, err
	}
	var queues []string
	lister := st.ConsumerNames(ctx)
	for durable := range lister.Name() {
		queue, task, ok := strings.Cut(durable, ":")
		if ok && strings.ReplaceAll(task, ":", ".") == name {
			queues = append(queues, queue)
		}
	}
	if err := lister.Err(); err != nil {
		return nil, err
	}
	slices.Sort(queues)
	return queues, nil
}

// checkPayload refuses a payload that does not match the JSON Schema the
// task's workers recorded on its consumer (wire.MetaPayloadSchema, from
// their Go payload type): unknown fields, missing required fields (those
// without omitempty or omitzero, which encoding/json always writes) and
// values of the wrong JSON type. A consumer that records no schema, or one
// this version cannot read, is not checked.
func checkPayload(spec tasks.Spec, info *jetstream.ConsumerInfo, payload []byte) error {
	if info == nil {
		return nil
	}
	meta := info.Config.Metadata
	text := meta[wire.MetaPayloadSchema]
	if text == "" {
		return nil
	}
	err := schemacheck.Check(text, payload)
	if errors.Is(err, schemacheck.ErrSchema) {
		// A schema from a newer worker that this jetq cannot read says
		// nothing against the payload: the worker still validates it.
		return nil
	}
	if err != nil {
		typ := meta[wire.MetaPayloadType]
		if typ == "" {
			typ = "its payload type"
		}
		return fmt.Errorf("payload refused: task %q on queue %q takes %s (as its workers recorded on consumer %q): %w; fix the payload, or use --force",
			spec.Name, spec.Queue, typ, info.Name, err)
	}
	return nil
}

// readPayload reads the payload argument: the JSON itself, - for standard
// input, or @file for a file's contents. It must be valid JSON.
func (g *globals) readPayload(arg string) ([]byte, error) {
	var b []byte
	var from string
	switch {
	case arg == "-":
		if g.stdin.r == nil {
			return nil, usagef("payload -: no standard input to read")
		}
		var err error
		if b, err = io.ReadAll(g.stdin.r); err != nil {
			return nil, fmt.Errorf("read the payload from standard input: %w", err)
		}
		from = "standard input"
	case strings.HasPrefix(arg, "@"):
		var err error
		if b, err = os.ReadFile(arg[1:]); err != nil {
			return nil, usagef("payload %s: %v", arg, err)
		}
		from = arg[1:]
	default:
		b, from = []byte(arg), "the argument"
	}
	// A file or a pipe ends with a newline the task should not carry.
	b = bytes.TrimSpace(b)
	if !json.Valid(b) {
		return nil, usagef("payload from %s is not valid JSON: %s", from, shorten(string(b), 200))
	}
	return b, nil
}

// notCheckedError says that no live worker could check a payload. The task
// is enqueued all the same, with the warning: the payload matched the schema
// the workers recorded, tasks are often enqueued while their workers are
// down or being deployed, and a payload that Validate refuses still loses
// nothing: the worker dead-letters it as invalid_payload, with the reason.
type notCheckedError struct{ error }

// checkLive asks a live worker of the task to check the payload as it would
// before running it: decode it and call its Validate method. A refusal is
// an error with the worker's reason; no worker answering is a
// [notCheckedError].
func (g *globals) checkLive(ctx context.Context, nc *nats.Conn, spec tasks.Spec, payload []byte) error {
	names, err := wire.NewNames(g.prefix)
	if err != nil {
		return usageError{err}
	}
	subject := names.ValidateSubject(spec.Queue, spec.Name)
	// A worker too busy to answer must not hold the enqueue past
	// --timeout: the task is enqueued unchecked, with the warning.
	rctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	resp, err := nc.RequestWithContext(rctx, subject, payload)
	switch {
	// Only the request's own deadline means no worker answered; the
	// command's ctx ending (an interrupt) stops the enqueue instead.
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return notCheckedError{fmt.Errorf("payload not checked by a worker: no live worker of task %q on queue %q answered on %s (%v), so its Validate could not be run; "+
			"enqueued after the schema check alone: if a worker's Validate refuses it, the task is dead-lettered as invalid_payload (jetq dlq ls)",
			spec.Name, spec.Queue, subject, err)}
	case err != nil:
		return fmt.Errorf("payload not checked: ask a worker of task %q on %s: %w", spec.Name, subject, err)
	}
	if reason := resp.Header.Get(micro.ErrorHeader); reason != "" {
		return fmt.Errorf("payload refused by a worker of task %q on queue %q: %s; fix the payload, or use --force", spec.Name, spec.Queue, reason)
	}
	return nil
}
