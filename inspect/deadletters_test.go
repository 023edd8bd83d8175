package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/testkit/jetqtest"
	"github.com/jetq/jetq/topology"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// run is one handler call.
type run struct {
	id       string
	attempt  int
	replayOf string
}

// fixable registers a handler of def that fails permanently until fixed is
// set, and reports every call on the returned channel.
func fixable(reg *tasks.Registry, def *tasks.Definition[Job], fixed *atomic.Bool) <-chan run {
	runs := make(chan run, 100)
	tasks.MustHandle(reg, def, func(ctx context.Context, tk *tasks.Task[Job]) error {
		runs <- run{tk.ID, tk.Attempt, tk.Header.Get(wire.HeaderReplayOf)}
		if !fixed.Load() {
			return tasks.Permanent(errors.New("config missing"))
		}
		return nil
	})
	return runs
}

func next(t *testing.T, runs <-chan run) run {
	t.Helper()
	select {
	case r := <-runs:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("the task never ran")
		return run{}
	}
}

func TestReplayDeadLetterRunsTheTaskAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Job]("dlq.fixable", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(3))
	var fixed atomic.Bool
	reg := tasks.NewRegistry()
	runs := fixable(reg, def, &fixed)
	b.runWorker(t, reg)
	// Within the work stream's duplicates window of the original enqueue,
	// which must not drop the replay.
	r, err := producer.Enqueue(ctx, b.p, def, Job{N: 1}, producer.WithID("job:1"))
	if err != nil {
		t.Fatal(err)
	}
	next(t, runs)
	e := b.waitRecords(t, 1)[0]
	if e.ID != r.ID || e.Reason != tasks.ReasonPermanent || e.Error != "permanent: config missing" {
		t.Fatalf("record %+v", e)
	}

	fixed.Store(true)
	if err := b.in.ReplayDeadLetter(ctx, e.Seq); err != nil {
		t.Fatal(err)
	}
	got := next(t, runs)
	if want := (run{"job:1", 1, fmt.Sprintf("JETQ_DLQ:%d", e.Seq)}); got != want {
		t.Errorf("replayed task ran as %+v, want %+v", got, want)
	}
	b.waitRecords(t, 0)
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
	if _, err := b.in.DeadLetter(ctx, e.Seq); !errors.Is(err, inspect.ErrNotFound) {
		t.Errorf("Get after replay: %v, want ErrNotFound", err)
	}
	if err := b.in.ReplayDeadLetter(ctx, e.Seq); !errors.Is(err, inspect.ErrNotFound) {
		t.Errorf("second Replay: %v, want ErrNotFound", err)
	}
}

// TestReplayRedoneAfterACrashRunsOnce redoes a replay that published the
// task and died before deleting the record: the work stream drops the
// second publish, and the record goes.
func TestReplayRedoneAfterACrashRunsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Job]("dlq.replayed-twice", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(1))
	var fixed atomic.Bool
	reg := tasks.NewRegistry()
	runs := fixable(reg, def, &fixed)
	b.runWorker(t, reg)
	if _, err := producer.Enqueue(ctx, b.p, def, Job{N: 2}, producer.WithID("job:2")); err != nil {
		t.Fatal(err)
	}
	next(t, runs)
	e := b.waitRecords(t, 1)[0]
	fixed.Store(true)

	// The first replay's publish, under the replay's Nats-Msg-Id.
	msg := nats.NewMsg(e.Subject)
	msg.Header.Set(wire.HeaderID, e.ID)
	msg.Header.Set(wire.HeaderMsgID, wire.ReplayID(e.ID, e.Seq))
	msg.Data = e.Payload
	first, err := b.js.PublishMsg(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	if got := next(t, runs); got.id != "job:2" {
		t.Fatalf("run %+v", got)
	}
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")

	if err := b.in.ReplayDeadLetter(ctx, e.Seq); err != nil {
		t.Fatal(err)
	}
	b.waitRecords(t, 0)
	s, err := b.js.Stream(ctx, "JETQ_TASKS")
	if err != nil {
		t.Fatal(err)
	}
	if last := s.CachedInfo().State.LastSeq; last != first.Sequence {
		t.Errorf("work stream's last sequence %d, want %d: the redone replay was stored again", last, first.Sequence)
	}
}

