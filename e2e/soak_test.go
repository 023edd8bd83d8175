package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

var (
	soakFor  = flag.Duration("soak", 0, "run TestSoak for this long (e.g. 3m); 0 leaves it out")
	soakRate = flag.Int("soak.rate", 100, "tasks TestSoak enqueues per second")
)

// soakAckWait is the ack wait of the soak's tasks: a delivery lost in a
// restart shows as a wait of about this long.
const soakAckWait = 5 * time.Second

// soakDelivery is one delivery a handler of the soak saw.
type soakDelivery struct {
	attempt    int
	start, end time.Time
	outcome    tasks.Outcome
}

// soakLedger is what the soak enqueued and what its workers saw.
type soakLedger struct {
	mu         sync.Mutex
	enqueued   map[string]time.Time // ID → when it was due
	deliveries map[string][]soakDelivery
}

func (l *soakLedger) due(id string, at time.Time) {
	l.mu.Lock()
	l.enqueued[id] = at
	l.mu.Unlock()
}

// spy records every delivery that reaches a worker's middleware.
func (l *soakLedger) spy(next tasks.Handler) tasks.Handler {
	return func(ctx context.Context, env *tasks.Envelope) error {
		d := soakDelivery{attempt: env.Attempt, start: time.Now()}
		err := next(ctx, env)
		d.end, d.outcome = time.Now(), env.Outcome
		l.mu.Lock()
		l.deliveries[env.ID] = append(l.deliveries[env.ID], d)
		l.mu.Unlock()
		return err
	}
}

