package wire

import (
	"context"
	"strings"
	"testing"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// TestLongestSpecHasAServableDurable checks tasks' limit on queue and name
// together against the server: the durable consumer of the longest spec
// tasks accepts is created, and a name one byte longer, which tasks refuses,
// would not be.
func TestLongestSpecHasAServableDurable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, js := embeddedtest.Connect(t, embeddedtest.Server(t))
	topo := topology.Topology{Memory: true}
	if _, err := js.CreateStream(ctx, WorkStreamConfig(topo)); err != nil {
		t.Fatal(err)
	}
	queue := strings.Repeat("q", 64)
	longest := tasks.Define[struct{}](strings.Repeat("n.", 94)+"nn", tasks.WithQueue(queue)).Spec()
	if n := len(Names{}.Durable(longest.Queue, longest.Name)); n != 255 {
		t.Fatalf("durable of the longest spec: got %d bytes, want 255", n)
	}
	if _, err := js.CreateConsumer(ctx, "JETQ_TASKS", ConsumerConfig(topo, longest)); err != nil {
		t.Errorf("durable of the longest spec: %v", err)
	}

	tooLong := longest
	tooLong.Name += "n"
	if err := tooLong.Validate(); err == nil {
		t.Errorf("tasks accepts name %d bytes on queue %d bytes, want it refused", len(tooLong.Name), len(queue))
	}
	if _, err := js.CreateConsumer(ctx, "JETQ_TASKS", ConsumerConfig(topo, tooLong)); err == nil {
		t.Errorf("server created a durable of %d bytes, want it refused", len(Names{}.Durable(tooLong.Queue, tooLong.Name)))
	}
}
