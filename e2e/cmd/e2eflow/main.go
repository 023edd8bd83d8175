package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/dlq"
	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
	"github.com/jetq/jetq/workflow"
)

func main() {
	servers := flag.String("servers", nats.DefaultURL, "NATS URLs, comma separated")
	out := flag.String("out", "", "file to append the handlers' lines to")
	name := flag.String("name", "e2eflow", "worker name")
	replicas := flag.Int("replicas", 3, "stream and consumer replicas")
	concurrency := flag.Int("concurrency", 8, "handlers at once")
	flag.Parse()
	if err := run(*servers, *out, *name, *replicas, *concurrency); err != nil {
		fmt.Fprintln(os.Stderr, "e2eflow:", err)
		os.Exit(1)
	}
}

func run(servers, out, name string, replicas, concurrency int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("worker", name)
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	var mu sync.Mutex
	line := func(format string, args ...any) error {
		mu.Lock()
		defer mu.Unlock()
		_, err := fmt.Fprintf(f, format+"\n", args...)
		return err
	}
	nc, err := nats.Connect(servers, e2etask.ConnectOptions(name)...)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	topo := topology.Topology{Replicas: replicas}

	reg := tasks.NewRegistry()
	tasks.MustHandleResult(reg, e2etask.Member(), func(ctx context.Context, t *tasks.Task[e2etask.MemberArgs]) (e2etask.MemberResult, error) {
		a := t.Payload
		start := time.Now()
		if err := work(ctx, a.WorkMillis); err != nil {
			return e2etask.MemberResult{}, err
		}
		outcome := "ok"
		if rand.IntN(100) < a.FailPercent {
			outcome = "fail"
		}
		if err := line("member %d %d %s %d %s %d %d %s", a.Chord, a.Index, t.ID, t.Attempt, name, start.UnixNano(), time.Now().UnixNano(), outcome); err != nil {
			return e2etask.MemberResult{}, err
		}
		if outcome == "fail" {
			return e2etask.MemberResult{}, errors.New("e2e: a random failure")
		}
		return e2etask.MemberResult{Chord: a.Chord, Index: a.Index, Value: e2etask.MemberValue(a.Chord, a.Index)}, nil
	})
	tasks.MustHandleResult(reg, e2etask.ChordDone(), func(ctx context.Context, t *tasks.Task[e2etask.ChordArgs]) (int, error) {
		a := t.Payload
		if err := line("cstart %d %s %d %s %d", a.Chord, t.ID, t.Attempt, name, time.Now().UnixNano()); err != nil {
			return 0, err
		}
		rs, err := workflow.Results[e2etask.MemberResult](ctx)
		verdict, sum := "ok", 0
		values := make([]string, len(rs))
		for i, r := range rs {
			values[i] = strconv.Itoa(r.Value)
			sum += r.Value
			if r.Chord != a.Chord || r.Index != i || r.Value != e2etask.MemberValue(a.Chord, i) {
				verdict = fmt.Sprintf("bad:result-%d-is-%d/%d/%d", i, r.Chord, r.Index, r.Value)
			}
		}
		switch {
		case err != nil:
			verdict = "bad:" + strings.ReplaceAll(err.Error(), " ", "_")
		case len(rs) != a.Members:
			verdict = fmt.Sprintf("bad:%d-results-want-%d", len(rs), a.Members)
		}
		if len(values) == 0 {
			values = []string{"-"}
		}
		if err := line("cend %d %s %d %s %d %s %s", a.Chord, t.ID, t.Attempt, name, time.Now().UnixNano(), verdict, strings.Join(values, ",")); err != nil {
			return 0, err
		}
		if verdict != "ok" {
			return 0, tasks.Permanent(errors.New("e2e: the callback's results are wrong: " + verdict))
		}
		return sum, nil
	})
	tasks.MustHandleResult(reg, e2etask.Echo(), func(ctx context.Context, t *tasks.Task[e2etask.EchoArgs]) (int, error) {
		if err := work(ctx, t.Payload.WorkMillis); err != nil {
			return 0, err
		}
		return 2 * t.Payload.N, line("echo %s %d", t.ID, time.Now().UnixNano())
	})

	fwd, err := dlq.NewForwarder(js, dlq.WithLogger(log), dlq.WithTopology(topo))
	if err != nil {
		return err
	}
	w, err := consumer.New(js, reg, consumer.WithLogger(log), consumer.WithTopology(topo),
		consumer.WithConcurrency(concurrency), consumer.WithShutdownTimeout(5*time.Second))
	if err != nil {
		return err
	}
	fwdDone := make(chan error, 1)
	go func() { fwdDone <- fwd.Run(ctx) }()
	err = w.Run(ctx)
	stop()
	return errors.Join(err, <-fwdDone)
}

// work waits ms milliseconds, or until ctx is done.
func work(ctx context.Context, ms int) error {
	if ms <= 0 {
		return nil
	}
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
