package consumer

import (
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/jetq/jetq/tasks"
)

// wantMoves is the lifecycle table as the package doc of lifecycle.go
// describes it, written out apart from the code's table so that each
// checks the other.
var wantMoves = map[[2]jobState]bool{
	{stateHeld, stateRunning}:        true, // a runner takes it onto its slot
	{stateHeld, stateSettling}:       true, // handed back, a fired copy, a busy key, no metadata
	{stateRunning, stateCancelling}:  true, // the cancel watch
	{stateRunning, stateSettling}:    true, // the runner, the heartbeat, a forced stop
	{stateCancelling, stateSettling}: true,
	{stateSettling, stateRecording}:  true, // keepFinal
	{stateSettling, stateFollowing}:  true, // followed
	{stateSettling, stateFiling}:     true, // a dead letter
	{stateSettling, stateConfirming}: true, // an acknowledgement to confirm
	{stateSettling, stateReleased}:   true, // applied
	{stateRecording, stateSettling}:  true,
	{stateRecording, stateFiling}:    true,
	{stateFollowing, stateSettling}:  true,
	{stateFollowing, stateFiling}:    true,
	{stateFiling, stateRecording}:    true,
	{stateFiling, stateFollowing}:    true,
	{stateFiling, stateSettling}:     true,
	{stateConfirming, stateSettling}: true,
}

// lifecycleJob is a job of no worker in state s, settled as o by a
// goroutine other than its runner if s is settled.
func lifecycleJob(s jobState, o *tasks.Outcome) *job {
	j := newJob(&route{log: slog.New(slog.DiscardHandler)}, nil)
	w := &plainWords[s]
	if s.settled() {
		w = &stateWord{s, o}
	}
	j.word.Store(w)
	return j
}

// Every move the table allows is made from every state, and every move it
// does not allow is refused, counted as a fault, and leaves the state as
// it was. Not parallel: it turns off the panic on a fault that every other
// test of the package runs with, and no parallel test runs while a test
// that is not parallel does.
func TestLifecycleTable(t *testing.T) {
	panicOnFault.Store(false)
	defer panicOnFault.Store(true)
	o := &tasks.Outcome{Action: tasks.ActionRetry}
	for from := range numStates {
		for to := range numStates {
			want := wantMoves[[2]jobState{from, to}]
			if got := allowed(from, to); got != want {
				t.Errorf("allowed(%v, %v) = %v, want %v", from, to, got, want)
			}
			j := lifecycleJob(from, o)
			cur := j.word.Load()
			next := &stateWord{to, o}
			if !to.settled() {
				next = &plainWords[to]
			}
			faults := lifecycleFaults.Load()
			moved := j.swap(cur, next)
			if moved != want {
				t.Errorf("%v → %v: moved %v, want %v", from, to, moved, want)
			}
			if got := j.state(); want && got != to || !want && got != from {
				t.Errorf("%v → %v: state after is %v", from, to, got)
			}
			if got := lifecycleFaults.Load() - faults; !want && got != 1 || want && got != 0 {
				t.Errorf("%v → %v: %d faults counted", from, to, got)
			}
		}
	}
	// The moves callers make go through the same table.
	j := lifecycleJob(stateHeld, nil)
	if j.move(stateHeld, stateSettling) || j.state() != stateHeld {
		t.Errorf("move to settling without an outcome: moved to %v", j.state())
	}
	if _, ok := j.step(stateFiling); ok || j.state() != stateHeld {
		t.Errorf("step of a job not settled: moved to %v", j.state())
	}
	if !j.move(stateHeld, stateRunning) || j.move(stateHeld, stateRunning) {
		t.Error("held → running: want one move, then none")
	}
	if !j.claim(tasks.Outcome{Action: tasks.ActionAck}) || j.claim(tasks.Outcome{Action: tasks.ActionRetry}) {
		t.Error("claim: want one claim, then none")
	}
	if j.env.Outcome.Action != tasks.ActionAck {
		t.Errorf("env.Outcome after the claims: got %v, want ack", j.env.Outcome.Action)
	}
	if from, ok := j.step(stateReleased); !ok || from != stateSettling {
		t.Errorf("release: got from %v, moved %v", from, ok)
	}
	if _, ok := j.step(stateSettling); ok || j.state() != stateReleased {
		t.Errorf("a move out of released: state %v", j.state())
	}
}

// Goroutines that race to settle one running job — its runner, two
// abandons (the heartbeat and a forced stop) and the cancel watch — settle
// it exactly once, and the runner's envelope ends with the settlement
// that won. Run with -race.
func TestLifecycleOneSettlementWhateverRaces(t *testing.T) {
	t.Parallel()
	faults := lifecycleFaults.Load()
	wins := map[string]int{}
	for range 2000 {
		j := lifecycleJob(stateHeld, nil)
		j.move(stateHeld, stateRunning)
		start := make(chan struct{})
		won := make([]bool, 3)
		var wg sync.WaitGroup
		runner := tasks.Outcome{Action: tasks.ActionAck}
		abandons := []*tasks.Outcome{
			{Action: tasks.ActionRetry, Err: errors.New("timed out")},
			{Action: tasks.ActionRelease, Err: errors.New("stopped")},
		}
		wg.Add(4)
		go func() {
			defer wg.Done()
			<-start
			won[0] = j.claim(runner)
		}()
		for i, o := range abandons {
			go func() {
				defer wg.Done()
				<-start
				won[1+i] = j.claimWith(o)
			}()
		}
		go func() {
			defer wg.Done()
			<-start
			j.move(stateRunning, stateCancelling)
		}()
		close(start)
		wg.Wait()
		n := 0
		var winner tasks.Outcome
		for i, ok := range won {
			if !ok {
				continue
			}
			n++
			winner = runner
			if i > 0 {
				winner = *abandons[i-1]
			}
			wins[winner.Action.String()]++
		}
		if n != 1 {
			t.Fatalf("%d goroutines settled the job, want 1", n)
		}
		if j.state() != stateSettling {
			t.Fatalf("state after the race: %v, want settling", j.state())
		}
		if j.env.Outcome.Action != winner.Action {
			t.Fatalf("the runner's envelope says %v, the winner settled %v", j.env.Outcome.Action, winner.Action)
		}
	}
	if got := lifecycleFaults.Load() - faults; got != 0 {
		t.Errorf("%d lifecycle faults during the race", got)
	}
	t.Logf("wins: %v", wins)
}
