package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/jetq/jetq/dlq"
	"github.com/jetq/jetq/tasks"
)

func newDLQCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect, replay and remove dead-lettered tasks",
		Long: "dlq works on the dead-letter stream, where tasks that could not succeed are kept\n" +
			"with the reason, the last error, their payload and headers.",
	}
	cmd.AddCommand(newDLQLs(g), newDLQShow(g), newDLQReplay(g), newDLQRm(g), newDLQPurge(g), newDLQStats(g))
	return cmd
}

// filterFlags are the flags that select records.
type filterFlags struct {
	task, queue, reason, since, until string
}

func (ff *filterFlags) register(f *pflag.FlagSet) {
	f.StringVar(&ff.task, "task", "", "only records of this task name")
	f.StringVarP(&ff.queue, "queue", "q", "", "only records of this queue")
	f.StringVar(&ff.reason, "reason", "", "only records filed for this reason (permanent, max_attempts, max_deliveries, invalid_payload, timeout)")
	f.StringVar(&ff.since, "since", "", "only records filed since: a duration ago (2h) or an RFC 3339 time")
	f.StringVar(&ff.until, "until", "", "only records filed until: a duration ago or an RFC 3339 time")
}

func (ff *filterFlags) filter() (dlq.Filter, error) {
	f := dlq.Filter{Task: ff.task, Queue: ff.queue, Reason: tasks.Reason(ff.reason)}
	var err error
	if f.Since, err = parseWhen(ff.since); err != nil {
		return f, usagef("--since: %v", err)
	}
	if f.Until, err = parseWhen(ff.until); err != nil {
		return f, usagef("--until: %v", err)
	}
	return f, nil
}

func (ff *filterFlags) empty() bool {
	return *ff == filterFlags{}
}

// parseWhen reads "2h" as two hours ago, or an RFC 3339 time.
func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration like 2h nor an RFC 3339 time", s)
	}
	return t, nil
}

// inspect runs fn with an Inspector; a bad filter is a usage error.
func (g *globals) inspect(cmd *cobra.Command, fn func(ctx context.Context, in *dlq.Inspector) error) error {
	return g.withJS(cmd, func(ctx context.Context, js jetstream.JetStream) error {
		in, err := dlq.NewInspector(js, dlq.WithPrefix(g.prefix), dlq.WithLogger(quietLog()))
		if err != nil {
			return usageError{err}
		}
		err = fn(ctx, in)
		if isInvalid(err) {
			return usageError{err}
		}
		return err
	})
}

func isInvalid(err error) bool {
	return err != nil && strings.Contains(err.Error(), dlq.ErrInvalidOption.Error())
}

func parseSeqs(args []string) ([]uint64, error) {
	seqs := make([]uint64, len(args))
	for i, a := range args {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil || n == 0 {
			return nil, usagef("%q is not a record sequence (a positive number, as `jetq dlq ls` shows)", a)
		}
		seqs[i] = n
	}
	return seqs, nil
}

func newDLQLs(g *globals) *cobra.Command {
	var ff filterFlags
	var limit int
	var newest bool
	var after uint64
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List dead-lettered tasks",
		Example: "  jetq dlq ls --task email.send --since 24h --newest",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := ff.filter()
			if err != nil {
				return err
			}
			f.Limit, f.After = limit, after
			if newest {
				f.Order = dlq.NewestFirst
			}
			return g.inspect(cmd, func(ctx context.Context, in *dlq.Inspector) error {
				entries, err := in.List(ctx, f)
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(orEmpty(entries))
				}
				rows := make([][]string, len(entries))
				for i, e := range entries {
					rows[i] = []string{strconv.FormatUint(e.Seq, 10), e.FailedAt.Local().Format(time.DateTime), e.Task, e.Queue,
						string(e.Reason), strconv.Itoa(e.Deliveries), e.ID, shorten(e.Error, 60)}
				}
				if err := g.table([]string{"SEQ", "FAILED AT", "TASK", "QUEUE", "REASON", "DELIVERIES", "ID", "ERROR"}, rows); err != nil {
					return err
				}
				if limit > 0 && len(entries) == limit {
					fmt.Fprintf(g.stdout, "(more may follow: --after %d)\n", entries[len(entries)-1].Seq)
				}
				return nil
			})
		},
	}
	ff.register(cmd.Flags())
	cmd.Flags().IntVarP(&limit, "limit", "n", dlq.DefaultLimit, "at most this many records (-1: all)")
	cmd.Flags().BoolVar(&newest, "newest", false, "newest first")
	cmd.Flags().Uint64Var(&after, "after", 0, "continue after this sequence (paging)")
	return cmd
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func shorten(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func newDLQShow(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show <seq>",
		Short: "Show one dead-lettered task: why it failed, its payload and headers",
		Args:  exactArgs("<seq>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			seqs, err := parseSeqs(args)
			if err != nil {
				return err
			}
			return g.inspect(cmd, func(ctx context.Context, in *dlq.Inspector) error {
				e, err := in.Get(ctx, seqs[0])
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(e)
				}
				w := g.stdout
				fmt.Fprintf(w, "record      %d\ntask        %s (queue %s)\nid          %s\nreason      %s\ndeliveries  %d\nfailed at   %s\n",
					e.Seq, e.Task, e.Queue, e.ID, e.Reason, e.Deliveries, e.FailedAt.Local().Format(time.RFC3339))
				if !e.EnqueuedAt.IsZero() {
					fmt.Fprintf(w, "enqueued at %s\n", e.EnqueuedAt.Local().Format(time.RFC3339))
				}
				fmt.Fprintf(w, "was at      %s seq %d (%s)\nerror       %s\n\npayload\n", e.Stream, e.StreamSeq, e.Subject, e.Error)
				var pretty bytes.Buffer
				if json.Indent(&pretty, e.Payload, "  ", "  ") == nil {
					fmt.Fprintf(w, "  %s\n", pretty.String())
				} else {
					fmt.Fprintf(w, "  %q\n", e.Payload)
				}
				fmt.Fprintln(w, "\nheaders")
				keys := make([]string, 0, len(e.Header))
				for k := range e.Header {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				for _, k := range keys {
					fmt.Fprintf(w, "  %s: %s\n", k, strings.Join(e.Header[k], ", "))
				}
				return nil
			})
		},
	}
}

