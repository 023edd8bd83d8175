package main

import (
	"context"

	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// Video is the payload of video.transcode.
type Video struct {
	Name    string `json:"name"`
	Seconds int    `json:"seconds"` // length of the video
}

// config scales the demo: a transcode takes Seconds × secondCost.
type config struct {
	secondCost time.Duration // transcode time per second of video
	timeout    time.Duration // the task's deadline
	ackWait    time.Duration // how soon a silent worker's task is redelivered
	outDir     string
}

func main() {
	scale := flag.Float64("scale", 1, "stretch every duration by this factor (30: minutes, as in real life)")
	flag.Parse()
	out, err := os.MkdirTemp("", "jetq-transcode-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer os.RemoveAll(out)
	s := func(d time.Duration) time.Duration { return time.Duration(float64(d) * *scale) }
	cfg := config{secondCost: s(100 * time.Millisecond), timeout: s(8 * time.Second), ackWait: 2 * time.Second, outDir: out}
	if _, err := run(context.Background(), cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "video-transcode:", err)
		os.Exit(1)
	}
}

// run transcodes a short video that finishes and a long one that outlives its
// deadline, printing progress, and returns their final statuses.
func run(ctx context.Context, cfg config, stdout io.Writer) ([]status.Status, error) {
	quiet := slog.New(slog.DiscardHandler)
	srv, err := embedded.Start(ctx)
	if err != nil {
		return nil, err
	}
	defer srv.Shutdown()
	nc, err := srv.Connect()
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}

	transcode := tasks.Define[Video]("video.transcode", tasks.WithStateTracking(),
		tasks.WithTimeout(cfg.timeout), tasks.WithMaxAttempts(1), tasks.WithAckWait(cfg.ackWait))
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, transcode, func(ctx context.Context, t *tasks.Task[Video]) error {
		return transcodeVideo(ctx, cfg, t.Payload)
	})
	w, err := consumer.New(js, reg, consumer.WithLogger(quiet))
	if err != nil {
		return nil, err
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()

	p, err := producer.New(js, producer.WithLogger(quiet))
	if err != nil {
		return nil, err
	}
	tracker, err := inspect.New(js)
	if err != nil {
		return nil, err
	}
	videos := []Video{{Name: "intro.mp4", Seconds: 60}, {Name: "feature.mp4", Seconds: 200}}
	ids := make([]string, len(videos))
	for i, v := range videos {
		r, err := producer.Enqueue(ctx, p, transcode, v)
		if err != nil {
			return nil, err
		}
		ids[i] = r.ID
		fmt.Fprintf(stdout, "enqueued %s (%d s of video, about %v to transcode; deadline %v)\n",
			v.Name, v.Seconds, time.Duration(v.Seconds)*cfg.secondCost, cfg.timeout)
	}

	// Follow progress until both are final.
	final := make([]status.Status, len(ids))
	printed := map[string]string{}
	for tick := time.NewTicker(cfg.secondCost * 5); ; <-tick.C {
		left := 0
		for i, id := range ids {
			st, err := tracker.Status(ctx, id)
			if err != nil {
				return nil, err
			}
			line := string(st.State)
			if st.Progress != nil && !st.State.Final() {
				line = fmt.Sprintf("%s %3.0f%% %s", st.State, st.Progress.Percent, st.Progress.Note)
			}
			if st.State.Final() {
				final[i] = st
			} else {
				left++
			}
			if printed[id] != line {
				printed[id] = line
				fmt.Fprintf(stdout, "  %-12s %s\n", videos[i].Name, line)
			}
		}
		if left == 0 {
			tick.Stop()
			break
		}
	}
	stop()
	if err := <-done; err != nil {
		return nil, err
	}
	for i, st := range final {
		fmt.Fprintf(stdout, "%s: %s after %d attempt(s)", videos[i].Name, st.State, st.Attempt)
		if st.Reason != "" {
			fmt.Fprintf(stdout, ", reason %s: %s", st.Reason, st.Error)
		}
		fmt.Fprintln(stdout)
	}
	return final, nil
}

// transcodeVideo "encodes" v into a file in cfg.outDir, one chunk per second
// of video, reporting progress every tenth. When ctx ends — the deadline
// passed or the worker is stopping — it removes its partial output and
// returns ctx's error, so nothing half-done is left behind.
func transcodeVideo(ctx context.Context, cfg config, v Video) (err error) {
	out := filepath.Join(cfg.outDir, v.Name+".webm")
	f, err := os.Create(out + ".partial")
	if err != nil {
		return err
	}
	defer func() {
		f.Close()
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	for s := 1; s <= v.Seconds; s++ {
		select {
		case <-ctx.Done():
			return fmt.Errorf("transcode of %s stopped at %d of %d s: %w", v.Name, s-1, v.Seconds, ctx.Err())
		case <-time.After(cfg.secondCost):
		}
		if _, err := fmt.Fprintf(f, "chunk %d\n", s); err != nil {
			return err
		}
		if s%(max(v.Seconds/10, 1)) == 0 {
			_ = tasks.ReportProgress(ctx, float64(s)*100/float64(v.Seconds), fmt.Sprintf("encoded %d of %d s", s, v.Seconds))
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), out)
}
