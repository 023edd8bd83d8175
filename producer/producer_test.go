package producer_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

type Email struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
}

func (e Email) Validate() error {
	if !strings.Contains(e.To, "@") {
		return errors.New("to: not an email address")
	}
	return nil
}

var sendEmail = tasks.Define[Email]("email.send")

func newProducer(t *testing.T, opts ...producer.Option) (*producer.Producer, jetstream.JetStream) {
	t.Helper()
	js := embeddedtest.JetStream(t)
	p, err := producer.New(js, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p, js
}

var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestEnqueueStoresEnvelope(t *testing.T) {
	t.Parallel()
	p, js := newProducer(t)
	ctx := context.Background()
	r, err := producer.Enqueue(ctx, p, sendEmail, Email{To: "ada@example.com", Subject: "hi"}, producer.WithHeader("X-Tenant", "acme"))
	if err != nil {
		t.Fatal(err)
	}
	if !uuidV7.MatchString(r.ID) || r.Stream != "JETQ_TASKS" || r.Sequence != 1 || r.Duplicate {
		t.Fatalf("result %+v", r)
	}
	s, err := js.Stream(ctx, "JETQ_TASKS")
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(ctx, r.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "jetq.task.default.email.send" {
		t.Errorf("subject %q", m.Subject)
	}
	// Only what the subject and the stream do not say: queue and task are
	// the subject's, the enqueue time the stream's, JSON and version 1 the
	// defaults.
	want := map[string]string{"Nats-Msg-Id": r.ID, "X-Tenant": "acme"}
	// What a direct get adds to the stored message (the work stream allows
	// them) is the server's, not the producer's.
	direct := map[string]bool{jetstream.StreamHeader: true, jetstream.SubjectHeader: true,
		jetstream.SequenceHeader: true, jetstream.TimeStampHeaer: true}
	for k := range m.Header {
		if _, ok := want[k]; !ok && !direct[k] {
			t.Errorf("header %s: %q, want none", k, m.Header.Get(k))
		}
	}
	for k, v := range want {
		if got := m.Header.Get(k); got != v {
			t.Errorf("header %s: got %q, want %q", k, got, v)
		}
	}
	if got, want := string(m.Data), `{"to":"ada@example.com","subject":"hi"}`; got != want {
		t.Errorf("body %s, want %s", got, want)
	}
}

func TestGeneratedIDsAreUniqueAndOrdered(t *testing.T) {
	t.Parallel()
	p, _ := newProducer(t)
	payloads := make([]Email, 2000)
	for i := range payloads {
		payloads[i] = Email{To: "a@b.c"}
	}
	rs, err := producer.EnqueueBatch(context.Background(), p, sendEmail, payloads)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(rs); i++ {
		if rs[i].ID <= rs[i-1].ID {
			t.Fatalf("IDs out of order at %d: %s then %s", i, rs[i-1].ID, rs[i].ID)
		}
	}
}

func TestInvalidInputIsRefusedAndNothingEnqueued(t *testing.T) {
	t.Parallel()
	p, js := newProducer(t)
	ctx := context.Background()
	if _, err := producer.Enqueue(ctx, p, sendEmail, Email{To: "a@b.c"}); err != nil {
		t.Fatal(err) // creates the streams
	}
	var zero tasks.Definition[Email]
	for name, tc := range map[string]struct {
		run      func() error
		want     error
		mentions string
	}{
		"payload fails Validate": {func() error {
			_, err := producer.Enqueue(ctx, p, sendEmail, Email{To: "nobody"})
			return err
		}, tasks.ErrInvalidPayload, "to: not an email address"},
		"payload does not encode": {func() error {
			_, err := producer.Enqueue(ctx, p, tasks.Define[chan int]("bad.payload"), make(chan int))
			return err
		}, tasks.ErrInvalidPayload, "unsupported type"},
		"batch with one bad payload": {func() error {
			_, err := producer.EnqueueBatch(ctx, p, sendEmail, []Email{{To: "a@b.c"}, {To: "x"}})
			return err
		}, tasks.ErrInvalidPayload, "task 1 of 2"},
		"zero definition": {func() error {
			_, err := producer.Enqueue(ctx, p, &zero, Email{To: "a@b.c"})
			return err
		}, tasks.ErrInvalidName, "task name is empty"},
		"nil definition": {func() error {
			_, err := producer.Enqueue(ctx, p, (*tasks.Definition[Email])(nil), Email{To: "a@b.c"})
			return err
		}, tasks.ErrInvalidName, "task name is empty"},
		"reserved header": {func() error {
			_, err := producer.Enqueue(ctx, p, sendEmail, Email{To: "a@b.c"}, producer.WithHeader("Nats-Msg-Id", "x"))
			return err
		}, producer.ErrInvalidOption, "reserved"},
		"ID with a space": {func() error {
			_, err := producer.Enqueue(ctx, p, sendEmail, Email{To: "a@b.c"}, producer.WithID("a b"))
			return err
		}, producer.ErrInvalidOption, "space"},
		"WithID on a batch": {func() error {
			_, err := producer.EnqueueBatch(ctx, p, sendEmail, []Email{{To: "a@b.c"}}, producer.WithID("x"))
			return err
		}, producer.ErrInvalidOption, "WithIDs"},
		"empty ID": {func() error {
			_, err := producer.Enqueue(ctx, p, sendEmail, Email{To: "a@b.c"}, producer.WithID(""))
			return err
		}, producer.ErrInvalidOption, "task ID must be 1 to 200 bytes, got 0"},
		"empty ID in a batch": {func() error {
			_, err := producer.EnqueueBatch(ctx, p, sendEmail, []Email{{To: "a@b.c"}}, producer.WithIDs(""))
			return err
		}, producer.ErrInvalidOption, "task 0: producer: invalid option: task ID must be 1 to 200 bytes, got 0"},
		"empty WithID on a batch": {func() error {
			_, err := producer.EnqueueBatch(ctx, p, sendEmail, []Email{{To: "a@b.c"}}, producer.WithID(""))
			return err
		}, producer.ErrInvalidOption, "WithIDs"},
	} {
		err := tc.run()
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.mentions) {
			t.Errorf("%s: got %v, want an error wrapping %v that mentions %q", name, err, tc.want, tc.mentions)
		}
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 1 {
		t.Errorf("work stream holds %d tasks, want only the first", n)
	}
}

func TestInvalidTaskNamesAreRefused(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "Email.Send", "email..send", "email send", "email.*", "email.>", ".email", strings.Repeat("a", 201)} {
		if _, err := tasks.New[Email](name); !errors.Is(err, tasks.ErrInvalidName) {
			t.Errorf("tasks.New(%q): got %v, want ErrInvalidName", name, err)
		}
	}
	if _, err := tasks.New[Email]("ok.name", tasks.WithQueue("Bad Queue")); !errors.Is(err, tasks.ErrInvalidName) {
		t.Errorf("bad queue: got %v", err)
	}
	// Each passes on its own; the durable consumer queue:name would be 265 bytes.
	if _, err := tasks.New[Email](strings.Repeat("a", 200), tasks.WithQueue(strings.Repeat("q", 64))); !errors.Is(err, tasks.ErrInvalidName) {
		t.Errorf("name and queue too long together: got %v, want ErrInvalidName", err)
	}
}

func TestFullQueueIsTypedError(t *testing.T) {
	t.Parallel()
	p, js := newProducer(t, producer.WithTopology(topology.Topology{MaxTasks: 3}))
	ctx := context.Background()
	rs, err := producer.EnqueueBatch(ctx, p, sendEmail, []Email{{To: "a@b.c"}, {To: "a@b.c"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("results %v", rs)
	}
	if _, err := producer.Enqueue(ctx, p, sendEmail, Email{To: "a@b.c"}); err != nil {
		t.Fatal(err)
	}
	_, err = producer.Enqueue(ctx, p, sendEmail, Email{To: "a@b.c"})
	if !errors.Is(err, producer.ErrQueueFull) || !errors.Is(err, producer.ErrRetryable) {
		t.Fatalf("fourth enqueue: got %v, want ErrQueueFull, retryable", err)
	}
	rs, err = producer.EnqueueBatch(ctx, p, sendEmail, []Email{{To: "a@b.c"}, {To: "a@b.c"}})
	var be *producer.BatchError
	if !errors.Is(err, producer.ErrQueueFull) || !errors.As(err, &be) || be.Failed != 2 || be.Total != 2 {
		t.Fatalf("batch on a full queue: got %v", err)
	}
	for i, r := range rs {
		if !errors.Is(r.Err, producer.ErrQueueFull) {
			t.Errorf("result %d: %v", i, r.Err)
		}
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 3 {
		t.Errorf("work stream holds %d, want 3 (nothing evicted)", n)
	}
}

// TestUnansweredEnqueueGivesUp publishes to a subject that a core NATS
// subscriber takes but nobody stores: the acknowledgement never comes, as
// when the stream's leader is lost after the publish. Each kind of ctx ends
// the wait its own way.
func TestUnansweredEnqueueGivesUp(t *testing.T) {
	t.Parallel()
	p, js := newProducer(t, producer.WithAckTimeout(100*time.Millisecond), producer.WithRetryTimeout(300*time.Millisecond))
	if err := p.Provision(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(context.Background(), "JETQ_TASKS"); err != nil {
		t.Fatal(err)
	}
	var taken atomic.Int64
	sub, err := js.Conn().Subscribe("jetq.task.>", func(*nats.Msg) { taken.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe() //nolint:errcheck
	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()
	for name, ctx := range map[string]context.Context{"background": context.Background(), "cancellable": cancellable} {
		before := taken.Load()
		_, err := producer.Enqueue(ctx, p, sendEmail, Email{To: "a@b.c"})
		if !errors.Is(err, nats.ErrTimeout) || !strings.Contains(err.Error(), "no acknowledgement within 100ms") {
			t.Errorf("%s ctx: got %v, want a timeout after retries", name, err)
		}
		if !errors.Is(err, producer.ErrUnavailable) || !errors.Is(err, producer.ErrRetryable) || !strings.Contains(err.Error(), "may be stored; retry with the same ID") {
			t.Errorf("%s ctx: got %v, want ErrUnavailable, retryable, saying the task may be stored", name, err)
		}
		// The subscriber counts on its own goroutine: wait for the count.
		if err := testkit.Poll(10*time.Second, func() error {
			if n := taken.Load() - before; n < 2 {
				return fmt.Errorf("published %d times, want the first try and at least one retry", n)
			}
			return nil
		}); err != nil {
			t.Errorf("%s ctx: %v", name, err)
		}
	}
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if _, err := producer.Enqueue(short, p, sendEmail, Email{To: "a@b.c"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ctx ending before the ack timeout: got %v, want its DeadlineExceeded", err)
	}
}

func TestDuplicateIDs(t *testing.T) {
	t.Parallel()
	p, js := newProducer(t)
	ctx := context.Background()
	ids := []string{"a", "b", "c"}
	first, err := producer.EnqueueBatch(ctx, p, sendEmail, []Email{{To: "a@b.c"}, {To: "a@b.c"}, {To: "a@b.c"}}, producer.WithIDs(ids...))
	if err != nil {
		t.Fatal(err)
	}
	again, err := producer.EnqueueBatch(ctx, p, sendEmail, []Email{{To: "a@b.c"}, {To: "a@b.c"}, {To: "a@b.c"}}, producer.WithIDs(ids...))
	if err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		if first[i].Duplicate || !again[i].Duplicate || first[i].Sequence != again[i].Sequence || again[i].ID != ids[i] {
			t.Errorf("%s: first %+v, again %+v", ids[i], first[i], again[i])
		}
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 3 {
		t.Errorf("work stream holds %d, want 3", n)
	}
}

// TestBatchSurvivesDisconnect cuts the producer's TCP connection from the
// server side in the middle of a batch: the futures that fail with
// ErrDisconnected are published again with the same ID, and the server's
// deduplication keeps every task exactly once.
func TestBatchSurvivesDisconnect(t *testing.T) {
	t.Parallel()
	srv := embeddedtest.Server(t, embedded.WithListen("127.0.0.1:0"))
	nc, js := embeddedtest.Connect(t, srv, nats.ReconnectWait(50*time.Millisecond))
	if srv.ClientURL() == "" {
		t.Fatal("server has no TCP listener")
	}
	var disconnects atomic.Int32
	nc.SetDisconnectErrHandler(func(*nats.Conn, error) { disconnects.Add(1) })
	p, err := producer.New(js, producer.WithAsyncWindow(256))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 20_000
	payloads := make([]Email, n)
	for i := range payloads {
		payloads[i] = Email{To: "a@b.c"}
	}
	cid, err := nc.GetClientID()
	if err != nil {
		t.Fatal(err)
	}
	// Kick the client as soon as the server has stored some of the batch.
	go func() {
		err := testkit.Poll(30*time.Second, func() error {
			s, err := js.Stream(ctx, "JETQ_TASKS")
			if err != nil {
				return err
			}
			if info, err := s.Info(ctx); err != nil || info.State.Msgs <= 1000 {
				return errors.New("not 1000 tasks stored yet")
			}
			return nil
		})
		if err == nil {
			_ = srv.NATS().DisconnectClientByID(cid)
		}
	}()
	rs, err := producer.EnqueueBatch(ctx, p, sendEmail, payloads)
	if err != nil {
		t.Fatal(err)
	}
	if disconnects.Load() == 0 {
		t.Fatal("the connection was never cut; the test proved nothing")
	}
	storedOnce(t, js, rs, n)
}

func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	for name, opt := range map[string]producer.Option{
		"prefix":   producer.WithTopology(topology.Topology{Prefix: "Not-Lower"}),
		"replicas": producer.WithTopology(topology.Topology{Replicas: 7}),
		"limits":   producer.WithTopology(topology.Topology{MaxTasks: -1}),
		"window":   producer.WithAsyncWindow(0),
		"timeout":  producer.WithAckTimeout(0),
	} {
		if _, err := producer.New(js, opt); !errors.Is(err, producer.ErrInvalidOption) {
			t.Errorf("%s: got %v, want ErrInvalidOption", name, err)
		}
	}
	if _, err := producer.New(nil); !errors.Is(err, producer.ErrInvalidOption) {
		t.Errorf("nil js: got %v", err)
	}
}

// TestLargeBatchIsPublishedInSlices: a batch larger than half the async
// window is published in even slices, two at a time, each one middleware
// call; the tasks reach the stream in the batch's order, and every result
// is in order. A ctx that ends during the first slice keeps the slices not
// yet begun unpublished.
func TestLargeBatchIsPublishedInSlices(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		sizes    []int
		inFlight int
		most     int
		cancel   context.CancelFunc
	)
	record := func(next tasks.Enqueuer) tasks.Enqueuer {
		return func(ctx context.Context, batch []*tasks.Envelope) []error {
			mu.Lock()
			sizes = append(sizes, len(batch))
			inFlight++
			most = max(most, inFlight)
			mu.Unlock()
			errs := next(ctx, batch)
			mu.Lock()
			inFlight--
			if cancel != nil {
				cancel()
			}
			mu.Unlock()
			return errs
		}
	}
	p, js := newProducer(t, producer.WithAsyncWindow(100), producer.WithMiddleware(record))
	payloads := make([]Email, 250)
	for i := range payloads {
		payloads[i] = Email{To: "a@b.c", Subject: strconv.Itoa(i)}
	}
	rs, err := producer.EnqueueBatch(context.Background(), p, sendEmail, payloads)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{50, 50, 50, 50, 50}; !slices.Equal(sizes, want) {
		t.Errorf("middleware saw batches of %v, want %v", sizes, want)
	}
	if most > 2 {
		t.Errorf("%d slices were in flight at once, want at most 2", most)
	}
	for i, r := range rs {
		if r.Err != nil || r.Sequence != uint64(i+1) {
			t.Fatalf("result %d: %+v, want sequence %d: the batch's order", i, r, i+1)
		}
	}

	sizes = nil
	ctx, c := context.WithCancel(context.Background())
	cancel = c
	rs, err = producer.EnqueueBatch(ctx, p, sendEmail, payloads)
	var be *producer.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want a *BatchError", err)
	}
	if len(sizes) > 2 {
		t.Errorf("middleware called %d times after ctx ended in the first, want at most 2 (the slices in flight)", len(sizes))
	}
	stored := 0
	for i, r := range rs {
		switch {
		case i < 50 && r.Err != nil:
			t.Errorf("result %d of the first slice: %v", i, r.Err)
		case i >= 100 && !errors.Is(r.Err, context.Canceled):
			t.Errorf("result %d, of a slice not begun: %+v, want context.Canceled", i, r)
		case r.Err != nil && !errors.Is(r.Err, context.Canceled):
			t.Errorf("result %d: %v, want nil or context.Canceled", i, r.Err)
		case r.Err == nil:
			stored++
		}
	}
	// A task sent just before ctx ended may be stored with its result
	// saying so; none is stored that was never sent.
	if n := int(jetqtest.Msgs(t, js, "JETQ_TASKS")) - 250; n < stored || n > 100 {
		t.Errorf("the second batch stored %d, want %d to 100", n, stored)
	}
}

// TestBatchOrderSurvivesAnyMiddleware: middleware that serialises its calls
// (a mutex around next) or passes a slice on in two halves still gets a large
// batch through, every task stored in the batch's order.
func TestBatchOrderSurvivesAnyMiddleware(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	middleware := map[string]tasks.EnqueueMiddleware{
		"serialising": func(next tasks.Enqueuer) tasks.Enqueuer {
			return func(ctx context.Context, batch []*tasks.Envelope) []error {
				mu.Lock()
				defer mu.Unlock()
				return next(ctx, batch)
			}
		},
		"halving": func(next tasks.Enqueuer) tasks.Enqueuer {
			return func(ctx context.Context, batch []*tasks.Envelope) []error {
				mid := len(batch) / 2
				return append(next(ctx, batch[:mid]), next(ctx, batch[mid:])...)
			}
		},
	}
	for name, mw := range middleware {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, _ := newProducer(t, producer.WithAsyncWindow(20), producer.WithMiddleware(mw))
			for range 20 { // a hang or a reordering would depend on timing: try it often
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				rs, err := producer.EnqueueBatch(ctx, p, sendEmail, slices.Repeat([]Email{{To: "a@b.c"}}, 95))
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				for i := 1; i < len(rs); i++ {
					if rs[i].Sequence <= rs[i-1].Sequence {
						t.Fatalf("task %d stored at %d, after task %d at %d: not in the batch's order", i, rs[i].Sequence, i-1, rs[i-1].Sequence)
					}
				}
			}
		})
	}
}

// TestAbortInMiddlewareReachesTheCaller: a middleware that panics, or calls
// runtime.Goexit (as t.FailNow does), on a later slice of a large batch, on a
// goroutine of the producer's, stops the batch, and the EnqueueBatch call
// panics with its value or ends its goroutine, as it would have with the
// middleware run there.
func TestAbortInMiddlewareReachesTheCaller(t *testing.T) {
	t.Parallel()
	for name, abort := range map[string]func(){
		"panic":  func() { panic("boom") },
		"goexit": runtime.Goexit,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			mw := func(next tasks.Enqueuer) tasks.Enqueuer {
				return func(ctx context.Context, batch []*tasks.Envelope) []error {
					if calls.Add(1) == 2 {
						abort()
					}
					return next(ctx, batch)
				}
			}
			p, _ := newProducer(t, producer.WithAsyncWindow(10), producer.WithMiddleware(mw))
			var recovered any
			returned, ended := false, make(chan struct{})
			go func() {
				defer close(ended)
				defer func() { recovered = recover() }()
				_, _ = producer.EnqueueBatch(context.Background(), p, sendEmail, slices.Repeat([]Email{{To: "a@b.c"}}, 100))
				returned = true
			}()
			<-ended
			var want any = "boom"
			if name == "goexit" {
				want = nil
			}
			if returned || recovered != want {
				t.Errorf("EnqueueBatch returned %v and panicked with %v; want neither a return nor a panic but %v", returned, recovered, want)
			}
			// The batch stops there: the slices not begun are not sent.
			if n := calls.Load(); n > 3 {
				t.Errorf("middleware called %d times; want at most 3 (the slice that stopped, and one in flight)", n)
			}
		})
	}
}

// TestCloseReleasesTheConnectionsResources creates and closes many
// producers on one connection: each holds a subscription and a goroutine
// until Close.
func TestCloseReleasesTheConnectionsResources(t *testing.T) {
	t.Parallel()
	p0, js := newProducer(t)
	if _, err := producer.Enqueue(context.Background(), p0, sendEmail, Email{To: "a@b.c"}); err != nil {
		t.Fatal(err)
	}
	nc := js.Conn()
	before := nc.NumSubscriptions()
	for range 20 {
		p, err := producer.New(js)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := producer.Enqueue(context.Background(), p, sendEmail, Email{To: "a@b.c"}); err != nil {
			t.Fatal(err)
		}
		p.Close()
	}
	if after := nc.NumSubscriptions(); after != before {
		t.Errorf("subscriptions: %d before, %d after 20 producers were closed", before, after)
	}
}

// storedOnce fails t unless each of the n results rs is stored, none as a
// duplicate, each at its own sequence, and the work stream holds n tasks:
// every task stored once, whatever the retries after a cut connection did.
func storedOnce(t *testing.T, js jetstream.JetStream, rs []producer.Result, n int) {
	t.Helper()
	seqs := map[uint64]bool{}
	for i, r := range rs {
		if r.Err != nil || r.Duplicate {
			t.Fatalf("result %d: %+v", i, r)
		}
		seqs[r.Sequence] = true
	}
	if len(seqs) != n {
		t.Errorf("distinct sequences %d, want %d", len(seqs), n)
	}
	if got := jetqtest.Msgs(t, js, "JETQ_TASKS"); got != uint64(n) {
		t.Errorf("work stream holds %d, want %d", got, n)
	}
}
