package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/wire"
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

func (ff *filterFlags) filter() (inspect.DeadLetterFilter, error) {
	f := inspect.DeadLetterFilter{Task: ff.task, Queue: ff.queue, Reason: tasks.Reason(ff.reason)}
	var err error
	if f.Since, err = parseWhen(ff.since); err != nil {
		return f, usagef("--since: %v", err)
	}
	if f.Until, err = parseWhen(ff.until); err != nil {
		return f, usagef("--until: %v", err)
	}
	return f, nil
}

// describe names the n records the flags select, for a question.
func (ff *filterFlags) describe(n int) string {
	return fmt.Sprintf("%d dead-letter record(s)", n) + givenFlags([][2]string{
		{"task", ff.task}, {"queue", ff.queue}, {"reason", ff.reason}, {"since", ff.since}, {"until", ff.until}})
}

// givenFlags is " with" and the flags given among the pairs of name and
// value, as typed, or "" when none was given.
func givenFlags(pairs [][2]string) string {
	var parts []string
	for _, p := range pairs {
		if p[1] != "" {
			parts = append(parts, fmt.Sprintf("--%s %s", p[0], p[1]))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " with " + strings.Join(parts, " ")
}

func (ff *filterFlags) empty() bool {
	return *ff == filterFlags{}
}

// parseWhen reads "2h" or "7d" as that long ago, or an RFC 3339 time.
func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := parseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration like 2h or 7d nor an RFC 3339 time", s)
	}
	return t, nil
}

