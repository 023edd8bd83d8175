package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// options are the command's flags.
type options struct {
	runs int
	// tracingRuns are the runs of each side of the tracing row. Its sides
	// differ by a few per cent, much less than runs of the same code spread
	// on a busy machine, so it takes more runs to tell them apart.
	tracingRuns int
	n           int
	nSync       int
	latency     time.Duration
	rssN        int
	only        string
	verbose     bool
}

func main() {
	var o options
	quick := flag.Bool("quick", false, "fewer and smaller runs (about a minute)")
	role := flag.String("role", "", "internal: run as the server, producer or worker process of workload (e)")
	url := flag.String("url", "", "internal: the server URL for -role")
	flag.IntVar(&o.runs, "runs", 9, "runs of each side per measurement; the median is shown")
	flag.IntVar(&o.tracingRuns, "runs-tracing", 27, "runs of each side for the tracing row, which measures a cost of a few per cent")
	flag.IntVar(&o.n, "n", 100_000, "tasks per throughput run")
	flag.IntVar(&o.nSync, "n-sync", 20_000, "tasks per run of single Enqueue calls and of the 1 ms handler")
	flag.DurationVar(&o.latency, "latency-for", 10*time.Second, "how long the steady 1 000 tasks/s run lasts")
	flag.IntVar(&o.rssN, "rss-n", 1_000_000, "tasks queued and drained for the memory workload")
	flag.StringVar(&o.only, "only", "", "run only these workloads, comma separated: a,b,c,d,e,h,r,s,tracing; tracing-control, never run by default, is the tracing row untraced on both sides")
	flag.BoolVar(&o.verbose, "v", false, "also print every run's figures, raw and jetq, in the order they ran")
	flag.Parse()
	if *role != "" {
		if err := runRole(*role, *url, o.rssN); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *quick {
		o.runs, o.tracingRuns, o.n, o.nSync, o.latency, o.rssN = 3, 5, 20_000, 5_000, 3*time.Second, 200_000
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// row is one line of the results table.
type row struct {
	workload, conn, unit string
	raw, jetq            []float64
	higherIsBetter       bool
	note                 string
	// pauses and paused count, per side (raw, jetq), the pauses of every
	// run of a row whose runs handle tasks, and their total length.
	pauses [2]int64
	paused [2]time.Duration
}

// add records v for one side: jetq's, or the raw baseline's.
func (r *row) add(jetqSide bool, v float64) {
	if jetqSide {
		r.jetq = append(r.jetq, v)
	} else {
		r.raw = append(r.raw, v)
	}
}

// addPauses adds the pauses of one run of one side.
func (r *row) addPauses(jetqSide bool, p *progress) {
	side := 0
	if jetqSide {
		side = 1
	}
	r.pauses[side] += p.pauses.Load()
	r.paused[side] += time.Duration(p.paused.Load())
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// pairedRatio is the median of jetq/raw over the runs, each run's two sides
// measured back to back.
func pairedRatio(raw, jetq []float64) float64 {
	rs := make([]float64, 0, len(raw))
	for i := range min(len(raw), len(jetq)) {
		if raw[i] > 0 {
			rs = append(rs, jetq[i]/raw[i])
		}
	}
	return median(rs)
}

// want reports whether workload w runs: all run when -only names none.
func (o options) want(w string) bool {
	return o.only == "" || o.asked(w)
}

// asked reports whether -only names workload w.
func (o options) asked(w string) bool {
	return slices.Contains(strings.Split(o.only, ","), w)
}

func run(ctx context.Context, o options) error {
	fmt.Printf("jetq bench: %d runs per side (%d for tracing), medians; %d tasks per throughput run\n", o.runs, o.tracingRuns, o.n)
	fmt.Printf("jetq/raw: the median of the runs' ratios, each run's sides measured back to back (the ratio of the medians)\n\n")
	var rows []row
	for _, conn := range []connKind{inProcess, loopbackTCP} {
		if o.want("a") {
			enq, e2e, flowing, cpu, err := measureBatch(ctx, o, conn, 16, 0)
			if err != nil {
				return err
			}
			rows = append(rows, enq, e2e, flowing, cpu)
		}
		if o.want("b") {
			for _, callers := range []int{8, 64} {
				r, err := measureSingle(ctx, o, conn, callers)
				if err != nil {
					return err
				}
				rows = append(rows, r)
			}
		}
		if o.want("c") {
			_, e2e, _, _, err := measureBatch(ctx, o, conn, 64, time.Millisecond)
			if err != nil {
				return err
			}
			rows = append(rows, e2e)
		}
	}
	if o.want("r") {
		rs, err := measureFollowUps(ctx, o)
		if err != nil {
			return err
		}
		rows = append(rows, rs...)
	}
	if o.want("d") {
		rs, err := measureLatency(ctx, o)
		if err != nil {
			return err
		}
		rows = append(rows, rs...)
	}
	if o.want("s") {
		rs, err := measureDelayed(ctx)
		if err != nil {
			return err
		}
		rows = append(rows, rs...)
	}
	if o.want("h") {
		enq, e2e, err := measureHeaders(ctx, o)
		if err != nil {
			return err
		}
		rows = append(rows, enq, e2e)
	}
	if o.want("tracing") {
		r, err := measureTracing(ctx, o, false)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	if o.asked("tracing-control") {
		r, err := measureTracing(ctx, o, true)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	printTable(rows)
	if o.verbose {
		printRuns(rows)
	}
	if o.want("e") {
		if err := measureRSS(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

func printTable(rows []row) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tconnection\tunit\traw\tjetq\tjetq/raw\t")
	for _, r := range rows {
		raw, jq := median(r.raw), median(r.jetq)
		ratio := "-"
		if raw > 0 {
			ratio = fmt.Sprintf("%.0f%% (%.0f%%)", 100*pairedRatio(r.raw, r.jetq), 100*jq/raw)
		}
		note := r.note
		if r.pauses != [2]int64{} {
			note = strings.TrimSpace(fmt.Sprintf("%s  pauses >= %v: %d (%.1f s) / %d (%.1f s)", note, pauseMin,
				r.pauses[0], r.paused[0].Seconds(), r.pauses[1], r.paused[1].Seconds()))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t  %s\n", r.workload, r.conn, r.unit, format(raw), format(jq), ratio, note)
	}
	tw.Flush()
	fmt.Println()
}

// printRuns lists each row's figures run by run, with each run's ratio; a
// row with no raw baseline, its jetq figures alone.
func printRuns(rows []row) {
	for _, r := range rows {
		fmt.Printf("%s, %s (%s), raw / jetq / ratio per run:\n", r.workload, r.conn, r.unit)
		if len(r.raw) == 0 {
			for _, v := range r.jetq {
				fmt.Printf("  %10s %10s %6s\n", "-", format(v), "-")
			}
			continue
		}
		for i := range min(len(r.raw), len(r.jetq)) {
			fmt.Printf("  %10s %10s %5.0f%%\n", format(r.raw[i]), format(r.jetq[i]), 100*r.jetq[i]/r.raw[i])
		}
	}
	fmt.Println()
}

func format(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3f", v)
}
