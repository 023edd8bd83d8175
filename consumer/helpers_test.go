package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jetq/jetq/internal/testkit"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Args is the payload of the test tasks.
type Args struct {
	N    int    `json:"n"`
	Note string `json:"note,omitempty"`
}

// Validate refuses negative numbers.
func (a Args) Validate() error {
	if a.N < 0 {
		return fmt.Errorf("n must not be negative, got %d", a.N)
	}
	return nil
}

type bundle struct {
	srv *embedded.Server
	js  jetstream.JetStream
	p   *producer.Producer
}

func setup(t *testing.T) *bundle {
	t.Helper()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	return &bundle{srv: srv, js: js, p: jetqtest.NewProducer(t, js)}
}

// recorder collects calls made to a handler.
type recorder struct {
	mu    sync.Mutex
	calls []call
	ch    chan call
}

type call struct {
	task *tasks.Task[Args]
	at   time.Time
}

func newRecorder() *recorder { return &recorder{ch: make(chan call, 100000)} }

func (r *recorder) record(t *tasks.Task[Args]) {
	c := call{task: t, at: time.Now()}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	r.ch <- c
}

// next waits for the next call.
func (r *recorder) next(t *testing.T, within time.Duration) call {
	t.Helper()
	select {
	case c := <-r.ch:
		return c
	case <-time.After(within):
		t.Fatalf("no handler call within %v", within)
		return call{}
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// dlqRecords waits until the dead-letter stream holds want records and
// returns them.
func dlqRecords(t *testing.T, js jetstream.JetStream, want int) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var s jetstream.Stream
	testkit.WaitFor(t, 30*time.Second, func() error {
		var err error
		if s, err = js.Stream(ctx, "JETQ_DLQ"); err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		if got := info.State.Msgs; got != uint64(want) {
			return fmt.Errorf("dead-letter records: got %d, want %d", got, want)
		}
		return nil
	})
	info, _ := s.Info(ctx)
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// workEmpty waits until the work stream holds no task.
func workEmpty(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	testkit.WaitFor(t, 30*time.Second, func() error { return workQueueEmpty(js) })
}

// workQueueEmpty says why the work stream is not empty, if it is not.
func workQueueEmpty(js jetstream.JetStream) error {
	s, err := js.Stream(context.Background(), "JETQ_TASKS")
	if err != nil {
		return err
	}
	info, err := s.Info(context.Background())
	if err != nil {
		return err
	}
	if info.State.Msgs != 0 {
		return fmt.Errorf("work stream holds %d tasks", info.State.Msgs)
	}
	return nil
}

// logBook is a slog handler that keeps the messages it is given, and passes
// them on to the test log.
type logBook struct {
	slog.Handler
	mu   *sync.Mutex
	msgs *[]string
}

func newLogBook(t *testing.T) (*slog.Logger, func(msg string) bool) {
	b := logBook{Handler: testkit.Logger(t).Handler(), mu: &sync.Mutex{}, msgs: &[]string{}}
	has := func(msg string) bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, m := range *b.msgs {
			if m == msg {
				return true
			}
		}
		return false
	}
	return slog.New(b), has
}

func (b logBook) Handle(ctx context.Context, r slog.Record) error {
	b.mu.Lock()
	*b.msgs = append(*b.msgs, r.Message)
	b.mu.Unlock()
	return b.Handler.Handle(ctx, r)
}

func (b logBook) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logBook{Handler: b.Handler.WithAttrs(attrs), mu: b.mu, msgs: b.msgs}
}