// inspect runs fn with an Inspector; a bad filter is a usage error.
func (g *globals) inspect(cmd *cobra.Command, fn func(ctx context.Context, in *inspect.Inspector) error) error {
	return g.withJS(cmd, func(ctx context.Context, js jetstream.JetStream) error {
		in, err := g.inspector(js)
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

// isInvalid reports an error about what was asked rather than about the
// server: the caller's to fix, so a usage error (exit 2).
func isInvalid(err error) bool {
	return err != nil && strings.Contains(err.Error(), inspect.ErrInvalidQuery.Error())
}

// ref names a dead-letter record: by its sequence, or by the ID of its task.
type ref struct {
	seq uint64
	id  string
}

func (r ref) String() string {
	if r.id != "" {
		return fmt.Sprintf("task %q", r.id)
	}
	return "record " + strconv.FormatUint(r.seq, 10)
}

// parseRefs reads each argument as a record sequence when it is a number,
// and as a task ID otherwise.
func parseRefs(args []string) ([]ref, error) {
	refs := make([]ref, len(args))
	for i, a := range args {
		// A task ID of digits alone reads as a sequence; `jetq dlq ls`
		// gives the sequence of its record.
		n, err := strconv.ParseUint(a, 10, 64)
		switch {
		case err == nil && n == 0:
			return nil, usagef("%q is not a record sequence (a positive number, as `jetq dlq ls` shows)", a)
		case err == nil:
			refs[i] = ref{seq: n}
		case strings.TrimSpace(a) == "":
			return nil, usagef("an empty argument is neither a record sequence nor a task ID")
		default:
			refs[i] = ref{id: a}
		}
	}
	return refs, nil
}

// find returns the records of the task with ID id, oldest first, or an
// error wrapping inspect.ErrNotFound when it has none.
func find(ctx context.Context, in *inspect.Inspector, id string) ([]inspect.DeadLetter, error) {
	es, err := in.FindDeadLetters(ctx, id, inspect.DeadLetterFilter{})
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, fmt.Errorf("%w: no such record of task %q: it was not dead-lettered, or its record was replayed or removed (`jetq task show %s` tells where it is)", inspect.ErrNotFound, id, id)
	}
	return es, nil
}

func seqList(es []inspect.DeadLetter) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = strconv.FormatUint(e.Seq, 10)
	}
	return strings.Join(s, ", ")
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
				f.Order = inspect.NewestFirst
			}
			return g.inspect(cmd, func(ctx context.Context, in *inspect.Inspector) error {
				entries, err := in.DeadLetters(ctx, f)
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(orEmpty(entries))
				}
				rows := make([][]string, len(entries))
				for i, e := range entries {
					rows[i] = []string{strconv.FormatUint(e.Seq, 10), formatTime(e.FailedAt), e.Task, e.Queue,
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
	cmd.Flags().IntVarP(&limit, "limit", "n", inspect.DefaultDeadLetterLimit, "at most this many records (-1: all)")
	cmd.Flags().BoolVar(&newest, "newest", false, "newest first")
	cmd.Flags().Uint64Var(&after, "after", 0, "continue after this sequence (paging)")
	return cmd
}

// orEmpty is s, or an empty slice for nil: --json prints [] for no rows,
// which a script can iterate, never null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// shorten cuts s to n bytes for a table cell, on one line: a multi-line
// error would break the table's rows.
func shorten(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func newDLQShow(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show <seq>|<task ID>",
		Short: "Show a dead-lettered task: why it failed, its payload and headers",
		Long: "show prints the record at a sequence, or every record of a task ID (a task replayed and\n" +
			"dead-lettered again, or enqueued again with its ID, has several): an argument that is a\n" +
			"number is a sequence, anything else a task ID. Finding a task ID reads the whole dead-letter\n" +
			"stream. With --json a sequence prints one object and a task ID an array of them, oldest\n" +
			"first; a JSON payload prints as JSON.",
		Example: "  jetq dlq show 42\n  jetq dlq show welcome-7f3a",
		Args:    exactArgs("<seq>|<task ID>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := parseRefs(args)
			if err != nil {
				return err
			}
			r := refs[0]
			return g.inspect(cmd, func(ctx context.Context, in *inspect.Inspector) error {
				if r.id == "" {
					e, err := in.DeadLetter(ctx, r.seq)
					if err != nil {
						return err
					}
					if g.json {
						return g.printJSON(entryJSON(e))
					}
					printEntry(g.stdout, e, "")
					return nil
				}
				es, err := find(ctx, in, r.id)
				if err != nil {
					return err
				}
				if g.json {
					out := make([]any, len(es))
					for i, e := range es {
						out[i] = entryJSON(e)
					}
					return g.printJSON(out)
				}
				if len(es) > 1 {
					fmt.Fprintf(g.stdout, "task %s has %d dead-letter records (%s), oldest first\n\n", r.id, len(es), seqList(es))
				}
				for i, e := range es {
					if i > 0 {
						fmt.Fprintln(g.stdout)
					}
					printEntry(g.stdout, e, "")
				}
				return nil
			})
		},
	}
}

// printEntry writes a record for people, each line after indent.
func printEntry(w io.Writer, e inspect.DeadLetter, indent string) {
	fmt.Fprintf(w, "%srecord      %d\n%stask        %s (queue %s)\n%sid          %s\n%sreason      %s\n%sdeliveries  %d\n%sfailed at   %s\n",
		indent, e.Seq, indent, e.Task, e.Queue, indent, e.ID, indent, e.Reason, indent, e.Deliveries, indent, formatTime(e.FailedAt))
	if !e.EnqueuedAt.IsZero() {
		fmt.Fprintf(w, "%senqueued at %s\n", indent, formatTime(e.EnqueuedAt))
	}
	if of := e.Header.Get(wire.HeaderReplayOf); of != "" {
		fmt.Fprintf(w, "%sreplay of   %s\n", indent, of)
	}
	fmt.Fprintf(w, "%swas at      %s seq %d (%s)\n%serror       %s\n\n%spayload\n", indent, e.Stream, e.StreamSeq, e.Subject, indent, e.Error, indent)
	printPayload(w, e.Payload, indent)
	fmt.Fprintf(w, "\n%sheaders\n", indent)
	printHeader(w, e.Header, indent)
}

// printPayload writes a payload indented, as JSON when it is JSON.
func printPayload(w io.Writer, payload []byte, indent string) {
	var pretty bytes.Buffer
	if json.Indent(&pretty, payload, indent+"  ", "  ") == nil {
		fmt.Fprintf(w, "%s  %s\n", indent, pretty.String())
	} else {
		fmt.Fprintf(w, "%s  %q\n", indent, payload)
	}
}

// printHeader writes a header's keys in order, indented.
func printHeader(w io.Writer, h nats.Header, indent string) {
	for _, k := range slices.Sorted(maps.Keys(h)) {
		fmt.Fprintf(w, "%s  %s: %s\n", indent, k, strings.Join(h[k], ", "))
	}
}

// jsonPayload is payload as JSON, for --json, when the header says it is
// JSON (no Content-Type, or application/json) and it is valid JSON; nil
// otherwise, and then the payload prints as base64 as before.
func jsonPayload(h nats.Header, payload []byte) json.RawMessage {
	if ct := h.Get(wire.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil
		}
	}
	if len(payload) == 0 || !json.Valid(payload) {
		return nil
	}
	return json.RawMessage(payload)
}

// entryJSON is e for --json: its payload as JSON when it is JSON.
func entryJSON(e inspect.DeadLetter) any {
	if p := jsonPayload(e.Header, e.Payload); p != nil {
		return struct {
			inspect.DeadLetter
			Payload json.RawMessage `json:"payload"`
		}{e, p}
	}
	return e
}

func newDLQReplay(g *globals) *cobra.Command {
	var ff filterFlags
	var all bool
	cmd := &cobra.Command{
		Use:   "replay [<seq>|<task ID>...]",
		Short: "Send dead-lettered tasks back to their queue, as fresh tasks with their IDs",
		Long: "replay sends the tasks of records back to their queue. An argument that is a number is a\n" +
			"record sequence, anything else a task ID; a task ID with several records replays the\n" +
			"newest and says which (the others stay: remove them with `jetq dlq rm <seq>`).",
		Example: `  jetq dlq replay 42 43
  jetq dlq replay welcome-7f3a
  jetq dlq replay --all --task email.send --reason max_attempts`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.bulk(cmd, args, &ff, all, "replayed", pickNewest, func(ctx context.Context, in *inspect.Inspector, seq uint64) error {
				return in.ReplayDeadLetter(ctx, seq)
			}, func(ctx context.Context, in *inspect.Inspector, f inspect.DeadLetterFilter) (int, error) {
				return in.ReplayDeadLetters(ctx, f)
			})
		},
	}
	ff.register(cmd.Flags())
	cmd.Flags().BoolVar(&all, "all", false, "every record the filter flags select")
	return cmd
}

