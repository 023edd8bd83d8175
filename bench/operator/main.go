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
	rs, err := e.readings(ctx)
	if err != nil {
		return err
	}
	for _, r := range rs {
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
func (e *env) list(first inspect.Query, deep int) func(context.Context) error {
	return func(ctx context.Context) error {
		q := first
		for range deep + 1 {
			p, err := e.in.Tasks(ctx, q)
			if err != nil {
				return err
			}
			if len(p.Tasks) == 0 {
				return fmt.Errorf("no %s tasks listed (scanned %d, partial %v, next %q)", q.State, p.Scanned, p.Partial, p.Next)
			}
			q.Token = p.Next
		}
		return nil
	}
}

// deepToken is the token of the page of q that starts pages pages in.
func (e *env) deepToken(ctx context.Context, q inspect.Query, pages int) (string, error) {
	for range pages {
		p, err := e.in.Tasks(ctx, q)
		if err != nil {
			return "", err
		}
		q.Token = p.Next
	}
	return q.Token, nil
}

func (e *env) readings(ctx context.Context) ([]reading, error) {
	pending := inspect.Query{State: inspect.Pending}
	deep, err := e.deepToken(ctx, pending, 200)
	if err != nil {
		return nil, err
	}
	deepQ := pending
	deepQ.Token = deep
	where, err := inspect.ParseMatch("customer=7")
	if err != nil {
		return nil, err
	}
	return []reading{
		{"overview page (dashboard /)", "500", e.get("/")},
		{"overview refresh (dashboard /api/overview)", "500", e.get("/api/overview")},
		{"queues (inspect Queues)", "500", func(ctx context.Context) error { _, err := e.in.Queues(ctx); return err }},
		{"history, last hour (inspect History)", "500", func(ctx context.Context) error {
			_, err := e.in.History(ctx, inspect.HistoryQuery{})
			return err
		}},
		{"pending, first page of 50", "300", e.list(pending, 0)},
		{"pending, the page 10 000 tasks in", "300", e.list(deepQ, 0)},
		{"pending of one type, first page", "300", e.list(inspect.Query{State: inspect.Pending, Task: "op.wait07"}, 0)},
		{"pending, payload filter customer=7 (scan bound)", "300", e.list(inspect.Query{State: inspect.Pending, Where: where}, 0)},
		{"retrying, first page", "300", e.list(inspect.Query{State: inspect.Retrying}, 0)},
		{"scheduled, first page", "300", e.list(inspect.Query{State: inspect.Scheduled}, 0)},
		{"failed, first page", "300", e.list(inspect.Query{State: inspect.Failed}, 0)},
		{"page /tasks/pending", "300", e.get("/tasks/pending")},
		{"page /tasks/pending?task=op.wait07", "300", e.get("/tasks/pending?task=op.wait07")},
		{"page /tasks/running", "300", e.get("/tasks/running")},
		{"page /tasks/retrying", "300", e.get("/tasks/retrying")},
		{"page /tasks/scheduled", "300", e.get("/tasks/scheduled")},
		{"page /tasks/completed", "300", e.get("/tasks/completed")},
		{"page /tasks/failed", "300", e.get("/tasks/failed")},
		{"page /dlq", "300", e.get("/dlq")},
		{"page /scheduled", "300", e.get("/scheduled")},
		{"page /workers", "300", e.get("/workers")},
	}, nil
}
