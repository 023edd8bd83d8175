package fired_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/fired"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/topology"
)

// setup starts a server and returns a func that makes a store on it, as
// each worker has its own.
func setup(t *testing.T) func() *fired.Store {
	t.Helper()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	return func() *fired.Store { return fired.New(js, topology.Topology{Memory: true}) }
}

func TestClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)()
	steps := []struct {
		what    string
		id      string
		firing  string
		seq     uint64
		attempt int
		token   uint64 // one delivery's tries share it
		want    fired.Verdict
	}{
		{"first delivery", "a", "t1", 10, 1, 1, fired.Run},
		{"the same attempt, delivered again", "a", "t1", 10, 1, 99, fired.Stale},
		{"its claim again (a try that timed out)", "a", "t1", 10, 1, 1, fired.Run},
		{"a copy of the same firing", "a", "t1", 11, 1, 1, fired.Copy},
		{"a redelivery of the first", "a", "t1", 10, 2, 2, fired.Run},
		{"the first delivery after the redelivery", "a", "t1", 10, 1, 1, fired.Stale},
		{"a copy's redelivery", "a", "t1", 11, 2, 2, fired.Copy},
		{"the ID enqueued again", "a", "t2", 20, 1, 1, fired.Run},
		{"a copy of the old firing, now", "a", "t1", 12, 1, 1, fired.Copy},
		{"a copy of the new firing", "a", "t2", 21, 1, 1, fired.Copy},
		{"another ID", "b", "t1", 11, 1, 1, fired.Run},
		{"a periodic tick", "every@2026-12-07T10:00:00Z", "", 30, 1, 1, fired.Run},
		{"its copy", "every@2026-12-07T10:00:00Z", "", 31, 1, 1, fired.Copy},
	}
	for _, st := range steps {
		got, err := s.Claim(ctx, fired.Delivery{ID: st.id, Firing: st.firing, Seq: st.seq, Attempt: st.attempt, Token: st.token})
		if err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		if got != st.want {
			t.Errorf("%s: Claim(%q, %q, %d, %d) = %v, want %v", st.what, st.id, st.firing, st.seq, st.attempt, got, st.want)
		}
	}
}

// TestClaimAfterDone: once a delivery succeeded, its message's redelivery
// (an acknowledgement lost) is Done, and another copy still a Copy.
func TestClaimAfterDone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)()
	first := fired.Delivery{ID: "a", Firing: "t1", Seq: 10, Attempt: 1, Token: 1}
	if v, err := s.Claim(ctx, first); err != nil || v != fired.Run {
		t.Fatalf("first delivery: %v, %v; want Run", v, err)
	}
	if err := s.Done(ctx, first); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		d    fired.Delivery
		want fired.Verdict
	}{
		{"its redelivery", fired.Delivery{ID: "a", Firing: "t1", Seq: 10, Attempt: 2, Token: 2}, fired.Done},
		{"a copy", fired.Delivery{ID: "a", Firing: "t1", Seq: 11, Attempt: 1, Token: 3}, fired.Copy},
		{"the ID enqueued again", fired.Delivery{ID: "a", Firing: "t2", Seq: 20, Attempt: 1, Token: 4}, fired.Run},
	} {
		if v, err := s.Claim(ctx, c.d); err != nil || v != c.want {
			t.Errorf("%s: %v, %v; want %v", c.what, v, err, c.want)
		}
	}
}

// TestClaimConcurrentCopies: of copies claimed at once, from as many
// workers, exactly one runs.
func TestClaimConcurrentCopies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	newStore := setup(t)
	const copies = 8
	var wg sync.WaitGroup
	runs := make(chan uint64, copies)
	for i := range copies {
		wg.Go(func() {
			v, err := newStore().Claim(ctx, fired.Delivery{ID: "x", Firing: "t1", Seq: uint64(100 + i), Attempt: 1, Token: uint64(i)})
			if err != nil {
				t.Error(err)
			}
			if v == fired.Run {
				runs <- uint64(100 + i)
			}
		})
	}
	wg.Wait()
	close(runs)
	if n := len(runs); n != 1 {
		t.Errorf("%d of %d copies run, want 1", n, copies)
	}
}

// TestReserve: a copy made to run a retry now is given the run before it
// is delivered; its delivery takes the claim over and runs, and the
// original's redelivery is a Copy. A run the original's redelivery claimed
// first stays its own: Reserve says so, and the copy is a Copy.
func TestReserve(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)()
	firing := wire.RetryFiring(10, 1)
	if holder, err := s.Reserve(ctx, fired.Delivery{ID: "a", Firing: firing, Seq: 20, Attempt: 1}); err != nil || holder != 20 {
		t.Fatalf("reserve for the copy: holder %d, %v; want 20", holder, err)
	}
	if holder, err := s.Reserve(ctx, fired.Delivery{ID: "a", Firing: firing, Seq: 20, Attempt: 1}); err != nil || holder != 20 {
		t.Fatalf("reserve again (RetryNow called twice): holder %d, %v; want 20", holder, err)
	}
	steps := []struct {
		what    string
		id      string
		seq     uint64
		attempt int
		want    fired.Verdict
	}{
		{"the original's redelivery", "a", 10, 2, fired.Copy},
		{"the copy's delivery", "a", 20, 2, fired.Run},
		{"the original's redelivery, after", "a", 10, 2, fired.Copy},
		{"another task's redelivery", "b", 10, 2, fired.Run},
	}
	for _, st := range steps {
		got, err := s.Claim(ctx, fired.Delivery{ID: st.id, Firing: firing, Seq: st.seq, Attempt: st.attempt, Token: 7})
		if err != nil || got != st.want {
			t.Errorf("%s: Claim = %v, %v; want %v", st.what, got, err, st.want)
		}
	}
	if holder, err := s.Reserve(ctx, fired.Delivery{ID: "b", Firing: firing, Seq: 30, Attempt: 1}); err != nil || holder != 10 {
		t.Errorf("reserve a run the original claimed: holder %d, %v; want the original's 10", holder, err)
	}
}

// TestReserveForNoDelivery reserves a firing for sequence 0, no message's,
// as a cancel does: each delivery of it is then a copy, and a firing a
// delivery claimed first stays that delivery's.
func TestReserveForNoDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)()
	for _, what := range []string{"unclaimed", "reserved already"} {
		if holder, err := s.Reserve(ctx, fired.Delivery{ID: "a", Firing: "t1"}); err != nil || holder != 0 {
			t.Errorf("%s: Reserve = %d, %v; want 0", what, holder, err)
		}
	}
	for _, d := range []fired.Delivery{{ID: "a", Firing: "t1", Seq: 10, Attempt: 1}, {ID: "a", Firing: "t1", Seq: 11, Attempt: 2}} {
		if v, err := s.Claim(ctx, d); err != nil || v != fired.Copy {
			t.Errorf("delivery %+v of a reserved firing: %v, %v; want Copy", d, v, err)
		}
	}
	if v, err := s.Claim(ctx, fired.Delivery{ID: "a", Firing: "t2", Seq: 12, Attempt: 1}); err != nil || v != fired.Run {
		t.Fatalf("another firing: %v, %v; want Run", v, err)
	}
	if holder, err := s.Reserve(ctx, fired.Delivery{ID: "a", Firing: "t2"}); err != nil || holder != 12 {
		t.Errorf("Reserve of a claimed firing = %d, %v; want 12", holder, err)
	}
}
