package flow_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/topology"
)

// BenchmarkChordFanIn times the bookkeeping of a chord whose members all
// settle at once, each on its own goroutine as on as many workers: every
// settlement updates the workflow's one record with compare-and-set, and
// the one that completes the set enqueues the callback. It reports the
// writes that lost the compare-and-set per chord, and the alternative
// design's cost on the same server: each member creates a key of its own
// (a create cannot conflict) and then lists the chord's keys to learn
// whether it completed the set.
func BenchmarkChordFanIn(b *testing.B) {
	for _, members := range []int{10, 50} {
		b.Run(fmt.Sprintf("record-cas/members=%d", members), func(b *testing.B) {
			f := setup(b)
			ctx := context.Background()
			before := f.r.Conflicts()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				id := fmt.Sprintf("bench-%d", i)
				steps := [][]string{}
				cb := []string{"cb"}
				for m := range members {
					steps = append(steps, []string{fmt.Sprintf("m%d", m)})
					cb = append(cb, fmt.Sprintf("m%d", m))
				}
				f.create(b, id, "", append(steps, cb)...)
				b.StartTimer()
				var wg sync.WaitGroup
				for m := range members {
					wg.Go(func() {
						if err := f.r.After(ctx, settlement(id, fmt.Sprintf("m%d", m), status.Done, `1`)); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(f.r.Conflicts()-before)/float64(b.N), "conflicts/chord")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(members), "µs/member")
		})
		b.Run(fmt.Sprintf("create-and-list/members=%d", members), func(b *testing.B) {
			f := setup(b)
			ctx := context.Background()
			kv, err := f.js.CreateKeyValue(ctx, wire.WorkflowsBucketConfig(topology.Topology{}))
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; b.Loop(); i++ {
				var wg sync.WaitGroup
				for m := range members {
					wg.Go(func() {
						prefix := fmt.Sprintf("bench-%d.a", i)
						if _, err := kv.Create(ctx, fmt.Sprintf("%s.m%d", prefix, m), []byte(`1`)); err != nil {
							b.Error(err)
							return
						}
						keys, err := kv.ListKeysFiltered(ctx, prefix+".*")
						if err != nil {
							b.Error(err)
							return
						}
						n := 0
						for range keys.Keys() {
							n++
						}
						_ = n == members // the member that sees them all enqueues the callback
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(members), "µs/member")
		})
	}
}