func TestReplayDeadLettersReplaysWhatWasThere(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	def := tasks.Define[Job]("dlq.again", tasks.WithAckWait(time.Second), tasks.WithMaxAttempts(1))
	var fixed atomic.Bool // never: each replay fails and is filed again
	reg := tasks.NewRegistry()
	runs := fixable(reg, def, &fixed)
	if _, err := provision.Ensure(ctx, b.js, topology.Topology{}, testkit.Logger(t)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		fileRecord(t, b.js, "default", "dlq.again", tasks.ReasonMaxAttempts, time.Now(), i)
	}
	other := fileRecord(t, b.js, "default", "dlq.other", tasks.ReasonMaxAttempts, time.Now(), 9)
	b.runWorker(t, reg)

	n, err := b.in.ReplayDeadLetters(ctx, inspect.DeadLetterFilter{Task: "dlq.again"})
	if err != nil || n != 3 {
		t.Fatalf("ReplayAll: %d, %v; want 3", n, err)
	}
	var ids []string
	for range 3 {
		r := next(t, runs)
		if r.attempt != 1 {
			t.Errorf("replayed run %+v", r)
		}
		ids = append(ids, r.id)
	}
	slices.Sort(ids)
	if want := []string{"dlq.again:0", "dlq.again:1", "dlq.again:2"}; !slices.Equal(ids, want) {
		t.Errorf("replayed tasks %v, want %v", ids, want)
	}
	entries := b.waitRecords(t, 4) // filed again, once each
	if entries[0].Seq != other {
		t.Errorf("first record %d, want the other task's %d", entries[0].Seq, other)
	}
	jetqtest.WaitEmpty(t, b.js, "JETQ_TASKS")
}

