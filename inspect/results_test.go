package inspect_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// Sum is the result of the result tests' tasks.
type Sum struct {
	Total int    `json:"total"`
	Note  string `json:"note,omitempty"`
}

// resultWorker runs a worker of def whose handler returns n*2, with note
// as the result's note, and counts its calls.
func resultWorker(t *testing.T, b *resultsFixture, def *tasks.ResultDefinition[Job, Sum], note string) *atomic.Int32 {
	t.Helper()
	var calls atomic.Int32
	reg := tasks.NewRegistry()
	tasks.MustHandleResult(reg, def, func(ctx context.Context, tk *tasks.Task[Job]) (Sum, error) {
		calls.Add(1)
		return Sum{Total: tk.Payload.N * 2, Note: note}, nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	return &calls
}

type resultsFixture struct {
	*fixture
	// other is an inspector on a connection of its own, as another
	// process would have.
	other *inspect.Inspector
}

func setupResults(t *testing.T) *resultsFixture {
	t.Helper()
	b := setup(t)
	_, js := embeddedtest.Connect(t, b.srv)
	other, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	return &resultsFixture{fixture: b, other: other}
}

// lastRecord is the status bucket's message of task id, headers included.
func lastRecord(t *testing.T, js jetstream.JetStream, id string) *jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	str, err := js.Stream(ctx, "KV_JETQ_STATUS")
	if err != nil {
		t.Fatal(err)
	}
	m, err := str.GetLastMsgForSubject(ctx, "$KV.JETQ_STATUS."+status.Key(id))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestResultSmallFromAnotherConnection(t *testing.T) {
	t.Parallel()
	b := setupResults(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	def := tasks.DefineResult[Job, Sum]("results.small")
	calls := resultWorker(t, b, def, "")
	r, err := producer.Enqueue(ctx, b.p, def, Job{N: 21})
	if err != nil {
		t.Fatal(err)
	}
	got, err := inspect.Result(ctx, b.other, def, r.ID)
	if err != nil {
		t.Fatalf("Result: %v", err)
	}
	if got.Total != 42 {
		t.Errorf("Result: got %+v, want total 42", got)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
	st, err := b.in.Status(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != status.Done || st.Attempt != 1 || st.ContentType != "application/json" || st.ResultSize != len(`{"total":42}`) ||
		st.ResultRef != "" || st.StartedAt.IsZero() || st.FinishedAt.Before(st.StartedAt) {
		t.Errorf("record: got %+v, want done after 1 attempt with the result inline and its times", st)
	}
	// One write carries it, with the retention as the server's TTL.
	m := lastRecord(t, b.js, r.ID)
	if got, want := m.Header.Get("Nats-TTL"), wire.TTL(tasks.DefaultRetention); got != want {
		t.Errorf("record's Nats-TTL: got %q, want %q", got, want)
	}
}

func TestResultLargeGoesToObjectStore(t *testing.T) {
	t.Parallel()
	b := setupResults(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	def := tasks.DefineResult[Job, Sum]("results.large")
	big := strings.Repeat("x", 200<<10) // far over the 64 KiB a record may hold
	resultWorker(t, b, def, big)
	r, err := producer.Enqueue(ctx, b.p, def, Job{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := inspect.Result(ctx, b.other, def, r.ID)
	if err != nil {
		t.Fatalf("Result: %v", err)
	}
	if got.Total != 2 || got.Note != big {
		t.Errorf("Result: got total %d and a note of %d bytes, want 2 and %d", got.Total, len(got.Note), len(big))
	}
	st, err := b.in.Status(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.ResultRef == "" || st.Result != nil || st.ResultSize < len(big) {
		t.Errorf("record: ref %q, %d bytes inline, size %d; want a ref, nothing inline, size over %d",
			st.ResultRef, len(st.Result), st.ResultSize, len(big))
	}
}

func TestResultWaitsForATaskNotYetEnqueued(t *testing.T) {
	t.Parallel()
	b := setupResults(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	def := tasks.DefineResult[Job, Sum]("results.later")
	type answer struct {
		v   Sum
		err error
	}
	got := make(chan answer, 1)
	go func() {
		v, err := inspect.Result(ctx, b.other, def, "later-1")
		got <- answer{v, err}
	}()
	resultWorker(t, b, def, "")
	if _, err := producer.Enqueue(ctx, b.p, def, Job{N: 5}, producer.WithID("later-1")); err != nil {
		t.Fatal(err)
	}
	a := <-got
	if a.err != nil || a.v.Total != 10 {
		t.Errorf("Result: got %+v, %v; want total 10", a.v, a.err)
	}
}

func TestResultOfUnknownTaskEndsWithCtx(t *testing.T) {
	t.Parallel()
	b := setupResults(t)
	def := tasks.DefineResult[Job, Sum]("results.unknown")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := inspect.Result(ctx, b.other, def, "nobody")
	if !errors.Is(err, inspect.ErrNotFound) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Result: got %v, want ErrNotFound and DeadlineExceeded", err)
	}
}

// badSum does not encode.
type badSum struct{}

func (badSum) MarshalJSON() ([]byte, error) { return nil, errors.New("cannot encode a badSum") }

func TestInvalidResultIsDeadLettered(t *testing.T) {
	t.Parallel()
	b := setupResults(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	def := tasks.DefineResult[Job, badSum]("results.invalid", tasks.WithMaxAttempts(5))
	var calls atomic.Int32
	reg := tasks.NewRegistry()
	tasks.MustHandleResult(reg, def, func(ctx context.Context, tk *tasks.Task[Job]) (badSum, error) {
		calls.Add(1)
		return badSum{}, nil
	})
	jetqtest.StartWorker(t, b.srv, reg)
	r, err := producer.Enqueue(ctx, b.p, def, Job{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = inspect.Result(ctx, b.other, def, r.ID)
	var fe *tasks.FailureError
	if !errors.As(err, &fe) {
		t.Fatalf("Result: got %v, want a *tasks.FailureError", err)
	}
	if f := fe.Failure; f.State != "dead_lettered" || f.Reason != tasks.ReasonInvalidResult || f.Attempts != 1 ||
		!strings.Contains(f.Error, "cannot encode a badSum") || f.At.IsZero() {
		t.Errorf("failure: got %+v, want dead_lettered with reason invalid_result after 1 attempt, saying why", f)
	}
	recs := b.waitRecords(t, 1)
	if recs[0].Reason != tasks.ReasonInvalidResult {
		t.Errorf("dead-letter record's reason: got %q, want %q", recs[0].Reason, tasks.ReasonInvalidResult)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1: an invalid result is not retried", n)
	}
}

func TestResultOfExpiredTask(t *testing.T) {
	t.Parallel()
	b := setupResults(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	def := tasks.DefineResult[Job, Sum]("results.expired")
	dl := time.Now().Add(100 * time.Millisecond)
	r, err := producer.Enqueue(ctx, b.p, def, Job{N: 1}, producer.WithDeadline(dl))
	if err != nil {
		t.Fatal(err)
	}
	<-time.After(time.Until(dl)) // the clock, not a component: past its deadline before any worker starts
	calls := resultWorker(t, b, def, "")
	_, err = inspect.Result(ctx, b.other, def, r.ID)
	var fe *tasks.FailureError
	if !errors.As(err, &fe) || fe.Failure.State != "expired" {
		t.Fatalf("Result: got %v, want a *tasks.FailureError of an expired task", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("handler ran %d times, want 0", n)
	}
}

// TestRetentionIsEnforcedByTheServer keeps a result for a second, the
// shortest retention (the server's smallest TTL), and waits for the server
// to delete it: no process of jetq runs meanwhile that could.
func TestRetentionIsEnforcedByTheServer(t *testing.T) {
	t.Parallel()
	b := setupResults(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	def := tasks.DefineResult[Job, Sum]("results.brief", tasks.WithRetention(tasks.MinRetention))
	resultWorker(t, b, def, "")
	r, err := producer.Enqueue(ctx, b.p, def, Job{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inspect.Result(ctx, b.other, def, r.ID); err != nil {
		t.Fatalf("Result: %v", err)
	}
	waitFor(t, func() error {
		if _, err := b.in.Status(ctx, r.ID); !errors.Is(err, inspect.ErrNotFound) {
			return errors.New("record still there")
		}
		return nil
	})
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	if _, err := inspect.Result(short, b.other, def, r.ID); !errors.Is(err, inspect.ErrNotFound) {
		t.Errorf("Result after the retention: got %v, want ErrNotFound", err)
	}
}

// TestRetentionUpgradesAnOldStatusBucket records a result in a status
// bucket made as an earlier release made it, without per-message TTLs,
// holding a tracked task's record.
func TestRetentionUpgradesAnOldStatusBucket(t *testing.T) {
	t.Parallel()
	b := setupResults(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tracked := tasks.Define[Job]("results.tracked", tasks.WithStateTracking())
	old, err := producer.Enqueue(ctx, b.p, tracked, Job{N: 1}) // creates the bucket, as before
	if err != nil {
		t.Fatal(err)
	}
	str, err := b.js.Stream(ctx, "KV_JETQ_STATUS")
	if err != nil {
		t.Fatal(err)
	}
	if str.CachedInfo().Config.AllowMsgTTL {
		t.Fatal("the status bucket allows per-message TTLs from the start; this test needs one that does not")
	}
	def := tasks.DefineResult[Job, Sum]("results.upgrade", tasks.WithStateTracking())
	resultWorker(t, b, def, "")
	r, err := producer.Enqueue(ctx, b.p, def, Job{N: 4})
	if err != nil {
		t.Fatal(err)
	}
	got, err := inspect.Result(ctx, b.other, def, r.ID)
	if err != nil || got.Total != 8 {
		t.Fatalf("Result: got %+v, %v; want total 8", got, err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Config.AllowMsgTTL {
		t.Error("status bucket does not allow per-message TTLs after a result was kept")
	}
	if st, err := b.in.Status(ctx, old.ID); err != nil || st.State != status.Queued {
		t.Errorf("the older record: got %+v, %v; want it queued still", st, err)
	}
	// A tracked task keeps its record, which gains the final fields.
	st, err := b.in.Status(ctx, r.ID)
	if err != nil || st.State != status.Done || st.StartedAt.IsZero() || st.FinishedAt.IsZero() || st.ResultSize == 0 || st.MaxAttempts != tasks.DefaultMaxAttempts {
		t.Errorf("tracked result task's record: got %+v, %v; want done with its times, result size and max attempts", st, err)
	}
	if got := lastRecord(t, b.js, r.ID).Header.Get("Nats-TTL"); got == "" {
		t.Error("tracked result task's final record has no Nats-TTL")
	}
}

func TestResultOfCancelledTask(t *testing.T) {
	t.Parallel()
	b := setupResults(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	def := tasks.DefineResult[Job, Sum]("results.cancelled")
	calls := resultWorker(t, b, def, "")
	waitFor(t, func() error { // the worker's durable records the retention
		_, err := b.js.Consumer(ctx, "JETQ_TASKS", "default:results:cancelled")
		return err
	})
	r, err := producer.Enqueue(ctx, b.p, def, Job{N: 1}, producer.WithDelay(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.in.Cancel(ctx, inspect.Ref{ID: r.ID}); err != nil {
		t.Fatal(err)
	}
	_, err = inspect.Result(ctx, b.other, def, r.ID)
	var fe *tasks.FailureError
	if !errors.As(err, &fe) || fe.Failure.State != "cancelled" || fe.Failure.Task != "results.cancelled" {
		t.Fatalf("Result: got %v, want a *tasks.FailureError of a cancelled results.cancelled", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("handler ran %d times, want 0", n)
	}
}

// TestResultOfTaskWithHugeError dead-letters a result task whose error is
// larger than a record may be: the record keeps the error's start, written
// at the first try (a failed write would have the task redelivered first).
func TestResultOfTaskWithHugeError(t *testing.T) {
	t.Parallel()
	b := setupResults(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	def := tasks.DefineResult[Job, Sum]("results.huge-error")
	reg := tasks.NewRegistry()
	tasks.MustHandleResult(reg, def, func(ctx context.Context, tk *tasks.Task[Job]) (Sum, error) {
		return Sum{}, tasks.Permanent(errors.New(strings.Repeat("e", 100<<10)))
	})
	jetqtest.StartWorker(t, b.srv, reg)
	r, err := producer.Enqueue(ctx, b.p, def, Job{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = inspect.Result(ctx, b.other, def, r.ID)
	var fe *tasks.FailureError
	if !errors.As(err, &fe) || fe.Failure.Reason != tasks.ReasonPermanent || len(fe.Failure.Error) > wire.MaxErrorLen || fe.Failure.Attempts != 1 ||
		!strings.HasPrefix(fe.Failure.Error, "permanent: eee") {
		t.Fatalf("Result: got %.100v (%d bytes), want a permanent failure after one attempt, recorded at once, with its error cut to %d bytes", err, len(fe.Failure.Error), wire.MaxErrorLen)
	}
}
