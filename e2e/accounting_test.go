package e2e

import (
	"bufio"
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// accounting is the end-of-scenario ledger: what was enqueued, what workers
// handled (with when), and what the dead-letter stream holds.
type accounting struct {
	enqueued map[string]bool
	handled  map[string]int
	at       []time.Time // completion times, sorted
	dead     map[string]bool
}

func newAccounting() *accounting {
	return &accounting{enqueued: map[string]bool{}, handled: map[string]int{}, dead: map[string]bool{}}
}

// readEnqueued adds the IDs a producer wrote, one per line.
func (a *accounting) readEnqueued(t *testing.T, path string) {
	t.Helper()
	for _, line := range readLines(t, path) {
		a.enqueued[line] = true
	}
}

// readHandled adds "<id> <unix nanos>" lines a worker wrote.
func (a *accounting) readHandled(t *testing.T, path string) {
	t.Helper()
	for _, line := range readLines(t, path) {
		id, ns, ok := strings.Cut(line, " ")
		n, err := strconv.ParseInt(ns, 10, 64)
		if !ok || err != nil {
			continue // a line cut short by SIGKILL
		}
		a.handled[id]++
		a.at = append(a.at, time.Unix(0, n))
	}
	slices.SortFunc(a.at, func(x, y time.Time) int { return x.Compare(y) })
}

// record counts one handled task (for in-process scenarios); call
// slicesSort before reading the times.
func (a *accounting) record(id string, at time.Time) {
	a.handled[id]++
	a.at = append(a.at, at)
}

// slicesSort orders the completion times recorded out of order.
func slicesSort(a *accounting) {
	slices.SortFunc(a.at, func(x, y time.Time) int { return x.Compare(y) })
}

// readDLQ adds the task IDs of every dead-letter record.
func (a *accounting) readDLQ(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	eachMsg(t, js, "JETQ_DLQ", func(m *jetstream.RawStreamMsg) { a.dead[m.Header.Get("Jetq-Id")] = true })
}

// eachMsg calls fn with each message stream holds now, read one by one by
// sequence (a work queue takes no ordered consumer). A stream that does not
// exist holds none.
func eachMsg(t *testing.T, js jetstream.JetStream, stream string, fn func(*jetstream.RawStreamMsg)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(m)
	}
}

// missing lists enqueued IDs neither handled nor dead-lettered.
func (a *accounting) missing() []string {
	var out []string
	for id := range a.enqueued {
		if a.handled[id] == 0 && !a.dead[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// duplicates counts extra handlings: a task handled three times counts two.
func (a *accounting) duplicates() int {
	n := 0
	for _, c := range a.handled {
		n += max(c-1, 0)
	}
	return n
}

// longestGap is the longest time without a completed task in [from, to].
func (a *accounting) longestGap(from, to time.Time) time.Duration {
	var gap time.Duration
	prev := from
	for _, at := range a.at {
		if at.Before(from) {
			continue
		}
		if at.After(to) {
			break
		}
		gap = max(gap, at.Sub(prev))
		prev = at
	}
	return max(gap, to.Sub(prev))
}

// firstAfter is how long after f the first task completed.
func (a *accounting) firstAfter(f time.Time) time.Duration {
	i, _ := slices.BinarySearchFunc(a.at, f, func(x, y time.Time) int { return x.Compare(y) })
	if i == len(a.at) {
		return -1
	}
	return a.at[i].Sub(f)
}

// report logs the ledger and fails the test for any missing task.
func (a *accounting) report(t *testing.T) {
	t.Helper()
	miss := a.missing()
	t.Logf("accounting: %d enqueued, %d handled (%d distinct), %d dead-lettered, %d duplicates, %d missing",
		len(a.enqueued), len(a.at), len(a.handled), len(a.dead), a.duplicates(), len(miss))
	if len(miss) > 0 {
		t.Errorf("%d tasks missing, first: %v", len(miss), miss[:min(len(miss), 10)])
	}
	for id := range a.handled {
		if !a.enqueued[id] {
			t.Errorf("handled task %s was never reported enqueued", id)
			break
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, line)
		}
	}
	return out
}
