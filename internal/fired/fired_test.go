package fired_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/fired"
	"github.com/jetq/jetq/internal/wire"
)

// setup starts a server and returns a func that makes a store on it, as
// each worker has its own.
func setup(t *testing.T) func() *fired.Store {
	t.Helper()
	srv := embeddedtest.Server(t)
	_, js := embeddedtest.Connect(t, srv)
	names, err := wire.NewNames("")
	if err != nil {
		t.Fatal(err)
	}
	return func() *fired.Store { return fired.New(js, wire.Topology{Names: names, Memory: true}) }
}

func TestClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)()
	steps := []struct {
		what   string
		id     string
		firing string
		seq    uint64
		want   bool
	}{
		{"first delivery", "a", "t1", 10, true},
		{"its redelivery", "a", "t1", 10, true},
		{"a copy of the same firing", "a", "t1", 11, false},
		{"the first again, after the copy", "a", "t1", 10, true},
		{"the ID enqueued again", "a", "t2", 20, true},
		{"a copy of the old firing, now", "a", "t1", 12, false},
		{"a copy of the new firing", "a", "t2", 21, false},
		{"another ID", "b", "t1", 11, true},
		{"a periodic tick", "every@2026-12-07T10:00:00Z", "", 30, true},
		{"its copy", "every@2026-12-07T10:00:00Z", "", 31, false},
	}
	for _, st := range steps {
		got, err := s.Claim(ctx, st.id, st.firing, st.seq)
		if err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		if got != st.want {
			t.Errorf("%s: Claim(%q, %q, %d) = %v, want %v", st.what, st.id, st.firing, st.seq, got, st.want)
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
			run, err := newStore().Claim(ctx, "x", "t1", uint64(100+i))
			if err != nil {
				t.Error(err)
			}
			if run {
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
