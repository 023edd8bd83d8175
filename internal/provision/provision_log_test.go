package provision

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/topology"
)

// lockedBuffer is a bytes.Buffer for a logger shared by goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestConcurrentProvisionLogsEachCreationOnce provisions the same streams
// from several goroutines at once, as a producer and a worker starting
// together do: each stream is logged as created once.
func TestConcurrentProvisionLogsEachCreationOnce(t *testing.T) {
	t.Parallel()
	js := embeddedtest.JetStream(t)
	ctx := context.Background()
	for _, prefix := range []string{"a", "b", "c", "d", "e"} {
		topo := topology.Topology{Prefix: prefix, Memory: true}
		var buf lockedBuffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 8 {
			wg.Go(func() {
				<-start
				if _, err := Streams(ctx, js, topo, log, 0); err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		for _, name := range []string{wire.WorkStreamConfig(topo).Name, wire.DLQStreamConfig(topo).Name, wire.EventsStreamConfig(topo).Name} {
			if n := strings.Count(buf.b.String(), `msg="jetq: created stream" stream=`+name+"\n"); n != 1 {
				t.Errorf("prefix %s: %q logged as created %d times, want once; log:\n%s", prefix, name, n, buf.b.String())
			}
		}
	}
}