func newDLQReplay(g *globals) *cobra.Command {
	var ff filterFlags
	var all bool
	cmd := &cobra.Command{
		Use:   "replay [<seq>...]",
		Short: "Send dead-lettered tasks back to their queue, as fresh tasks with their IDs",
		Example: `  jetq dlq replay 42 43
  jetq dlq replay --all --task email.send --reason max_attempts`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.bulk(cmd, args, &ff, all, "replayed", func(ctx context.Context, in *dlq.Inspector, seq uint64) error {
				return in.Replay(ctx, seq)
			}, func(ctx context.Context, in *dlq.Inspector, f dlq.Filter) (int, error) {
				return in.ReplayAll(ctx, f)
			})
		},
	}
	ff.register(cmd.Flags())
	cmd.Flags().BoolVar(&all, "all", false, "every record the filter flags select")
	return cmd
}

func newDLQRm(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm <seq>...",
		Aliases: []string{"delete"},
		Short:   "Remove dead-lettered tasks for good",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("rm needs the sequences of the records to remove")
			}
			return g.bulk(cmd, args, &filterFlags{}, false, "removed", func(ctx context.Context, in *dlq.Inspector, seq uint64) error {
				return in.Delete(ctx, seq)
			}, nil)
		},
	}
}

func newDLQPurge(g *globals) *cobra.Command {
	var ff filterFlags
	var all bool
	cmd := &cobra.Command{
		Use:     "purge",
		Short:   "Remove every dead-lettered task the filter selects",
		Example: "  jetq dlq purge --task email.send --until 720h\n  jetq dlq purge --all",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ff.empty() && !all {
				return usagef("purge removes records for good: give filter flags, or --all for every record")
			}
			return g.bulk(cmd, nil, &ff, true, "removed", nil, func(ctx context.Context, in *dlq.Inspector, f dlq.Filter) (int, error) {
				return in.Purge(ctx, f)
			})
		},
	}
	ff.register(cmd.Flags())
	cmd.Flags().BoolVar(&all, "all", false, "every record, when no filter flag is given")
	return cmd
}

// bulk applies one to each sequence in args, or many to the filter with --all.
func (g *globals) bulk(cmd *cobra.Command, args []string, ff *filterFlags, all bool, done string,
	one func(context.Context, *dlq.Inspector, uint64) error, many func(context.Context, *dlq.Inspector, dlq.Filter) (int, error)) error {
	if all == (len(args) > 0) {
		return usagef("give record sequences, or --all with filter flags, not both and not neither")
	}
	if !all && !ff.empty() {
		return usagef("filter flags go with --all")
	}
	seqs, err := parseSeqs(args)
	if err != nil {
		return err
	}
	f, err := ff.filter()
	if err != nil {
		return err
	}
	return g.inspect(cmd, func(ctx context.Context, in *dlq.Inspector) error {
		n := 0
		if all {
			if n, err = many(ctx, in, f); err != nil {
				return err
			}
		}
		for _, seq := range seqs {
			if err := one(ctx, in, seq); err != nil {
				return fmt.Errorf("record %d: %w (%d %s before it)", seq, err, n, done)
			}
			n++
		}
		if g.json {
			return g.printJSON(map[string]int{done: n})
		}
		fmt.Fprintf(g.stdout, "%s %d record(s)\n", done, n)
		return nil
	})
}

func newDLQStats(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Count dead-lettered tasks by task and by reason",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.inspect(cmd, func(ctx context.Context, in *dlq.Inspector) error {
				st, err := in.Stats(ctx)
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(st)
				}
				fmt.Fprintf(g.stdout, "%d record(s)", st.Total)
				if st.Total > 0 {
					fmt.Fprintf(g.stdout, ", filed %s to %s", st.Oldest.Local().Format(time.DateTime), st.Newest.Local().Format(time.DateTime))
				}
				fmt.Fprintln(g.stdout)
				var rows [][]string
				for _, k := range slices.Sorted(maps.Keys(st.ByTask)) {
					rows = append(rows, []string{"task", k, strconv.Itoa(st.ByTask[k])})
				}
				for _, k := range slices.Sorted(maps.Keys(st.ByReason)) {
					rows = append(rows, []string{"reason", string(k), strconv.Itoa(st.ByReason[k])})
				}
				return g.table([]string{"BY", "NAME", "RECORDS"}, rows)
			})
		},
	}
}