// TestSoak runs a steady load for -soak: tasks that succeed, retry,
// fail permanently at their first attempt (a second run would succeed),
// run late (WithDelay), carry unique keys or take seconds; three workers,
// each replaced every 20 s with a 1 s shutdown deadline, so busy ones are
// stopped by force. At the end nothing is missing, nothing is both done and
// dead-lettered, and the presence bucket is empty once the workers are
// gone; deliveries that waited out an ack wait are counted and reported.
func TestSoak(t *testing.T) {
	if *soakFor == 0 {
		t.Skip("a soak of minutes: run it with -soak 3m")
	}
	quiet := slog.New(slog.DiscardHandler)
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	p, err := producer.New(js, producer.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	opts := []tasks.Option{tasks.WithAckWait(soakAckWait), tasks.WithMaxAttempts(10),
		tasks.WithBackoff(tasks.Backoff{Initial: 100 * time.Millisecond, Max: 500 * time.Millisecond})}
	defs := map[string]*tasks.Definition[Kind]{}
	for _, name := range []string{"ok", "retry", "permanent", "delayed", "unique", "slow"} {
		defs[name] = tasks.Define[Kind]("soak."+name, opts...)
	}
	reg := tasks.NewRegistry()
	for name, def := range defs {
		tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Kind]) error {
			switch name {
			case "retry":
				if tk.Attempt < 3 {
					return tasks.RetryAfter(200*time.Millisecond, errors.New("not yet"))
				}
			case "permanent":
				if tk.Attempt == 1 {
					return tasks.Permanent(errors.New("declined"))
				}
			case "slow":
				select {
				case <-time.After(time.Duration(1000+rand.IntN(2000)) * time.Millisecond):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}
	l := &soakLedger{enqueued: map[string]time.Time{}, deliveries: map[string][]soakDelivery{}}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stops atomic.Int32
	var workers sync.WaitGroup
	for i := range 3 {
		workers.Go(func() {
			// Staggered: one worker is replaced about every 7 s.
			next := time.Now().Add(time.Duration(7*(i+1)) * time.Second)
			for ctx.Err() == nil {
				_, wjs := embeddedtest.Connect(t, srv)
				w, err := consumer.New(wjs, reg, consumer.WithLogger(quiet), consumer.WithConcurrency(8), consumer.WithMiddleware(l.spy))
				if err != nil {
					t.Error(err)
					return
				}
				ran := make(chan error, 1)
				go func() { ran <- w.Run(context.Background()) }()
				select {
				case <-ctx.Done():
				case <-time.After(time.Until(next)):
				}
				next = time.Now().Add(20 * time.Second)
				sctx, scancel := context.WithTimeout(context.Background(), time.Second)
				_ = w.Shutdown(sctx) // busy or not: past 1 s, handlers are abandoned
				scancel()
				if err := <-ran; err != nil {
					t.Errorf("Run: %v", err)
				}
				stops.Add(1)
			}
		})
	}

	start := time.Now()
	// One task in 40 takes seconds: about 5 of the 24 slots at 100/s,
	// enough for every restart to meet busy handlers.
	names := []string{"ok", "ok", "ok", "retry", "permanent", "delayed", "unique", "ok"}
	tick := time.NewTicker(time.Second / time.Duration(*soakRate))
	for n := 0; time.Since(start) < *soakFor; n++ {
		<-tick.C
		name := names[n%len(names)]
		if n%40 == 7 {
			name = "slow"
		}
		due := time.Now()
		var eopts []producer.EnqueueOption
		switch name {
		case "delayed":
			d := time.Duration(1+rand.IntN(5)) * time.Second
			due = due.Add(d)
			eopts = append(eopts, producer.WithDelay(d))
		case "unique":
			eopts = append(eopts, producer.WithUnique(fmt.Sprintf("key-%d", n), time.Minute))
		}
		r, err := producer.Enqueue(ctx, p, defs[name], Kind{Do: name}, eopts...)
		if err != nil {
			t.Fatalf("enqueue %d: %v", n, err)
		}
		l.due(r.ID, due)
	}
	tick.Stop()
	t.Logf("enqueued %d tasks in %v", len(l.enqueued), time.Since(start).Round(time.Second))

	dead := map[string]int{}
	testkit.WaitFor(t, 2*time.Minute, func() error {
		var err error
		if dead, err = soakRecords(js); err != nil {
			return err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		open := 0
		for id := range l.enqueued {
			if dead[id] == 0 && !soakDone(l.deliveries[id]) {
				open++
			}
		}
		if open > 0 {
			return fmt.Errorf("%d tasks neither done nor dead-lettered", open)
		}
		return nil
	})
	cancel()
	workers.Wait()
	testkit.WaitFor(t, 15*time.Second, func() error {
		n, err := streamMsgsErr(js, "KV_JETQ_WORKERS")
		if err == nil && n != 0 {
			err = fmt.Errorf("presence bucket holds %d messages after %d stops", n, stops.Load())
		}
		return err
	})

	l.mu.Lock()
	defer l.mu.Unlock()
	var both, deliveries, gaps, lost, waited int
	var lateness []time.Duration
	for id, due := range l.enqueued {
		ds := l.deliveries[id]
		deliveries += len(ds)
		if dead[id] > 0 && soakDone(ds) {
			both++
			t.Errorf("task %s is dead-lettered and done", id)
		}
		slices.SortFunc(ds, func(a, b soakDelivery) int { return a.start.Compare(b.start) })
		// When each delivery could have come at the earliest: the task's
		// due time, then the end of the one before, plus its retry delay.
		ready, last := due, 0
		for _, d := range ds {
			late := d.start.Sub(ready)
			lateness = append(lateness, late)
			if late >= soakAckWait-500*time.Millisecond {
				waited++
			}
			if d.attempt > last+1 {
				gaps++ // deliveries no handler saw: handed back unrun, or lost
				if late >= soakAckWait-500*time.Millisecond {
					lost++ // lost: it waited out the ack wait
				}
			}
			ready, last = d.end.Add(d.outcome.Delay), d.attempt
		}
	}
	slices.Sort(lateness)
	q := func(f float64) time.Duration {
		return lateness[int(f*float64(len(lateness)-1))].Round(time.Millisecond)
	}
	records := 0
	for _, n := range dead {
		records += n
	}
	t.Logf("%d tasks, %d deliveries, %d dead-letter records, %d worker stops; both done and dead-lettered: %d; "+
		"deliveries after an unseen one: %d, of which %d came an ack wait late; deliveries later than %v: %d; lateness p50 %v p99 %v max %v",
		len(l.enqueued), deliveries, records, stops.Load(), both, gaps, lost, soakAckWait-500*time.Millisecond, waited, q(0.5), q(0.99), q(1))
}

// soakDone reports whether one of ds was settled as done.
func soakDone(ds []soakDelivery) bool {
	return slices.ContainsFunc(ds, func(d soakDelivery) bool { return d.outcome.Action == tasks.ActionAck })
}

// soakRecords counts the dead-letter records per task ID.
func soakRecords(js jetstream.JetStream) (map[string]int, error) {
	out := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "JETQ_DLQ")
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	for left := info.State.Msgs; left > 0; left-- {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			return nil, err
		}
		out[m.Headers().Get("Jetq-Id")]++
	}
	return out, nil
}

// streamMsgsErr is how many messages stream holds.
func streamMsgsErr(js jetstream.JetStream, stream string) (uint64, error) {
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(context.Background())
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}
