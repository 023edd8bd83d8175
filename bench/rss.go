package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// measureRSS is workload (e): a server process, a producer process that
// queues rssN tasks, then a worker process that drains them; each client
// reports its peak resident set (VmHWM).
func measureRSS(ctx context.Context, o options) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	srv := exec.CommandContext(ctx, self, "-role", "server")
	srv.Stderr = os.Stderr
	stdin, err := srv.StdinPipe() // closing it stops the server
	if err != nil {
		return err
	}
	out, err := srv.StdoutPipe()
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { stdin.Close(); _ = srv.Wait() }()
	url, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return fmt.Errorf("server process: %w", err)
	}
	url = strings.TrimSpace(url)

	fmt.Printf("(e) %d tasks queued, then drained; server in a separate process, file storage\n", o.rssN)
	for _, role := range []string{"producer", "worker"} {
		start := time.Now()
		cmd := exec.CommandContext(ctx, self, "-role", role, "-url", url, "-rss-n", strconv.Itoa(o.rssN))
		cmd.Stderr = os.Stderr
		b, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("%s process: %w", role, err)
		}
		fmt.Printf("    %-8s peak RSS %6.1f MiB   %.0f tasks/s   (%s)\n", role, parseKB(string(b))/1024,
			float64(o.rssN)/time.Since(start).Seconds(), strings.TrimSpace(string(b)))
	}
	fmt.Println()
	return nil
}

func parseKB(s string) float64 {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[1], 64)
	return v
}

// peakRSS reads the process's VmHWM in kB.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.Fields(line)[1]
		}
	}
	return "unknown"
}

// runRole runs one process of workload (e).
func runRole(role, url string, n int) error {
	ctx := context.Background()
	switch role {
	case "server":
		dir, err := os.MkdirTemp("", "jetq-bench-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		srv, err := embedded.Start(ctx, embedded.WithListen("127.0.0.1:0"), embedded.WithStoreDir(dir))
		if err != nil {
			return err
		}
		defer srv.Shutdown()
		fmt.Println(srv.ClientURL())
		_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it
		return nil
	case "producer", "worker":
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if role == "producer" {
		p, err := producer.New(js, producer.WithLogger(quiet))
		if err != nil {
			return err
		}
		const chunk = 10_000
		batch := make([]Payload, chunk)
		for i := 0; i < n; i += chunk {
			for j := range batch {
				batch[j] = payload(i + j)
			}
			if _, err := producer.EnqueueBatch(ctx, p, noop, batch[:min(chunk, n-i)]); err != nil {
				return err
			}
		}
		fmt.Println("VmHWM_kB", peakRSS())
		return nil
	}
	var count atomic.Int64
	done := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, noop, func(ctx context.Context, t *tasks.Task[Payload]) error {
		if count.Add(1) == int64(n) {
			close(done)
		}
		return nil
	})
	w, err := consumer.New(js, reg, consumer.WithConcurrency(16), consumer.WithLogger(quiet))
	if err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(wctx) }()
	<-done
	cancel()
	if err := <-stopped; err != nil {
		return err
	}
	fmt.Println("VmHWM_kB", peakRSS())
	return nil
}