func newDLQRm(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm <seq>|<task ID>...",
		Aliases: []string{"delete"},
		Short:   "Remove dead-lettered tasks for good",
		Long: "rm removes records. An argument that is a number is a record sequence, anything else a\n" +
			"task ID; a task ID with several records is refused, with their sequences to choose from.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("rm needs the sequences or task IDs of the records to remove")
			}
			return g.bulk(cmd, args, &filterFlags{}, false, "removed", pickOnly, func(ctx context.Context, in *inspect.Inspector, seq uint64) error {
				return in.DeleteDeadLetter(ctx, seq)
			}, nil)
		},
	}
}

func newDLQPurge(g *globals) *cobra.Command {
	var ff filterFlags
	var all, yes bool
	cmd := &cobra.Command{
		Use:   "purge",
		Short: "Remove every dead-lettered task the filter selects",
		Long: "purge removes, for good, every record the filter flags select, or every record with --all.\n" +
			"It counts them and asks first on a terminal, as the dashboard does; --yes confirms without\n" +
			"asking (or counting), as a script must.",
		Example: "  jetq dlq purge --task email.send --until 720h\n  jetq dlq purge --all --yes",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ff.empty() && !all {
				return usagef("purge removes records for good: give filter flags, or --all for every record")
			}
			return g.bulk(cmd, nil, &ff, true, "removed", pickOnly, nil, func(ctx context.Context, in *inspect.Inspector, f inspect.DeadLetterFilter) (int, error) {
				// The question names how many records go, as the
				// dashboard's confirmation page does; --yes skips the
				// count, which reads every record of a reason or time
				// filter.
				if !yes {
					n, err := in.CountDeadLetters(ctx, f)
					if err != nil || n == 0 {
						return 0, err
					}
					if err := g.confirm("remove "+ff.describe(n)+" for good?", "--yes"); err != nil {
						return 0, err
					}
				}
				return in.PurgeDeadLetters(ctx, f)
			})
		},
	}
	ff.register(cmd.Flags())
	cmd.Flags().BoolVar(&all, "all", false, "every record, when no filter flag is given")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "remove without asking")
	return cmd
}

