package inspect_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/topology"
)

// BenchmarkHistory reads an hour of history written by 10 workers serving
// 20 task types each, every type busy every minute: 60 states and 600
// worker samples, the most an hour of such a deployment writes. It reports
// the size of one worker's sample and one state, what an hour stores, and
// the time of one read.
func BenchmarkHistory(b *testing.B) {
	const workers, types = 10, 20
	js, in := newInspector(b)
	ctx := context.Background()
	names := wire.NamesOf(topology.Topology{})
	if _, err := provision.History(ctx, js, topology.Topology{}, jetstream.StreamConfig{Storage: jetstream.MemoryStorage}, slog.New(slog.DiscardHandler)); err != nil {
		b.Fatal(err)
	}
	end := time.Now().Truncate(time.Minute)
	var sampleBytes, stateBytes int
	for m := range 60 {
		at := end.Add(time.Duration(m-59) * time.Minute).UTC()
		st := wire.HistoryState{At: at, Step: time.Minute, Stored: uint64(m) * 60000, Filed: uint64(m)}
		for t := range types {
			st.Tasks = append(st.Tasks, wire.HistoryGauges{Queue: "default", Task: fmt.Sprintf("type%02d.run", t),
				Pending: 1200, OldestPending: at.Add(-3 * time.Second), DeadLettered: 7})
		}
		stateBytes = publish(b, js, names.HistoryStateSubject(), st)
		for w := range workers {
			s := wire.HistorySample{Worker: fmt.Sprintf("worker%02dABCDEFGHIJKLMN", w), At: at, Step: time.Minute}
			for t := range types {
				s.Tasks = append(s.Tasks, wire.HistoryTask{Queue: "default", Task: fmt.Sprintf("type%02d.run", t),
					Started: 300, Succeeded: 295, Failed: 5, Wait: map[int]uint64{20: 40, 21: 120, 22: 100, 23: 30, 26: 8, 30: 2}})
			}
			sampleBytes = publish(b, js, names.HistoryWorkerSubject(s.Worker), s)
		}
	}
	s, err := js.Stream(ctx, names.HistoryStream())
	if err != nil {
		b.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		h, err := in.History(ctx, inspect.HistoryQuery{})
		if err != nil || len(h.Points) != 60 || len(h.Types) != types {
			b.Fatalf("History: %d points, %d types, %v", len(h.Points), len(h.Types), err)
		}
	}
	b.ReportMetric(float64(sampleBytes), "B/worker-sample")
	b.ReportMetric(float64(stateBytes), "B/state")
	b.ReportMetric(float64(info.State.Bytes), "B/hour-stored")
	b.ReportMetric(float64(info.State.Msgs), "msgs/hour-stored")
}

func publish(b *testing.B, js jetstream.JetStream, subject string, v any) int {
	b.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), subject, data); err != nil {
		b.Fatal(err)
	}
	return len(data)
}
