package inspect_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// Order is the payload of the tasks of these tests.
type Order struct {
	Customer Customer `json:"customer"`
	N        int      `json:"n"`
}

// Customer is a nested payload field, for Where.
type Customer struct {
	ID int `json:"id"`
}

// topologyZero is the default deployment's.
var topologyZero topology.Topology

var (
	charge = tasks.Define[Order]("billing.charge")
	refund = tasks.Define[Order]("billing.refund", tasks.WithQueue("slow"))
)

// fixture is a server with a producer and an inspector.
type fixture struct {
	srv *embedded.Server
	js  jetstream.JetStream
	p   *producer.Producer
	in  *inspect.Inspector
}

func setup(t *testing.T) *fixture {
	t.Helper()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	p, err := producer.New(js, producer.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	in, err := inspect.New(js, inspect.WithLogger(testkit.Logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, js: js, p: p, in: in}
}

// enqueue enqueues o as a task of def and returns its ID.
func (f *fixture) enqueue(t *testing.T, def *tasks.Definition[Order], o Order, opts ...producer.EnqueueOption) producer.Result {
	t.Helper()
	r, err := producer.Enqueue(context.Background(), f.p, def, o, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// deliver creates def's durable consumer as a worker does and takes n of
// its tasks without settling them, as a worker running them would: they
// are no longer pending.
func (f *fixture) deliver(t *testing.T, def *tasks.Definition[Order], n int) {
	t.Helper()
	ctx := context.Background()
	cfg := wire.ConsumerConfig(topologyZero, def.Spec())
	cfg.PriorityPolicy, cfg.PriorityGroups = jetstream.PriorityPolicyNone, nil
	c, err := f.js.CreateOrUpdateConsumer(ctx, "JETQ_TASKS", cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for range b.Messages() {
		got++
	}
	if got != n {
		t.Fatalf("delivered %d of %d tasks of %s", got, n, def.Name())
	}
}

// all lists every page of q and returns the tasks.
func all(t *testing.T, in *inspect.Inspector, q inspect.Query) []inspect.TaskInfo {
	t.Helper()
	var out []inspect.TaskInfo
	for {
		p, err := in.Tasks(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Tasks...)
		if p.Next == "" {
			return out
		}
		q.Token = p.Next
	}
}

type row struct {
	ID   string
	Task string
	Pos  uint64
}

func rows(ts []inspect.TaskInfo) []row {
	out := make([]row, len(ts))
	for i, t := range ts {
		out[i] = row{t.ID, t.Task, t.Position}
	}
	return out
}

// TestPendingList lists the pending tasks of two types, two of one type
// delivered already, with every filter and page size.
func TestPendingList(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	var ids []producer.Result
	for i := range 6 {
		ids = append(ids, f.enqueue(t, charge, Order{Customer{ID: i % 3}, i}))
		if i%2 == 0 {
			ids = append(ids, f.enqueue(t, refund, Order{Customer{ID: i % 3}, i}))
		}
	}
	// ids: c0 r0 c1 c2 r2 c3 c4 r4 c5; two charges delivered.
	f.deliver(t, charge, 2)
	c := func(i int, pos uint64) row { return row{ids[i].ID, charge.Name(), pos} }
	r := func(i int, pos uint64) row { return row{ids[i].ID, refund.Name(), pos} }
	everything := []row{r(1, 1), c(3, 1), r(4, 2), c(5, 2), c(6, 3), r(7, 3), c(8, 4)}

	first := all(t, f.in, inspect.Query{State: inspect.Pending})
	if got := rows(first); !slices.Equal(got, everything) {
		t.Errorf("pending:\n got %v\nwant %v", got, everything)
	}
	if tk := first[1]; tk.Seq != ids[3].Sequence || tk.Queue != "default" || tk.State != inspect.Pending ||
		tk.EnqueuedAt.IsZero() || string(tk.Payload) != `{"customer":{"id":2},"n":2}` || tk.Header.Get(wire.HeaderMsgID) != ids[3].ID ||
		tk.Header.Get(jetstream.SequenceHeader) != "" {
		t.Errorf("task %+v: want seq %d, queue default, its enqueue time, payload and headers without the read's", tk, ids[3].Sequence)
	}
	since := first[3].EnqueuedAt // c(5)

	for _, tc := range []struct {
		name string
		q    inspect.Query
		want []row
	}{
		{"pages of 2", inspect.Query{State: inspect.Pending, Limit: 2}, everything},
		{"pages of 1", inspect.Query{State: inspect.Pending, Limit: 1}, everything},
		{"one type", inspect.Query{State: inspect.Pending, Queue: "default", Task: charge.Name()}, []row{c(3, 1), c(5, 2), c(6, 3), c(8, 4)}},
		{"one type, pages of 3", inspect.Query{State: inspect.Pending, Queue: "default", Task: charge.Name(), Limit: 3}, []row{c(3, 1), c(5, 2), c(6, 3), c(8, 4)}},
		{"task in any queue", inspect.Query{State: inspect.Pending, Task: refund.Name()}, []row{r(1, 1), r(4, 2), r(7, 3)}},
		{"one queue", inspect.Query{State: inspect.Pending, Queue: "slow"}, []row{r(1, 1), r(4, 2), r(7, 3)}},
		{"no such queue", inspect.Query{State: inspect.Pending, Queue: "none"}, nil},
		{"where", inspect.Query{State: inspect.Pending, Where: &inspect.Match{Path: "customer.id", Value: "2"}}, []row{c(3, 1), r(4, 2), c(8, 4)}},
		{"where, pages of 1", inspect.Query{State: inspect.Pending, Limit: 1, Where: &inspect.Match{Path: "customer.id", Value: "2.0"}}, []row{c(3, 1), r(4, 2), c(8, 4)}},
		{"where in one type", inspect.Query{State: inspect.Pending, Task: refund.Name(), Where: &inspect.Match{Path: "customer.id", Value: "1"}}, []row{r(7, 3)}},
		{"where, no such path", inspect.Query{State: inspect.Pending, Where: &inspect.Match{Path: "customer.name", Value: `"x"`}}, nil},
		{"since", inspect.Query{State: inspect.Pending, Since: since}, []row{c(5, 2), c(6, 3), r(7, 3), c(8, 4)}},
		{"since, one type", inspect.Query{State: inspect.Pending, Queue: "default", Task: charge.Name(), Since: since}, []row{c(5, 2), c(6, 3), c(8, 4)}},
		{"until", inspect.Query{State: inspect.Pending, Until: since}, []row{r(1, 1), c(3, 1), r(4, 2)}},
		{"since and until", inspect.Query{State: inspect.Pending, Since: first[2].EnqueuedAt, Until: first[5].EnqueuedAt, Limit: 1}, []row{r(4, 2), c(5, 2), c(6, 3)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rows(all(t, f.in, tc.q)); !slices.Equal(got, tc.want) {
				t.Errorf("got %v\nwant %v", got, tc.want)
			}
		})
	}

	// A scan bound stops a page early and says so; the next page goes on.
	q := inspect.Query{State: inspect.Pending, Scan: 3, Where: &inspect.Match{Path: "customer.id", Value: "2"}}
	p, err := f.in.Tasks(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	// The scan starts at the first pending task, r0 (c0, before it, is
	// delivered): r0 does not match, c1 is delivered (read and skipped),
	// c2 matches.
	if !p.Partial || p.Scanned != 3 || len(p.Tasks) != 1 || p.Next == "" {
		t.Errorf("page with a scan bound of 3: got %d tasks, scanned %d, partial %v, next %q; want 1, 3, true and a token", len(p.Tasks), p.Scanned, p.Partial, p.Next)
	}
	if got := rows(all(t, f.in, q)); !slices.Equal(got, []row{c(3, 1), r(4, 2), c(8, 4)}) {
		t.Errorf("pages with a scan bound of 3: got %v", got)
	}
	if p, err := f.in.Tasks(ctx, inspect.Query{State: inspect.Pending}); err != nil || p.Partial || p.Scanned != 8 || p.Next != "" {
		t.Errorf("whole list: scanned %d, partial %v, next %q, %v; want 8 (from r0 on), false, none", p.Scanned, p.Partial, p.Next, err)
	}
}

// TestPendingWithoutStream lists nothing, and creates nothing, where no task
// was ever enqueued.
func TestPendingWithoutStream(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	in, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	p, err := in.Tasks(context.Background(), inspect.Query{State: inspect.Pending})
	if err != nil || len(p.Tasks) != 0 || p.Next != "" {
		t.Fatalf("got %+v, %v; want an empty page", p, err)
	}
	if _, err := js.Stream(context.Background(), "JETQ_TASKS"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("the work stream: %v; want none created", err)
	}
}

// TestBadQueries refuses each malformed query with an error that says
// what to do, before reading anything.
func TestBadQueries(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	for range 3 {
		f.enqueue(t, charge, Order{N: 1})
	}
	one := inspect.Query{State: inspect.Pending, Task: charge.Name(), Limit: 1}
	p, err := f.in.Tasks(ctx, one)
	if err != nil || p.Next == "" {
		t.Fatalf("first page: %v, next %q", err, p.Next)
	}
	tok := p.Next
	now := time.Now()
	for _, tc := range []struct {
		name string
		q    inspect.Query
		want string
	}{
		{"no state", inspect.Query{}, "no state: set Query.State"},
		{"unknown state", inspect.Query{State: "stuck"}, `unknown state "stuck": use one of pending, running`},
		{"bad queue", inspect.Query{State: inspect.Pending, Queue: "Big Queue"}, "queue"},
		{"bad task", inspect.Query{State: inspect.Pending, Task: "a..b"}, "task"},
		{"no path", inspect.Query{State: inspect.Pending, Where: &inspect.Match{Value: "1"}}, "match has no path"},
		{"empty key", inspect.Query{State: inspect.Pending, Where: &inspect.Match{Path: "customer..id", Value: "1"}}, "empty key"},
		{"value not JSON", inspect.Query{State: inspect.Pending, Where: &inspect.Match{Path: "customer.id", Value: "Ada"}}, "is not JSON: quote a string"},
		{"since after until", inspect.Query{State: inspect.Pending, Since: now, Until: now.Add(-time.Second)}, "is not before until"},
		{"since is until", inspect.Query{State: inspect.Pending, Since: now, Until: now}, "is not before until"},
		{"negative limit", inspect.Query{State: inspect.Pending, Limit: -1}, "limit -1 out of range: use 1 to 1000"},
		{"limit too big", inspect.Query{State: inspect.Pending, Limit: 1001}, "limit 1001 out of range"},
		{"scan too big", inspect.Query{State: inspect.Pending, Scan: inspect.MaxPageScan + 1}, "scan bound"},
		{"token of another list", inspect.Query{State: inspect.Running, Task: charge.Name(), Token: tok}, "page token is from the pending list, not running"},
		{"token of other filters", inspect.Query{State: inspect.Pending, Token: tok}, "page token is from a query with other filters"},
		{"token of another match", inspect.Query{State: inspect.Pending, Task: charge.Name(), Token: tok, Where: &inspect.Match{Path: "n", Value: "1"}}, "other filters"},
		{"malformed token", inspect.Query{State: inspect.Pending, Task: charge.Name(), Token: "bm90IGEgdG9rZW4"}, "page token \"bm90IGEgdG9rZW4\" is malformed"},
		{"token edited", inspect.Query{State: inspect.Pending, Task: charge.Name(), Token: edit(tok)}, "is malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.in.Tasks(ctx, tc.q)
			if !errors.Is(err, inspect.ErrInvalidQuery) || !contains(err, tc.want) {
				t.Fatalf("got %v; want an error wrapping ErrInvalidQuery saying %q", err, tc.want)
			}
			if len(p.Tasks) != 0 || p.Next != "" {
				t.Errorf("got a page %+v with the error", p)
			}
		})
	}
	// The token still reads with its own query, and another page size.
	one.Token, one.Limit = tok, 5
	if p, err := f.in.Tasks(ctx, one); err != nil || len(p.Tasks) != 2 {
		t.Errorf("second page: %d tasks, %v; want 2", len(p.Tasks), err)
	}
}

// edit changes one character in the middle of s.
func edit(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func contains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }

// TestParse reads states and matches as the command line writes them.
func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want inspect.State
		err  bool
	}{
		{"pending", inspect.Pending, false}, {"Retrying", inspect.Retrying, false}, {" scheduled ", inspect.Scheduled, false},
		{"failed", inspect.Failed, false}, {"done", "", true}, {"", "", true},
	} {
		got, err := inspect.ParseState(tc.in)
		if got != tc.want || (err != nil) != tc.err || (err != nil && !errors.Is(err, inspect.ErrInvalidQuery)) {
			t.Errorf("ParseState(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	for _, tc := range []struct {
		in   string
		want inspect.Match
		err  string
	}{
		{"customer.id=42", inspect.Match{Path: "customer.id", Value: "42"}, ""},
		{`customer.name="Ada"`, inspect.Match{Path: "customer.name", Value: `"Ada"`}, ""},
		{"customer.name=Ada Lovelace", inspect.Match{Path: "customer.name", Value: `"Ada Lovelace"`}, ""},
		{"paid = true", inspect.Match{Path: "paid", Value: "true"}, ""},
		{"customer.id", inspect.Match{}, "has no '='"},
		{"=42", inspect.Match{}, "no path"},
		{".id=42", inspect.Match{}, "empty key"},
	} {
		got, err := inspect.ParseMatch(tc.in)
		switch {
		case tc.err == "" && (err != nil || *got != tc.want):
			t.Errorf("ParseMatch(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		case tc.err != "" && (!errors.Is(err, inspect.ErrInvalidQuery) || !contains(err, tc.err)):
			t.Errorf("ParseMatch(%q): %v; want an error saying %q", tc.in, err, tc.err)
		}
	}
}

// TestPendingWithoutDirectGets lists the pending tasks of a work stream
// made before it allowed direct gets, one get a message, with the same
// tasks and positions.
func TestPendingWithoutDirectGets(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	cfg := wire.WorkStreamConfig(topologyZero)
	cfg.AllowDirect = false
	if _, err := f.js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 5 {
		ids = append(ids, f.enqueue(t, charge, Order{Customer{ID: i % 2}, i}).ID)
	}
	f.deliver(t, charge, 1)
	got := all(t, f.in, inspect.Query{State: inspect.Pending, Limit: 2})
	want := []row{{ids[1], charge.Name(), 1}, {ids[2], charge.Name(), 2}, {ids[3], charge.Name(), 3}, {ids[4], charge.Name(), 4}}
	if !slices.Equal(rows(got), want) {
		t.Errorf("got %v\nwant %v", rows(got), want)
	}
	since := all(t, f.in, inspect.Query{State: inspect.Pending, Since: got[2].EnqueuedAt, Where: &inspect.Match{Path: "customer.id", Value: "1"}})
	if want := []row{{ids[3], charge.Name(), 0}}; !slices.Equal(rows(since), want) {
		t.Errorf("since and where: got %v, want %v (no position without direct gets)", rows(since), want)
	}
}
