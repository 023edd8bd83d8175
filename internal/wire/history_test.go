package wire_test

import (
	"math"
	"testing"
	"time"

	"github.com/jetq/jetq/internal/wire"
)

// TestWaitBuckets reads every wait from a microsecond to three days back
// from its bucket: within 19% from WaitBase up, and buckets in order.
func TestWaitBuckets(t *testing.T) {
	t.Parallel()
	prev := 0
	for d := time.Microsecond; d < 72*time.Hour; d = d * 101 / 100 {
		b := wire.WaitBucket(d)
		if b < prev {
			t.Fatalf("WaitBucket(%v) = %d, after %d for a shorter wait", d, b, prev)
		}
		prev = b
		if d < wire.WaitBase || b == wire.WaitBuckets-1 {
			continue
		}
		got := wire.WaitValue(b)
		if e := math.Abs(float64(got-d)) / float64(d); e > 0.1893 {
			t.Errorf("WaitValue(WaitBucket(%v)) = %v: off by %.1f%%, want at most 19%%", d, got, 100*e)
		}
	}
	if prev != wire.WaitBuckets-1 {
		t.Errorf("three days fall in bucket %d, want the last, %d", prev, wire.WaitBuckets-1)
	}
}
