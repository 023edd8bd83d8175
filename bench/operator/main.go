// Command operator measures what an operator waits for on a large
// deployment: each task list's pages and the dashboard's overview, read
// through package inspect and through the dashboard's HTTP handler, on an
// embedded server holding 1 000 000 pending tasks across 20 types, 10 000
// tasks waiting to retry, 10 000 scheduled tasks and 100 000 dead letters.
//
//	go run ./bench/operator               # the full deployment: about X min to seed on 2 cores
//	go run ./bench/operator -scale 0.01   # every count a hundredth, for a quick look
//
// Each figure is the median and the slowest of -runs reads.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/dashboard"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
)

var quiet = slog.New(slog.DiscardHandler)

type env struct {
	srv  *embedded.Server
	nc   *nats.Conn
	js   jetstream.JetStream
	p    *producer.Producer
	in   *inspect.Inspector
	dash http.Handler
}

func main() {
	scale := flag.Float64("scale", 1, "multiply every count of the deployment by this")
	runs := flag.Int("runs", 11, "reads per figure")
	flag.Parse()
	if err := run(context.Background(), scaled(*scale), *runs); err != nil {
		fmt.Fprintln(os.Stderr, "operator:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, s sizes, runs int) error {
	dir, err := os.MkdirTemp("", "jetq-operator-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := embedded.Start(ctx, embedded.WithStoreDir(dir))
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	nc, err := srv.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	e := &env{srv: srv, nc: nc}
	if e.js, err = jetstream.New(nc); err != nil {
		return err
	}
	if e.p, err = producer.New(e.js, producer.WithLogger(quiet)); err != nil {
		return err
	}
	if e.in, err = inspect.New(e.js, inspect.WithLogger(quiet)); err != nil {
		return err
	}
	if e.dash, err = dashboard.New(e.js, dashboard.WithLogger(quiet)); err != nil {
		return err
	}
	start := time.Now()
	if err := e.seed(ctx, s); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Printf("seeded %d pending tasks across %d types, %d retrying, %d scheduled, %d dead letters in %s\n\n",
		s.pending, s.types, s.retrying, s.scheduled, s.letters, time.Since(start).Round(time.Second))
	return e.measure(ctx, runs)
}

// reading is one figure of the table.
type reading struct {
	what, target string
	read         func(ctx context.Context) error
}

func (e *env) measure(ctx context.Context, runs int) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "read\ttarget\tp50 ms\tmax ms\t")
	failed := false
	for _, r := range e.readings() {
		var ds []time.Duration
		var err error
		for range runs {
			t0 := time.Now()
			if err = r.read(ctx); err != nil {
				break
			}
			ds = append(ds, time.Since(t0))
		}
		if err != nil {
			failed = true
			fmt.Fprintf(tw, "%s\t%s\tfailed: %v\t\t\n", r.what, r.target, err)
			continue
		}
		slices.Sort(ds)
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t\n", r.what, r.target, ms(ds[len(ds)/2]), ms(ds[len(ds)-1]))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if failed {
		return errors.New("some reads failed")
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// get reads one dashboard page and fails on any status but 200.
func (e *env) get(path string) func(context.Context) error {
	return func(ctx context.Context) error {
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
		rec := httptest.NewRecorder()
		e.dash.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return fmt.Errorf("GET %s: %d %s", path, rec.Code, rec.Body.String())
		}
		_, err := io.Copy(io.Discard, rec.Body)
		return err
	}
}

// list reads the first page of q, and with deep the page after pages more.
func (e *env) list(q inspect.Query, deep int) func(context.Context) error {
	return func(ctx context.Context) error {
		for range deep + 1 {
			p, err := e.in.Tasks(ctx, q)
			if err != nil {
				return err
			}
			if len(p.Tasks) == 0 {
				return fmt.Errorf("no %s tasks listed", q.State)
			}
			q.Token = p.Next
		}
		return nil
	}
}

func (e *env) readings() []reading {
	return []reading{
		{"overview page (dashboard /)", "500", e.get("/")},
		{"pending, first page of 50", "300", e.list(inspect.Query{State: inspect.Pending}, 0)},
		{"pending of one type, first page", "300", e.list(inspect.Query{State: inspect.Pending, Task: "op.wait07"}, 0)},
		{"retrying, first page", "300", e.list(inspect.Query{State: inspect.Retrying}, 0)},
		{"scheduled, first page", "300", e.list(inspect.Query{State: inspect.Scheduled}, 0)},
		{"failed, first page", "300", e.list(inspect.Query{State: inspect.Failed}, 0)},
	}
}
