package provision

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded/embeddedtest"
)

// TestBucketOpensOrCreates opens a missing bucket without creating it (an
// error), then from several goroutines at once with create, as a
// producer's and a worker's stores do at startup: all get the one bucket.
// A bucket that exists is used as the server has it.
func TestBucketOpensOrCreates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := embeddedtest.JetStream(t)
	cfg := jetstream.KeyValueConfig{Bucket: "JETQ_TEST", History: 1, Storage: jetstream.MemoryStorage}

	if _, err := NewBucket(js, cfg).Open(ctx, false); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("open missing bucket without create: got %v, want ErrBucketNotFound", err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			kv, err := NewBucket(js, cfg).Open(ctx, true)
			if err != nil {
				t.Errorf("open with create: %v", err)
				return
			}
			if kv.Bucket() != cfg.Bucket {
				t.Errorf("opened %q, want %q", kv.Bucket(), cfg.Bucket)
			}
		})
	}
	wg.Wait()

	other := cfg
	other.History = 5
	b := NewBucket(js, other)
	kv, err := b.Open(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.History() != 1 {
		t.Errorf("existing bucket: history %d, want 1 as it was created", st.History())
	}
	if again, err := b.Open(ctx, false); err != nil || again != kv {
		t.Errorf("second Open: got %v, %v, want the bucket of the first", again, err)
	}
}
