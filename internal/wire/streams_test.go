package wire

import (
	"testing"
	"time"

	"github.com/jetq/jetq/topology"
)

// TestShortestDeadLetterMaxAgeIsTheDedupWindow checks that the shortest
// DeadLetterMaxAge a topology accepts is the dead-letter stream's
// deduplication window, the shortest max age the server takes.
func TestShortestDeadLetterMaxAgeIsTheDedupWindow(t *testing.T) {
	t.Parallel()
	if err := (topology.Topology{DeadLetterMaxAge: DLQDedupWindow}).Validate(); err != nil {
		t.Errorf("DeadLetterMaxAge %v: %v, want it accepted", DLQDedupWindow, err)
	}
	if err := (topology.Topology{DeadLetterMaxAge: DLQDedupWindow - time.Second}).Validate(); err == nil {
		t.Errorf("DeadLetterMaxAge %v accepted, want it refused", DLQDedupWindow-time.Second)
	}
}
