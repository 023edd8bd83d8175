package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/e2e/internal/e2etask"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/topology"
)

func main() {
	servers := flag.String("servers", nats.DefaultURL, "NATS URLs, comma separated")
	out := flag.String("out", "", "file to append stored task IDs to")
	count := flag.Int("count", 1000, "tasks to enqueue")
	rate := flag.Int("rate", 200, "tasks per second")
	batch := flag.Int("batch", 50, "tasks per EnqueueBatch")
	replicas := flag.Int("replicas", 3, "stream replicas")
	maxWork := flag.Int("max-work-ms", 40, "longest handler work")
	flag.Parse()
	if err := run(*servers, *out, *count, *rate, *batch, *replicas, *maxWork); err != nil {
		fmt.Fprintln(os.Stderr, "e2eproducer:", err)
		os.Exit(1)
	}
}

func run(servers, out string, count, rate, batch, replicas, maxWork int) error {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("producer", "e2e")
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	nc, err := nats.Connect(servers, e2etask.ConnectOptions("e2eproducer")...)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	p, err := producer.New(js, producer.WithLogger(log), producer.WithTopology(topology.Topology{Replicas: replicas}),
		producer.WithRetryTimeout(20*time.Second))
	if err != nil {
		return err
	}
	// The cluster may still be electing leaders: wait for the streams.
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := p.Provision(pctx)
		cancel()
		if err == nil {
			break
		}
		if attempt == 30 {
			return err
		}
		log.Warn("streams not ready; retrying", "error", err)
		time.Sleep(time.Second)
	}
	tick := time.NewTicker(time.Second * time.Duration(batch) / time.Duration(rate))
	defer tick.Stop()
	stored := 0
	for start := 0; start < count; start += batch {
		<-tick.C
		n := min(batch, count-start)
		ids := make([]string, n)
		payloads := make([]e2etask.Payload, n)
		for i := range n {
			ids[i] = fmt.Sprintf("t-%06d", start+i)
			payloads[i] = e2etask.Payload{WorkMillis: rand.IntN(maxWork + 1)}
		}
		// Retry what was not stored until it is: same IDs, so never twice.
		for attempt := 1; len(ids) > 0; attempt++ {
			rs, err := producer.EnqueueBatch(ctx, p, e2etask.Work, payloads, producer.WithIDs(ids...))
			if rs == nil { // nothing was published: all of them again
				rs = make([]producer.Result, len(ids))
				for i := range rs {
					rs[i].Err = err
				}
			}
			var retryIDs []string
			var retryPayloads []e2etask.Payload
			for i, r := range rs {
				if r.Err == nil {
					fmt.Fprintln(f, r.ID)
					stored++
					continue
				}
				retryIDs = append(retryIDs, ids[i])
				retryPayloads = append(retryPayloads, payloads[i])
			}
			if len(retryIDs) > 0 {
				log.Warn("tasks not stored yet; retrying", "count", len(retryIDs), "attempt", attempt, "error", err)
				if attempt > 30 {
					return fmt.Errorf("tasks still not stored after %d attempts: %w", attempt, err)
				}
				time.Sleep(time.Second)
			}
			ids, payloads = retryIDs, retryPayloads
		}
	}
	fmt.Printf("stored %d\n", stored)
	return nil
}
