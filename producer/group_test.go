package producer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
	"github.com/jetq/jetq/tracing"
)

var (
	resizeImage = tasks.Define[int]("image.resize", tasks.WithQueue("media"), tasks.WithStateTracking())
	chargeCard  = tasks.Define[string]("card.charge", tasks.WithExpiry(time.Hour))
)

// TestGroupOfMixedTypesLandsWhole: tasks of three types, with their IDs,
// headers, deadlines and the producer's middleware, are stored as one
// batch, in the order of Add, and a tracked type's tasks are recorded
// queued.
func TestGroupOfMixedTypesLandsWhole(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	mw := func(next tasks.Enqueuer) tasks.Enqueuer {
		return func(ctx context.Context, batch []*tasks.Envelope) []error {
			calls.Add(1)
			for _, env := range batch {
				env.Header.Set("X-Seen", env.ID)
			}
			return next(ctx, batch)
		}
	}
	p, js := newProducer(t, producer.WithLogger(testkit.Logger(t)), producer.WithMiddleware(mw))
	ctx := context.Background()
	if _, err := producer.Enqueue(ctx, p, sendEmail, Email{To: "first@b.c"}); err != nil {
		t.Fatal(err)
	}
	calls.Store(0)
	g := producer.NewGroup()
	producer.Add(g, sendEmail, Email{To: "a@b.c"}, producer.WithID("mail-1"), producer.WithHeader("X-Tenant", "acme"))
	producer.Add(g, resizeImage, 640)
	producer.Add(g, chargeCard, "order-7", producer.WithID("charge-7"))
	producer.Add(g, sendEmail, Email{To: "b@b.c"})
	if g.Len() != 4 {
		t.Fatalf("Len %d, want 4", g.Len())
	}
	rs, msgs := enqueueGroup(t, p, js, g)
	if len(rs) != 4 || rs[0].ID != "mail-1" || rs[2].ID != "charge-7" || rs[1].ID == "" || rs[3].ID == "" {
		t.Fatalf("results %+v", rs)
	}
	for i, r := range rs {
		if r.Err != nil || r.Duplicate || r.Stream != "JETQ_TASKS" || r.Sequence != uint64(2+i) {
			t.Errorf("result %d: %+v, want stored at sequence %d", i, r, 2+i)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("middleware ran %d times, want once for the group", calls.Load())
	}
	subjects := []string{"jetq.task.default.email.send", "jetq.task.media.image.resize", "jetq.task.default.card.charge", "jetq.task.default.email.send"}
	for i, r := range rs {
		m := msgs[i]
		if m.Subject != subjects[i] || m.Header.Get("Nats-Msg-Id") != r.ID || m.Header.Get("X-Seen") != r.ID {
			t.Errorf("task %d: subject %s, header %v", i, m.Subject, m.Header)
		}
		if i == 0 && m.Header.Get("X-Tenant") != "acme" {
			t.Errorf("task 0 lost its header: %v", m.Header)
		}
		if i == 2 && m.Header.Get(wire.HeaderDeadline) == "" {
			t.Errorf("task 2 has no deadline: %v", m.Header)
		}
	}
	in, err := inspect.New(js, inspect.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := in.Status(ctx, rs[1].ID)
	if err != nil || st.State != status.Queued {
		t.Errorf("tracked task's status: %+v, %v; want queued", st, err)
	}
}

// TestGroupThatDoesNotFitStoresNothing: a group that a nearly full queue
// has room for only part of is refused whole, with the retryable
// ErrQueueFull, and stores nothing.
func TestGroupThatDoesNotFitStoresNothing(t *testing.T) {
	t.Parallel()
	p, js := newProducer(t, producer.WithTopology(topology.Topology{MaxTasks: 5}))
	ctx := context.Background()
	if _, err := producer.EnqueueBatch(ctx, p, sendEmail, []Email{{To: "a@b.c"}, {To: "a@b.c"}, {To: "a@b.c"}}); err != nil {
		t.Fatal(err)
	}
	g := producer.NewGroup()
	for i := range 3 {
		producer.Add(g, resizeImage, i)
	}
	rs, err := producer.EnqueueGroup(ctx, p, g)
	var ge *producer.GroupError
	if !errors.Is(err, producer.ErrQueueFull) || !errors.Is(err, producer.ErrRetryable) || !errors.As(err, &ge) {
		t.Fatalf("got %v, want a GroupError wrapping ErrQueueFull, retryable", err)
	}
	if ge.Stored != 0 || ge.Failed != 3 || ge.Total != 3 || !strings.Contains(err.Error(), "none stored") {
		t.Errorf("GroupError %+v: %v", ge, err)
	}
	for i, r := range rs {
		if !errors.Is(r.Err, producer.ErrQueueFull) || r.Sequence != 0 {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 3 {
		t.Errorf("work stream holds %d, want the 3 from before", n)
	}
	// Two fit: the same group less one is stored.
	g = producer.NewGroup()
	producer.Add(g, resizeImage, 1)
	producer.Add(g, chargeCard, "x")
	if _, err := producer.EnqueueGroup(ctx, p, g); err != nil {
		t.Fatal(err)
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 5 {
		t.Errorf("work stream holds %d, want 5", n)
	}
}

// TestGroupAboveTheBatchLimitIsChunked: 2 500 tasks go in chunks of the
// server's 1 000, each atomic; when the queue has room for 1 500, the first
// chunk is stored, the second refused whole, the third not published, and
// the error says so.
func TestGroupAboveTheBatchLimitIsChunked(t *testing.T) {
	t.Parallel()
	p, js := newProducer(t, producer.WithTopology(topology.Topology{MaxTasks: 1500}))
	ctx := context.Background()
	g := producer.NewGroup()
	for i := range 2500 {
		producer.Add(g, resizeImage, i)
	}
	rs, err := producer.EnqueueGroup(ctx, p, g)
	var ge *producer.GroupError
	if !errors.As(err, &ge) || !errors.Is(err, producer.ErrQueueFull) || ge.Stored != 1000 || ge.Failed != 1000 || ge.Total != 2500 {
		t.Fatalf("got %v, want a GroupError: 1000 stored, 1000 refused as the queue is full", err)
	}
	want := "producer: group of 2500 tasks partly enqueued: tasks 0 to 999 stored; tasks 1000 to 1999 not stored ("
	if !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "); tasks 2000 to 2499 not published") {
		t.Errorf("error %q", err)
	}
	for i, r := range rs {
		stored := i < 1000
		if stored != (r.Err == nil) || stored != (r.Sequence == uint64(i+1)) {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 1000 {
		t.Errorf("work stream holds %d, want the first chunk's 1000", n)
	}
	// The same group again, with room: the first chunk is reported
	// duplicate, the others stored.
	s, err := js.Stream(ctx, "JETQ_TASKS")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.MaxMsgs = -1
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	rs, err = producer.EnqueueGroup(ctx, p, g)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if r.Err != nil || r.Duplicate != (i < 1000) || r.Sequence != uint64(i+1) {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 1500 {
		t.Errorf("work stream holds %d, want the 1500 not stored before", n)
	}
}

// TestGroupLearnsTheServersBatchLimit: a server configured with smaller
// atomic batches refuses the first chunk with its limit; the group is
// published again in chunks of that size.
func TestGroupLearnsTheServersBatchLimit(t *testing.T) {
	t.Parallel()
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, []byte("jetstream { limits { batch { max_msgs: 100 } } }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := embeddedtest.Server(t, embedded.WithConfigFile(conf), embedded.WithListen("127.0.0.1:0"))
	_, js := embeddedtest.Connect(t, srv)
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	g := producer.NewGroup()
	for i := range 250 {
		producer.Add(g, resizeImage, i)
	}
	rs, err := producer.EnqueueGroup(context.Background(), p, g)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if r.Sequence != uint64(i+1) {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 250 {
		t.Errorf("work stream holds %d, want 250", n)
	}
}

// TestDuplicateGroupIsReportedDuplicate: a group enqueued again with the
// same IDs stores nothing and reports each task Duplicate at its first
// sequence; a group in which some IDs are held stores the others, together.
func TestDuplicateGroupIsReportedDuplicate(t *testing.T) {
	t.Parallel()
	p, js := newProducer(t)
	ctx := context.Background()
	group := func(ids ...string) *producer.Group {
		g := producer.NewGroup()
		for _, id := range ids {
			producer.Add(g, chargeCard, id, producer.WithID(id))
		}
		return g
	}
	first, err := producer.EnqueueGroup(ctx, p, group("a", "b", "c"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := producer.EnqueueGroup(ctx, p, group("a", "b", "c"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		if first[i].Duplicate || !again[i].Duplicate || again[i].Sequence != first[i].Sequence || again[i].Stream != "JETQ_TASKS" {
			t.Errorf("task %d: first %+v, again %+v", i, first[i], again[i])
		}
	}
	mixed, err := producer.EnqueueGroup(ctx, p, group("d", "b", "e"))
	if err != nil {
		t.Fatal(err)
	}
	if !mixed[1].Duplicate || mixed[1].Sequence != 2 || mixed[0].Duplicate || mixed[2].Duplicate ||
		mixed[0].Sequence != 4 || mixed[2].Sequence != 5 {
		t.Errorf("results %+v, want d and e stored at 4 and 5, b a duplicate at 2", mixed)
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 5 {
		t.Errorf("work stream holds %d, want 5", n)
	}
}

// TestInvalidGroupStoresNothing: an invalid payload or option in one task,
// or two tasks with one ID, refuse the group before anything is published.
func TestInvalidGroupStoresNothing(t *testing.T) {
	t.Parallel()
	p, js := newProducer(t)
	ctx := context.Background()
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		add  func(g *producer.Group)
		want error
		text string
	}{
		{"invalid payload", func(g *producer.Group) { producer.Add(g, sendEmail, Email{To: "nobody"}) },
			tasks.ErrInvalidPayload, "task 2 of the group, email.send"},
		{"delay", func(g *producer.Group) { producer.Add(g, resizeImage, 1, producer.WithDelay(time.Minute)) },
			producer.ErrInvalidOption, "WithDelay and WithRunAt cannot be used in a group"},
		{"run at", func(g *producer.Group) { producer.Add(g, resizeImage, 1, producer.WithRunAt(time.Now())) },
			producer.ErrInvalidOption, "WithDelay and WithRunAt cannot be used in a group"},
		{"unique", func(g *producer.Group) { producer.Add(g, resizeImage, 1, producer.WithUnique("k", time.Minute)) },
			producer.ErrInvalidOption, "WithUnique cannot be used in a group"},
		{"reserved header", func(g *producer.Group) { producer.Add(g, resizeImage, 1, producer.WithHeader("Nats-Batch-Id", "x")) },
			producer.ErrInvalidOption, "reserved"},
		{"payload too large", func(g *producer.Group) { producer.Add(g, chargeCard, strings.Repeat("x", 1<<20)) },
			tasks.ErrInvalidPayload, "task 2 of the group (card.charge) makes a message of about"},
		{"one ID twice", func(g *producer.Group) { producer.Add(g, chargeCard, "x", producer.WithID("same")) },
			producer.ErrInvalidOption, `tasks 0 and 2 of the group both have ID "same"`},
	}
	for _, c := range cases {
		g := producer.NewGroup()
		producer.Add(g, chargeCard, "ok", producer.WithID("same"))
		producer.Add(g, resizeImage, 2)
		c.add(g)
		producer.Add(g, resizeImage, 3)
		rs, err := producer.EnqueueGroup(ctx, p, g)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) || rs != nil {
			t.Errorf("%s: got %v, %v; want %v saying %q", c.name, rs, err, c.want, c.text)
		}
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 0 {
		t.Errorf("work stream holds %d, want none", n)
	}
	if rs, err := producer.EnqueueGroup(ctx, p, producer.NewGroup()); rs != nil || err != nil {
		t.Errorf("empty group: %v, %v", rs, err)
	}
	if _, err := producer.EnqueueGroup(ctx, p, nil); !errors.Is(err, producer.ErrInvalidOption) {
		t.Errorf("nil group: got %v, want ErrInvalidOption", err)
	}
}

// TestGroupRefusesMiddlewareThatSplits: a middleware that passes on part
// of a chunk would break its atomicity; the chunk is refused unpublished.
func TestGroupRefusesMiddlewareThatSplits(t *testing.T) {
	t.Parallel()
	split := func(next tasks.Enqueuer) tasks.Enqueuer {
		return func(ctx context.Context, batch []*tasks.Envelope) []error {
			if len(batch) < 2 {
				return next(ctx, batch)
			}
			return append(next(ctx, batch[:1]), next(ctx, batch[1:])...)
		}
	}
	p, js := newProducer(t, producer.WithMiddleware(split))
	g := producer.NewGroup()
	producer.Add(g, resizeImage, 1)
	producer.Add(g, resizeImage, 2)
	_, err := producer.EnqueueGroup(context.Background(), p, g)
	if !errors.Is(err, producer.ErrInvalidOption) || !strings.Contains(err.Error(), "passed on 1 of a group's 2 tasks") {
		t.Errorf("got %v, want the split refused", err)
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 0 {
		t.Errorf("work stream holds %d, want none", n)
	}
}

// TestGroupUpgradesAWorkStreamOfAnEarlierRelease: a work stream made
// without atomic batches (as by jetq before groups) is updated by the
// producer's provisioning, on the real server, and takes the group.
func TestGroupUpgradesAWorkStreamOfAnEarlierRelease(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	ctx := context.Background()
	old := wire.WorkStreamConfig(topology.Topology{})
	old.AllowAtomicPublish = false
	if _, err := js.CreateStream(ctx, old); err != nil {
		t.Fatal(err)
	}
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	g := producer.NewGroup()
	producer.Add(g, resizeImage, 1)
	producer.Add(g, resizeImage, 2)
	if _, err := producer.EnqueueGroup(ctx, p, g); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, old.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !s.CachedInfo().Config.AllowAtomicPublish {
		t.Error("work stream does not allow atomic publish after provisioning")
	}
	// Turned off behind the producer's back: the group says what it needs.
	cfg := s.CachedInfo().Config
	cfg.AllowAtomicPublish = false
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	_, err = producer.EnqueueGroup(ctx, p, g)
	if !errors.Is(err, producer.ErrUnsupported) || !strings.Contains(err.Error(), "allow_atomic") {
		t.Errorf("got %v, want ErrUnsupported naming allow_atomic", err)
	}
	_, err = producer.EnqueueGroup(ctx, p, g)
	if !errors.Is(err, producer.ErrUnsupported) || !strings.Contains(err.Error(), "allow_atomic") {
		t.Errorf("again: got %v, want ErrUnsupported naming allow_atomic", err)
	}
}

// TestGroupAcrossACluster: on an R3 stream, a group lands whole and a
// duplicate group is recognised, through the clustered publish path.
func TestGroupAcrossACluster(t *testing.T) {
	t.Parallel()
	c := embeddedtest.Cluster(t, 3)
	_, js := embeddedtest.Connect(t, c.Node(0))
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)), producer.WithTopology(topology.Topology{Replicas: 3}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g := producer.NewGroup()
	for i := range 10 {
		producer.Add(g, chargeCard, strconv.Itoa(i), producer.WithID(fmt.Sprint("c-", i)))
	}
	first, err := producer.EnqueueGroup(ctx, p, g)
	if err != nil {
		t.Fatal(err)
	}
	again, err := producer.EnqueueGroup(ctx, p, g)
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		if first[i].Sequence != uint64(i+1) || first[i].Duplicate || !again[i].Duplicate || again[i].Sequence != first[i].Sequence {
			t.Errorf("task %d: first %+v, again %+v", i, first[i], again[i])
		}
	}
	// Some held, some new: the new ones are stored, together.
	mixed := producer.NewGroup()
	producer.Add(mixed, chargeCard, "new", producer.WithID("c-new"))
	producer.Add(mixed, chargeCard, "3", producer.WithID("c-3"))
	rs, err := producer.EnqueueGroup(ctx, p, mixed)
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Duplicate || rs[0].Sequence != 11 || !rs[1].Duplicate || rs[1].Sequence != 4 {
		t.Errorf("results %+v, want c-new stored at 11, c-3 a duplicate at 4", rs)
	}
	if n := jetqtest.Msgs(t, js, "JETQ_TASKS"); n != 11 {
		t.Errorf("work stream holds %d, want 11", n)
	}
}

// TestGroupSurvivesDisconnect cuts the producer's TCP connection from the
// server side while a large group is published: the chunk cut off is
// published again (in a new batch, with the same IDs), and every task is
// stored once, whether or not the cut-off batch was committed.
func TestGroupSurvivesDisconnect(t *testing.T) {
	t.Parallel()
	srv := embeddedtest.Server(t, embedded.WithListen("127.0.0.1:0"))
	nc, js := embeddedtest.Connect(t, srv, nats.ReconnectWait(50*time.Millisecond))
	var disconnects atomic.Int32
	nc.SetDisconnectErrHandler(func(*nats.Conn, error) { disconnects.Add(1) })
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 20_000
	g := producer.NewGroup()
	for i := range n {
		producer.Add(g, resizeImage, i)
	}
	cid, err := nc.GetClientID()
	if err != nil {
		t.Fatal(err)
	}
	// Kick the client as soon as the server has stored some of the group.
	go func() {
		err := testkit.Poll(30*time.Second, func() error {
			if jetqtest.Msgs(t, js, "JETQ_TASKS") < 1000 {
				return errors.New("not 1000 tasks stored yet")
			}
			return nil
		})
		if err == nil {
			_ = srv.NATS().DisconnectClientByID(cid)
		}
	}()
	rs, err := producer.EnqueueGroup(ctx, p, g)
	if err != nil {
		t.Fatal(err)
	}
	if disconnects.Load() == 0 {
		t.Fatal("the connection was never cut; the test proved nothing")
	}
	storedOnce(t, js, rs, n)
}

// TestGroupIsTraced: with the tracing middleware, a group's chunk is one
// send span with a create span per task, and every task carries its own
// trace context.
func TestGroupIsTraced(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	p, js := newProducer(t, producer.WithMiddleware(tracing.Producer(tracing.WithTracerProvider(tp), tracing.WithPropagators(propagation.TraceContext{}))))
	g := producer.NewGroup()
	producer.Add(g, resizeImage, 1)
	producer.Add(g, chargeCard, "x")
	_, msgs := enqueueGroup(t, p, js, g)
	parents := map[string]bool{}
	for _, m := range msgs {
		parents[m.Header.Get("traceparent")] = true
	}
	if len(parents) != 2 || parents[""] {
		t.Errorf("trace contexts %v, want one per task", parents)
	}
	var sends, creates int
	for _, sp := range spans.Ended() {
		switch {
		case sp.Name() == "send":
			sends++
		case strings.HasPrefix(sp.Name(), "create "):
			creates++
		}
	}
	if sends != 1 || creates != 2 {
		t.Errorf("%d send and %d create spans, want 1 and 2", sends, creates)
	}
}

// enqueueGroup enqueues g, failing t unless it is stored, and returns its
// results and the messages stored.
func enqueueGroup(t *testing.T, p *producer.Producer, js jetstream.JetStream, g *producer.Group) ([]producer.Result, []*jetstream.RawStreamMsg) {
	t.Helper()
	ctx := context.Background()
	rs, err := producer.EnqueueGroup(ctx, p, g)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "JETQ_TASKS")
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]*jetstream.RawStreamMsg, len(rs))
	for i, r := range rs {
		if msgs[i], err = s.GetMsg(ctx, r.Sequence); err != nil {
			t.Fatal(err)
		}
	}
	return rs, msgs
}