// pick says what a task ID with several records stands for.
type pick int

const (
	// pickNewest takes the newest record, and says so.
	pickNewest pick = iota
	// pickOnly refuses an ambiguous task ID.
	pickOnly
)

// resolve is the sequence of the record r names. A note says which of
// several records of a task ID was picked.
func resolve(ctx context.Context, in *inspect.Inspector, r ref, p pick) (seq uint64, note string, err error) {
	if r.id == "" {
		return r.seq, "", nil
	}
	es, err := find(ctx, in, r.id)
	if err != nil {
		return 0, "", err
	}
	newest := es[len(es)-1] // es is oldest first
	switch {
	case len(es) == 1:
		return newest.Seq, "", nil
	// Removal is for good: which record is meant is not guessed.
	case p == pickOnly:
		return 0, "", usagef("task %q has %d dead-letter records (%s): give the sequence of the one meant (`jetq dlq show %s` shows them all)", r.id, len(es), seqList(es), r.id)
	}
	return newest.Seq, fmt.Sprintf("task %q has %d dead-letter records (%s): took the newest, %d", r.id, len(es), seqList(es), newest.Seq), nil
}

// bulk applies one to the record each argument names — a sequence, or a
// task ID resolved as p says — or many to the filter with --all.
func (g *globals) bulk(cmd *cobra.Command, args []string, ff *filterFlags, all bool, done string, p pick,
	one func(context.Context, *inspect.Inspector, uint64) error, many func(context.Context, *inspect.Inspector, inspect.DeadLetterFilter) (int, error)) error {
	if all == (len(args) > 0) {
		return usagef("give record sequences or task IDs, or --all with filter flags, not both and not neither")
	}
	if !all && !ff.empty() {
		return usagef("filter flags go with --all")
	}
	refs, err := parseRefs(args)
	if err != nil {
		return err
	}
	f, err := ff.filter()
	if err != nil {
		return err
	}
	return g.inspect(cmd, func(ctx context.Context, in *inspect.Inspector) error {
		n := 0
		if all {
			if n, err = many(ctx, in, f); err != nil {
				return err
			}
		}
		for _, r := range refs {
			seq, note, err := resolve(ctx, in, r, p)
			if err != nil {
				return fmt.Errorf("%s: %w%s", r, err, doneBefore(n, done))
			}
			if note != "" {
				fmt.Fprintln(g.stderr, note) // stdout keeps only the count a script reads
			}
			if err := one(ctx, in, seq); err != nil {
				return fmt.Errorf("record %d: %w%s", seq, err, doneBefore(n, done))
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

// doneBefore says how many records a failing bulk command had already
// handled, or nothing when it had handled none.
func doneBefore(n int, done string) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d %s before it)", n, done)
}

func newDLQStats(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Count dead-lettered tasks by task and by reason",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.inspect(cmd, func(ctx context.Context, in *inspect.Inspector) error {
				st, err := in.DeadLetterStats(ctx)
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(st)
				}
				fmt.Fprintf(g.stdout, "%d record(s)", st.Total)
				if st.Total > 0 {
					fmt.Fprintf(g.stdout, ", filed %s to %s", formatTime(st.Oldest), formatTime(st.Newest))
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
