package provision

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

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

// TestLeaderReadsSeeTheLastWrite writes a key through the node leading a
// three-replica bucket, under a load of other writes, and reads it back at
// once through each other node. A bucket made with direct gets on (as
// jetstream.CreateKeyValue makes every bucket) is opened with
// ReadFromLeader: its stream then has direct gets off, and every read
// returns the write just acknowledged. The log gives how many reads
// returned an older value before the switch; a replica answering direct
// gets may lag, and under load it does.
func TestLeaderReadsSeeTheLastWrite(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := embeddedtest.Cluster(t, 3)
	cfg := jetstream.KeyValueConfig{Bucket: "JETQ_TEST_LEADER", History: 1, Replicas: 3}
	connect := func(node int) jetstream.JetStream {
		nc, err := c.Node(node).Connect()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	if _, err := NewBucket(connect(0), cfg).Open(ctx, true); err != nil {
		t.Fatal(err)
	}
	leader, err := c.StreamLeader(ctx, "KV_"+cfg.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	writerJS := connect(leader)
	var readerJS []jetstream.JetStream
	for n := range 3 {
		if n != leader {
			readerJS = append(readerJS, connect(n))
		}
	}
	// Other writes keep the replicas busy.
	noise, err := NewBucket(writerJS, cfg).Open(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	noiseCtx, stopNoise := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for noiseCtx.Err() == nil {
				_, _ = noise.Put(noiseCtx, fmt.Sprintf("noise%d", g), make([]byte, 1024))
			}
		})
	}
	defer func() { stopNoise(); wg.Wait() }()

	const reads = 300 // per follower
	stale := func(b func(js jetstream.JetStream) *Bucket) int {
		w, err := b(writerJS).Open(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, js := range readerJS {
			r, err := b(js).Open(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			for i := range reads {
				want := strconv.Itoa(i)
				if _, err := w.Put(ctx, "k", []byte(want)); err != nil {
					t.Fatal(err)
				}
				e, err := r.Get(ctx, "k")
				if err != nil {
					t.Fatal(err)
				}
				if string(e.Value()) != want {
					n++
				}
			}
		}
		return n
	}
	before := stale(func(js jetstream.JetStream) *Bucket { return NewBucket(js, cfg) })
	after := stale(func(js jetstream.JetStream) *Bucket { return NewBucket(js, cfg).ReadFromLeader() })
	t.Logf("reads through a follower that returned an older value: %d of %d with direct gets, %d from the leader", before, 2*reads, after)
	if after != 0 {
		t.Errorf("%d of %d reads from the leader returned an older value than the write acknowledged before them", after, 2*reads)
	}
	info, err := writerJS.Stream(ctx, "KV_"+cfg.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if info.CachedInfo().Config.AllowDirect {
		t.Error("the bucket's stream still allows direct gets after Open with ReadFromLeader")
	}
}
