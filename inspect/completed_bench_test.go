package inspect_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/statusstore"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/topology"
)

// BenchmarkCompletedHistory measures what keeping the completed-task
// history costs a task of a type with retention: one status write at its
// settlement (the op timed here, a KV put to an embedded server with file
// storage, awaited as the worker awaits it), and the bytes that record
// stores, with no result and with a 100-byte result; then the read of the
// first page of 50 completed tasks of one type among the records written.
func BenchmarkCompletedHistory(b *testing.B) {
	for _, size := range []int{0, 100} {
		b.Run(fmt.Sprintf("result=%dB", size), func(b *testing.B) {
			ctx := context.Background()
			js := embeddedtest.JetStream(b)
			store, err := statusstore.New(js, topology.Topology{})
			if err != nil {
				b.Fatal(err)
			}
			in, err := inspect.New(js)
			if err != nil {
				b.Fatal(err)
			}
			var result []byte
			if size > 0 {
				result, _ = json.Marshal(strings.Repeat("r", size-2))
			}
			at := time.Now().UTC()
			rec := func(i int) status.Status {
				return finalRecord(fmt.Sprintf("report-%08d", i), fmt.Sprintf("bench.type%d", i%4), status.Done, 1, at, 40*time.Millisecond, result, "")
			}
			recBytes, _ := json.Marshal(rec(0))
			n := 0
			b.ResetTimer()
			for b.Loop() {
				if err := store.Final(ctx, rec(n), 24*time.Hour); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.StopTimer()
			s, err := js.Stream(ctx, "KV_"+wire.NamesOf(topology.Topology{}).StatusBucket())
			if err != nil {
				b.Fatal(err)
			}
			info, err := s.Info(ctx)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			p, err := in.Tasks(ctx, inspect.Query{State: inspect.Completed, Task: "bench.type0"})
			if err != nil || len(p.Tasks) != min(50, (n+3)/4) {
				b.Fatalf("completed page: %d tasks, %v", len(p.Tasks), err)
			}
			read := time.Since(start)
			b.ReportMetric(float64(len(recBytes)), "B/record-json")
			b.ReportMetric(float64(info.State.Bytes)/float64(info.State.Msgs), "B/record-stored")
			b.ReportMetric(float64(read.Microseconds()), "us/first-page")
			b.ReportMetric(float64(n), "records")
		})
	}
}