// newDLQ creates the dead-letter stream, answering direct gets or not.
func newDLQ(t *testing.T, direct bool) jetstream.JetStream {
	t.Helper()
	js := embeddedtest.JetStream(t)
	cfg := wire.DLQStreamConfig(topology.Topology{Memory: true})
	cfg.AllowDirect = direct
	if _, err := js.CreateStream(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return js
}

func seqsOf(es []inspect.DeadLetter) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

func TestDeadLettersFiltersAndPages(t *testing.T) {
	t.Parallel()
	for _, direct := range []bool{true, false} {
		t.Run(fmt.Sprintf("direct=%v", direct), func(t *testing.T) {
			t.Parallel()
			js := newDLQ(t, direct)
			ctx := context.Background()
			// 300 records, filed a second apart (the clocks agree): a.x,
			// b.y and c.z on queue reports in turn, permanent and
			// max_attempts in turn.
			base := time.Now().UTC().Truncate(time.Second)
			names := []string{"a.x", "b.y", "c.z"}
			seqs := make([]uint64, 300)
			for i := range seqs {
				queue := "default"
				if i%3 == 2 {
					queue = "reports"
				}
				reason := []tasks.Reason{tasks.ReasonPermanent, tasks.ReasonMaxAttempts}[i%2]
				seqs[i] = fileRecord(t, js, queue, names[i%3], reason, base.Add(time.Duration(i)*time.Second), i)
			}
			in, err := inspect.New(js)
			if err != nil {
				t.Fatal(err)
			}
			pick := func(keep func(i int) bool, newest bool) []uint64 {
				var out []uint64
				for i, s := range seqs {
					if keep(i) {
						out = append(out, s)
					}
				}
				if newest {
					slices.Reverse(out)
				}
				return out
			}
			at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
			all := func(int) bool { return true }
			for _, tc := range []struct {
				name string
				f    inspect.DeadLetterFilter
				want []uint64
			}{
				{"everything", inspect.DeadLetterFilter{Limit: -1}, seqs},
				{"default limit", inspect.DeadLetterFilter{}, seqs[:inspect.DefaultDeadLetterLimit]},
				{"by task", inspect.DeadLetterFilter{Task: "a.x", Limit: -1}, pick(func(i int) bool { return i%3 == 0 }, false)},
				{"by queue", inspect.DeadLetterFilter{Queue: "reports", Limit: -1}, pick(func(i int) bool { return i%3 == 2 }, false)},
				{"by queue and task", inspect.DeadLetterFilter{Queue: "default", Task: "c.z"}, nil},
				{"by reason", inspect.DeadLetterFilter{Reason: tasks.ReasonPermanent, Limit: -1}, pick(func(i int) bool { return i%2 == 0 }, false)},
				{"by task and reason", inspect.DeadLetterFilter{Task: "a.x", Reason: tasks.ReasonPermanent}, pick(func(i int) bool { return i%6 == 0 }, false)},
				{"time range", inspect.DeadLetterFilter{Since: at(100), Until: at(199), Limit: -1}, seqs[100:200]},
				{"newest", inspect.DeadLetterFilter{Order: inspect.NewestFirst, Limit: 5}, pick(func(i int) bool { return i >= 295 }, true)},
				{"newest until", inspect.DeadLetterFilter{Order: inspect.NewestFirst, Until: at(10), Limit: -1}, pick(func(i int) bool { return i <= 10 }, true)},
				{"newest since", inspect.DeadLetterFilter{Order: inspect.NewestFirst, Since: at(290), Limit: -1}, pick(func(i int) bool { return i >= 290 }, true)},
				{"newest by task", inspect.DeadLetterFilter{Order: inspect.NewestFirst, Task: "b.y", Limit: -1}, pick(func(i int) bool { return i%3 == 1 }, true)},
				{"newest of all", inspect.DeadLetterFilter{Order: inspect.NewestFirst, Limit: -1}, pick(all, true)},
				{"after", inspect.DeadLetterFilter{After: seqs[297]}, seqs[298:]},
				{"newest after", inspect.DeadLetterFilter{Order: inspect.NewestFirst, After: seqs[2]}, pick(func(i int) bool { return i < 2 }, true)},
			} {
				got, err := in.DeadLetters(ctx, tc.f)
				if err != nil {
					t.Errorf("%s: %v", tc.name, err)
					continue
				}
				if !slices.Equal(seqsOf(got), tc.want) {
					t.Errorf("%s: got %d records %v, want %d %v", tc.name, len(got), seqsOf(got), len(tc.want), tc.want)
				}
			}

			// Paging through returns what one listing does, in both orders.
			for _, order := range []inspect.Order{inspect.OldestFirst, inspect.NewestFirst} {
				f := inspect.DeadLetterFilter{Task: "b.y", Order: order, Limit: 7}
				var paged []uint64
				for pages := 0; ; pages++ {
					page, err := in.DeadLetters(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					if len(page) == 0 {
						break
					}
					if len(page) > 7 || pages > 20 {
						t.Fatalf("order %d: page %d of %d records", order, pages, len(page))
					}
					paged = append(paged, seqsOf(page)...)
					f.After = page[len(page)-1].Seq
				}
				if want := pick(func(i int) bool { return i%3 == 1 }, order == inspect.NewestFirst); !slices.Equal(paged, want) {
					t.Errorf("order %d: pages %v, want %v", order, paged, want)
				}
			}

			e, err := in.DeadLetter(ctx, seqs[5])
			if err != nil {
				t.Fatal(err)
			}
			if e.Task != "c.z" || e.Queue != "reports" || e.ID != "c.z:5" || e.Reason != tasks.ReasonMaxAttempts ||
				string(e.Payload) != `{"n":5}` || !e.FailedAt.Equal(at(5)) || e.StreamSeq != 1_000_005 ||
				e.Header.Get(wire.HeaderDLQReason) != "max_attempts" || e.Header.Get("Nats-Sequence") != "" {
				t.Errorf("Get: %+v", e)
			}
			if _, err := in.DeadLetter(ctx, 100_000); !errors.Is(err, inspect.ErrNotFound) {
				t.Errorf("Get of no record: %v, want ErrNotFound", err)
			}
		})
	}
}

// TestDeadLetterPagesDoNotShift removes and files records between two pages.
func TestDeadLetterPagesDoNotShift(t *testing.T) {
	t.Parallel()
	js := newDLQ(t, true)
	ctx := context.Background()
	var seqs []uint64
	for i := range 10 {
		seqs = append(seqs, fileRecord(t, js, "default", "a.x", tasks.ReasonTimeout, time.Now(), i))
	}
	in, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	page1, err := in.DeadLetters(ctx, inspect.DeadLetterFilter{Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.DeleteDeadLetter(ctx, seqs[4]); err != nil { // the first of page 2
		t.Fatal(err)
	}
	if err := in.DeleteDeadLetter(ctx, seqs[1]); err != nil { // one of page 1
		t.Fatal(err)
	}
	newer := fileRecord(t, js, "default", "a.x", tasks.ReasonTimeout, time.Now(), 10)
	page2, err := in.DeadLetters(ctx, inspect.DeadLetterFilter{Limit: 4, After: page1[3].Seq})
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{seqs[5], seqs[6], seqs[7], seqs[8]}; !slices.Equal(seqsOf(page2), want) {
		t.Errorf("page 2: %v, want %v", seqsOf(page2), want)
	}
	page3, err := in.DeadLetters(ctx, inspect.DeadLetterFilter{Limit: 4, After: page2[3].Seq})
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{seqs[9], newer}; !slices.Equal(seqsOf(page3), want) {
		t.Errorf("page 3: %v, want %v", seqsOf(page3), want)
	}
}

func TestDeleteAndPurgeDeadLettersAndStats(t *testing.T) {
	t.Parallel()
	js := newDLQ(t, true)
	ctx := context.Background()
	base := time.Now().UTC()
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	var seqs []uint64
	for i := range 6 { // a.x: permanent, max_attempts, permanent, …
		reason := []tasks.Reason{tasks.ReasonPermanent, tasks.ReasonMaxAttempts}[i%2]
		seqs = append(seqs, fileRecord(t, js, "default", "a.x", reason, at(i), i))
	}
	for i := 6; i < 12; i++ {
		seqs = append(seqs, fileRecord(t, js, "reports", "c.z", tasks.ReasonTimeout, at(i), i))
	}
	in, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	stats := func(want inspect.DeadLetterStats) {
		t.Helper()
		got, err := in.DeadLetterStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.Total != want.Total || !got.Oldest.Equal(want.Oldest) || !got.Newest.Equal(want.Newest) ||
			fmt.Sprint(got.ByTask) != fmt.Sprint(want.ByTask) || fmt.Sprint(got.ByReason) != fmt.Sprint(want.ByReason) {
			t.Errorf("Stats: got %+v, want %+v", got, want)
		}
	}
	stats(inspect.DeadLetterStats{
		Total: 12, Oldest: at(0), Newest: at(11),
		ByTask:   map[string]int{"a.x": 6, "c.z": 6},
		ByReason: map[tasks.Reason]int{tasks.ReasonPermanent: 3, tasks.ReasonMaxAttempts: 3, tasks.ReasonTimeout: 6},
	})

	if err := in.DeleteDeadLetter(ctx, seqs[0]); err != nil {
		t.Fatal(err)
	}
	if err := in.DeleteDeadLetter(ctx, seqs[0]); !errors.Is(err, inspect.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	if err := in.DeleteDeadLetter(ctx, 100_000); !errors.Is(err, inspect.ErrNotFound) {
		t.Errorf("Delete of a sequence never used: %v, want ErrNotFound", err)
	}
	for _, tc := range []struct {
		name string
		f    inspect.DeadLetterFilter
		want int
	}{
		{"by task and reason", inspect.DeadLetterFilter{Task: "a.x", Reason: tasks.ReasonPermanent}, 2}, // the 3rd was deleted
		{"by queue", inspect.DeadLetterFilter{Queue: "reports"}, 6},                                     // by subject, on the server
		{"since", inspect.DeadLetterFilter{Since: at(5)}, 1},
		{"nothing left to select", inspect.DeadLetterFilter{Task: "c.z"}, 0},
	} {
		if n, err := in.PurgeDeadLetters(ctx, tc.f); err != nil || n != tc.want {
			t.Errorf("Purge %s: %d, %v; want %d", tc.name, n, err, tc.want)
		}
	}
	stats(inspect.DeadLetterStats{
		Total: 2, Oldest: at(1), Newest: at(3),
		ByTask:   map[string]int{"a.x": 2},
		ByReason: map[tasks.Reason]int{tasks.ReasonMaxAttempts: 2},
	})
	if n, err := in.PurgeDeadLetters(ctx, inspect.DeadLetterFilter{}); err != nil || n != 2 {
		t.Errorf("Purge of all: %d, %v; want 2", n, err)
	}
	stats(inspect.DeadLetterStats{ByTask: map[string]int{}, ByReason: map[tasks.Reason]int{}})

	for _, bad := range []inspect.DeadLetterFilter{
		{Task: "Bad Name"}, {Queue: "a.b"}, {Reason: "exploded"}, {Limit: -2}, {Order: 7},
		{Since: time.Now(), Until: time.Now().Add(-time.Hour)},
	} {
		if _, err := in.DeadLetters(ctx, bad); !errors.Is(err, inspect.ErrInvalidQuery) {
			t.Errorf("List(%+v): %v, want ErrInvalidQuery", bad, err)
		}
		if _, err := in.PurgeDeadLetters(ctx, bad); !errors.Is(err, inspect.ErrInvalidQuery) {
			t.Errorf("Purge(%+v): %v, want ErrInvalidQuery", bad, err)
		}
		if _, err := in.ReplayDeadLetters(ctx, bad); !errors.Is(err, inspect.ErrInvalidQuery) {
			t.Errorf("ReplayAll(%+v): %v, want ErrInvalidQuery", bad, err)
		}
	}
}

func TestDeadLettersOnAServerWithoutStreams(t *testing.T) {
	t.Parallel()
	in, err := inspect.New(embeddedtest.JetStream(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if es, err := in.DeadLetters(ctx, inspect.DeadLetterFilter{}); err != nil || len(es) != 0 {
		t.Errorf("List: %v, %v", es, err)
	}
	if st, err := in.DeadLetterStats(ctx); err != nil || st.Total != 0 {
		t.Errorf("Stats: %+v, %v", st, err)
	}
	if _, err := in.DeadLetter(ctx, 1); !errors.Is(err, inspect.ErrNotFound) {
		t.Errorf("Get: %v", err)
	}
	if err := in.ReplayDeadLetter(ctx, 1); !errors.Is(err, inspect.ErrNotFound) {
		t.Errorf("Replay: %v", err)
	}
	if err := in.DeleteDeadLetter(ctx, 1); !errors.Is(err, inspect.ErrNotFound) {
		t.Errorf("Delete: %v", err)
	}
	if n, err := in.ReplayDeadLetters(ctx, inspect.DeadLetterFilter{}); err != nil || n != 0 {
		t.Errorf("ReplayAll: %d, %v", n, err)
	}
	if n, err := in.PurgeDeadLetters(ctx, inspect.DeadLetterFilter{}); err != nil || n != 0 {
		t.Errorf("Purge: %d, %v", n, err)
	}
	if n, err := in.PurgeDeadLetters(ctx, inspect.DeadLetterFilter{Reason: tasks.ReasonTimeout}); err != nil || n != 0 {
		t.Errorf("Purge by reason: %d, %v", n, err)
	}
}
