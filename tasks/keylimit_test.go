package tasks_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jetq/jetq/tasks"
)

// TestWithKeyConcurrencyRefusesOutOfRange: a concurrency per key of 0 or
// less, or above MaxKeyConcurrency, is refused by New, Define and
// Spec.Validate with an error that says the range; 1 and the maximum are
// taken into the spec.
func TestWithKeyConcurrencyRefusesOutOfRange(t *testing.T) {
	t.Parallel()
	for _, k := range []int{0, -1, tasks.MaxKeyConcurrency + 1} {
		_, err := tasks.New[order]("shop.order", tasks.WithKeyConcurrency(k))
		if !errors.Is(err, tasks.ErrInvalidOption) || !strings.Contains(err.Error(), "key concurrency must be from 1 to 64") {
			t.Errorf("WithKeyConcurrency(%d): got %v, want an ErrInvalidOption that gives the range", k, err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Define with WithKeyConcurrency(%d) did not panic", k)
				}
			}()
			tasks.Define[order]("shop.order", tasks.WithKeyConcurrency(k))
		}()
	}
	spec := tasks.Define[order]("shop.order").Spec()
	spec.KeyConcurrency = -2
	if err := spec.Validate(); !errors.Is(err, tasks.ErrInvalidOption) {
		t.Errorf("Spec with KeyConcurrency -2: got %v, want ErrInvalidOption", err)
	}
	for _, k := range []int{1, tasks.MaxKeyConcurrency} {
		d, err := tasks.New[order]("shop.order", tasks.WithKeyConcurrency(k))
		if err != nil || d.Spec().KeyConcurrency != k {
			t.Errorf("WithKeyConcurrency(%d): got %v, KeyConcurrency %d", k, err, d.Spec().KeyConcurrency)
		}
	}
	if k := tasks.Define[order]("shop.order").Spec().KeyConcurrency; k != 0 {
		t.Errorf("default KeyConcurrency %d, want 0 (no limit)", k)
	}
}
