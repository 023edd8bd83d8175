package consumer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// ledger is what the handlers of a churn saw: per task ID, how often it
// was settled as done (the spy middleware's view of env.Outcome).
type ledger struct {
	mu    sync.Mutex
	acked map[string]int
}

func (l *ledger) spy(next tasks.Handler) tasks.Handler {
	return func(ctx context.Context, env *tasks.Envelope) error {
		err := next(ctx, env)
		if env.Outcome.Action == tasks.ActionAck {
			l.mu.Lock()
			l.acked[env.ID]++
			l.mu.Unlock()
		}
		return err
	}
}

// The churn of issue 24: three workers, a third of the tasks failing
// permanently at their first attempt only (a redelivery would succeed), and
// workers whose connection closes while they file a record: before the
// filing (it goes on in the background, then the worker stops by force)
// or after its acknowledgement (the Term is lost). Each worker that stops
// is replaced. No worker may panic, every task must end dead-lettered or
// done, and no dead-lettered task may have been acked. Run it many times
// with -count.
func TestChurnWithForcedStopsDuringFilings(t *testing.T) {
	t.Parallel()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	def := tasks.Define[Args]("test.churn", tasks.WithAckWait(time.Second))
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Args]) error {
		if tk.Payload.N%3 == 0 && tk.Attempt == 1 {
			return tasks.Permanent(errors.New("declined"))
		}
		return nil
	})
	l := &ledger{acked: map[string]int{}}
	var filings, stops atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	defer workers.Wait()
	defer cancel()
	for range 3 {
		workers.Go(func() {
			for ctx.Err() == nil {
				nc, wjs := embeddedtest.Connect(t, srv)
				cut := func(next tasks.Enqueuer) tasks.Enqueuer {
					return func(ctx context.Context, batch []*tasks.Envelope) []error {
						switch filings.Add(1) % 4 {
						case 1: // the filing fails; the retries in the background meet a stop
							nc.Close()
						case 3: // the record is stored; its Term is lost
							errs := next(ctx, batch)
							nc.Close()
							return errs
						}
						return next(ctx, batch)
					}
				}
				w, err := consumer.New(wjs, reg, consumer.WithLogger(testkit.Logger(t)), consumer.WithConcurrency(4),
					consumer.WithMiddleware(l.spy), consumer.WithDeadLetterMiddleware(cut))
				if err != nil {
					t.Error(err)
					return
				}
				if err := w.Run(ctx); errors.Is(err, consumer.ErrConnectionClosed) {
					stops.Add(1)
				} else if err != nil {
					t.Errorf("Run: %v", err)
				}
				nc.Close()
			}
		})
	}

	const n = 120
	args := make([]Args, n)
	for i := range args {
		args[i] = Args{N: i}
	}
	rs, err := producer.EnqueueBatch(context.Background(), p, def, args)
	if err != nil {
		t.Fatal(err)
	}
	dead := map[string]int{}
	testkit.WaitFor(t, 90*time.Second, func() error {
		if err := workQueueEmpty(js); err != nil {
			return err
		}
		var err error
		if dead, err = deadLettered(js); err != nil {
			return err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, r := range rs {
			if dead[r.ID] == 0 && l.acked[r.ID] == 0 {
				return fmt.Errorf("task %s neither dead-lettered nor done yet", r.ID)
			}
		}
		return nil
	})
	cancel()
	workers.Wait()
	// The server's word on how each dead-lettered task left the work
	// stream: a Term leaves an advisory in JETQ_EVENTS, an ack none. (The
	// spy's acks may not have reached the server.)
	recs, err := deadRecords(js)
	if err != nil {
		t.Fatal(err)
	}
	termed, err := terminated(js)
	if err != nil {
		t.Fatal(err)
	}
	both := 0
	for _, r := range recs {
		if !termed[r.seq] {
			both++
			t.Errorf("task %s (seq %d) is dead-lettered and was acked, not terminated", r.id, r.seq)
		}
		if dead[r.id] > 1 {
			t.Errorf("task %s has %d records, want 1", r.id, dead[r.id])
		}
	}
	t.Logf("%d tasks: %d filings, %d forced stops, %d records, %d both dead-lettered and acked", n, filings.Load(), stops.Load(), len(recs), both)
	if stops.Load() == 0 {
		t.Error("no worker was stopped during a filing: the churn tested nothing")
	}
}

// deadRecord is a dead-letter record: its task's ID and work stream sequence.
type deadRecord struct {
	id  string
	seq uint64
}

// deadRecords reads every dead-letter record.
func deadRecords(js jetstream.JetStream) ([]deadRecord, error) {
	var out []deadRecord
	err := eachMsg(js, "JETQ_DLQ", func(m *jetstream.RawStreamMsg) error {
		seq, err := strconv.ParseUint(m.Header.Get("Jetq-Dlq-Seq"), 10, 64)
		out = append(out, deadRecord{id: m.Header.Get("Jetq-Id"), seq: seq})
		return err
	})
	return out, err
}

// terminated is the set of work stream sequences the server saw terminated.
func terminated(js jetstream.JetStream) (map[uint64]bool, error) {
	out := map[uint64]bool{}
	err := eachMsg(js, "JETQ_EVENTS", func(m *jetstream.RawStreamMsg) error {
		var adv struct {
			Type      string `json:"type"`
			StreamSeq uint64 `json:"stream_seq"`
		}
		if err := json.Unmarshal(m.Data, &adv); err != nil {
			return err
		}
		if strings.HasSuffix(adv.Type, "terminated") {
			out[adv.StreamSeq] = true
		}
		return nil
	})
	return out, err
}

// eachMsg calls f with each message of stream, oldest first; a missing
// stream has none.
func eachMsg(js jetstream.JetStream, stream string, f func(*jetstream.RawStreamMsg) error) error {
	s, err := js.Stream(context.Background(), stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	info, err := s.Info(context.Background())
	if err != nil {
		return err
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := f(m); err != nil {
			return err
		}
	}
	return nil
}

// deadLettered counts the dead-letter records per task ID.
func deadLettered(js jetstream.JetStream) (map[string]int, error) {
	out := map[string]int{}
	err := eachMsg(js, "JETQ_DLQ", func(m *jetstream.RawStreamMsg) error {
		out[m.Header.Get("Jetq-Id")]++
		return nil
	})
	return out, err
}
