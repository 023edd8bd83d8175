package consumer

// The lifecycle of a delivery in the worker's hands.
//
// Each job has one state word, j.word, which only swap changes, and only
// along the moves of the table below (moves). A move the table does not
// allow is a bug in the worker: swap refuses it, leaves the state as it
// is, counts it in lifecycleFaults and logs it at Error (in the package's
// tests it panics). Goroutines that race for a job (the runner, the
// heartbeat, a forced stop, the cancel watch) race through that one word:
// a compare-and-swap, so exactly one of them wins a move.
//
//	state       who moves a job into it, and why              next
//	held        hold: a delivery arrives; queued for a        running, settling
//	            runner, held for its key's rate, or the
//	            runner's checks before it takes a slot
//	running     the runner, as it takes the job onto its      cancelling, settling
//	            slot (running[slot]): middleware, the checks
//	            before the handler, the handler
//	cancelling  the cancel watch, before it cancels the       settling
//	            handler's ctx: a failed attempt is cancelled
//	settling    whoever claims the settlement (claim): the    recording, following,
//	            runner (its handler returned, or a check      filing, confirming,
//	            settled the task unrun), the heartbeat        released
//	            (abandon: past its deadline), a forced stop
//	            (abandon, handBack), the holder of a job not
//	            yet running (handBack, a fired copy dropped,
//	            a busy key's snooze, no metadata). The word
//	            carries the outcome of a settler other than
//	            the runner; the runner's is in env.Outcome.
//	recording   the settler, while it writes the final        settling, filing
//	            record of a type with a retention (keepFinal)
//	following   the settler, while a settlement for good      settling, filing
//	            runs its follow-ups (followed), and their
//	            tries in the background
//	filing      the settler, while a dead letter's record is  recording, following,
//	            filed, at the first try or in the background, settling
//	            and then its follow-ups and final record run
//	confirming  the settler, as an acknowledgement waits in   settling
//	            the background for its confirmation
//	            (replicated consumers)
//	released    whoever tells the server last (applied), or   —
//	            hands it back unrun: out of the worker's
//	            hands, its key place given back
//
// A job leaves a slow step (recording, following, filing, confirming) for
// the state it came from, and goes back to settling before the last word
// to the server, so released is reached from settling only, once. The
// heartbeat tells the server that jobs held, running, cancelling or in a
// slow step are alive, and abandons running ones past their deadline;
// settling is the quick tell of the server and is not heartbeated. The
// presence entry lists as held every state but settling, recording and
// released, and as running the running and cancelling jobs.
//
// What each outcome passes through:
//
//	ack          running → settling [→ recording → settling] [→ following
//	             → settling] [→ confirming → settling] → released
//	retry        running → settling → released (NakWithDelay)
//	dead letter  running → settling → filing [→ following → filing]
//	             [→ recording → filing] → settling → released (Term)
//	release      held or running → settling → released (Nak: handed back
//	             at a forced stop, or a handler abandoned by one)
//	snooze       held or running → settling [→ confirming → settling]
//	             → released (the copy stored, the original acknowledged;
//	             a busy key's set-aside is a snooze of a held job)
//	expire       running → settling [→ recording → settling]
//	             [→ following → settling] → released
//	cancel       running [→ cancelling] → settling, then as expire
//	abandon      running or cancelling → settling by the heartbeat or a
//	             forced stop, then as its outcome; the runner's own claim
//	             then fails and it takes that outcome into env.Outcome
//	forced stop  held → settling → released (handBack), or as abandon;
//	             a step in the background that a stop ends (filing,
//	             following) → settling → released (Nak: handed back)
//	redo         a result whose final record cannot be written:
//	             recording → settling → released (NakWithDelay)
//
// The slot is not part of a job's state: the runner frees running[slot]
// with a compare-and-swap when its handler returns, and abandon with the
// same swap before it starts a new runner for the slot, so exactly one
// goroutine goes on with the slot.

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/tasks"
)

// jobState is where a job is in its lifecycle (see the table above).
type jobState uint8

const (
	stateHeld jobState = iota
	stateRunning
	stateCancelling
	stateSettling
	stateRecording
	stateFollowing
	stateFiling
	stateConfirming
	stateReleased
	numStates
)

var stateNames = [numStates]string{"held", "running", "cancelling", "settling", "recording", "following", "filing", "confirming", "released"}

func (s jobState) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("jobState(%d)", uint8(s))
}

// moves is the transition table: moves[from] has bit to set when a job
// may move from state from to state to.
var moves = [numStates]uint16{
	stateHeld:       bits(stateRunning, stateSettling),
	stateRunning:    bits(stateCancelling, stateSettling),
	stateCancelling: bits(stateSettling),
	stateSettling:   bits(stateRecording, stateFollowing, stateFiling, stateConfirming, stateReleased),
	stateRecording:  bits(stateSettling, stateFiling),
	stateFollowing:  bits(stateSettling, stateFiling),
	stateFiling:     bits(stateRecording, stateFollowing, stateSettling),
	stateConfirming: bits(stateSettling),
}

func bits(states ...jobState) uint16 {
	var b uint16
	for _, s := range states {
		b |= 1 << s
	}
	return b
}

// allowed reports whether the table allows the move from to to.
func allowed(from, to jobState) bool { return from < numStates && moves[from]&(1<<to) != 0 }

// settled reports whether a job in s has its settlement claimed.
func (s jobState) settled() bool { return s >= stateSettling }

// running reports whether a job in s is on a runner's slot, unsettled:
// the heartbeat abandons it past its deadline.
func (s jobState) running() bool { return s == stateRunning || s == stateCancelling }

// heartbeated reports whether the heartbeat keeps a job in s alive.
func (s jobState) heartbeated() bool { return s != stateSettling && s != stateReleased }

// listed reports whether the presence entry lists a job in s as held.
func (s jobState) listed() bool {
	return s != stateSettling && s != stateRecording && s != stateReleased
}

// stateWord is the value of a job's state word: its state and, once
// settled by another goroutine than its runner, its settlement. A
// stateWord is never changed once published.
type stateWord struct {
	state jobState
	// outcome is the settlement, claimed by a goroutine other than the
	// runner; nil before settling, and for the runner's own settlement,
	// which is in env.Outcome.
	outcome *tasks.Outcome
}

// plainWords are the words without an outcome, one per state, shared by
// every job: the plain path moves through these and allocates nothing.
var plainWords = func() (ws [numStates]stateWord) {
	for s := range numStates {
		ws[s].state = s
	}
	return ws
}()

// lifecycleFaults counts the moves the table refused since the process
// started: each is a bug in the worker.
var lifecycleFaults atomic.Int64

// panicOnFault makes a refused move panic; the package's tests set it.
var panicOnFault atomic.Bool

// newJob is a delivery of route r just taken into the worker's hands.
func newJob(r *route, msg jetstream.Msg) *job {
	j := &job{msg: msg, route: r, slot: -1}
	j.env = &j.envelope
	j.word.Store(&plainWords[stateHeld])
	return j
}

// state is j's state now.
func (j *job) state() jobState { return j.word.Load().state }

// settled reports whether j's settlement is claimed.
func (j *job) settled() bool { return j.state().settled() }

// swap moves j from cur, the word it was seen in, to next, if the table
// allows the move and j is still in cur, and reports whether it moved j.
// It is the only function that changes a job's state.
func (j *job) swap(cur, next *stateWord) bool {
	if !allowed(cur.state, next.state) {
		j.fault(cur.state, next.state)
		return false
	}
	return j.word.CompareAndSwap(cur, next)
}

// fault reports a move the table does not allow, or a move of a settled
// job by a goroutine that does not own its settlement: a bug.
func (j *job) fault(from, to jobState) {
	lifecycleFaults.Add(1)
	msg := "jetq: refused a move of a task against the worker's lifecycle table; this is a bug"
	if panicOnFault.Load() {
		panic(fmt.Sprintf("%s: %v → %v", msg, from, to))
	}
	log := slog.Default()
	if j.route != nil && j.route.log != nil {
		log = j.route.log
	}
	log.LogAttrs(context.Background(), slog.LevelError, msg,
		slog.String("from", from.String()), slog.String("to", to.String()),
		slog.String(keyTask, j.routeName()), slog.String(keyID, j.env.ID))
}

func (j *job) routeName() string {
	if j.route == nil {
		return ""
	}
	return j.route.spec.Name
}

// move moves j from from to to, a state without a settlement (running,
// cancelling), and reports whether it did: false when j is not in from.
func (j *job) move(from, to jobState) bool {
	if to.settled() {
		j.fault(from, to) // a settlement comes with its outcome: claim
		return false
	}
	next := &plainWords[to]
	for {
		cur := j.word.Load()
		if cur.state != from {
			return false
		}
		if j.swap(cur, next) {
			return true
		}
	}
}

// claim makes o the settlement of j, on its runner, unless another
// goroutine settled it first, and reports whether it did. Either way
// env.Outcome then says what the settlement is: the runner's goroutine,
// the one the handler and middleware run on, is the only one that writes
// it.
func (j *job) claim(o tasks.Outcome) bool {
	for {
		cur := j.word.Load()
		if cur.state.settled() {
			if cur.outcome != nil { // else the runner's own, in env.Outcome already
				j.env.Outcome = *cur.outcome
			}
			return false
		}
		if j.swap(cur, &plainWords[stateSettling]) {
			j.env.Outcome = o
			return true
		}
	}
}

// claimWith makes o the settlement of j, for a goroutine other than its
// runner (abandon), or for the holder of a job no runner has, unless j
// is settled already, and reports whether it did. It never writes the
// envelope.
func (j *job) claimWith(o *tasks.Outcome) bool {
	next := &stateWord{stateSettling, o}
	for {
		cur := j.word.Load()
		if cur.state.settled() {
			return false
		}
		if j.swap(cur, next) {
			return true
		}
	}
}

// step moves j, settled, to to, and returns the state it left and
// whether it moved. Only the goroutine that owns the settlement moves a
// settled job, so a step that fails is a bug, reported as such.
func (j *job) step(to jobState) (from jobState, ok bool) {
	cur := j.word.Load()
	next := &plainWords[to]
	if cur.outcome != nil {
		next = &stateWord{to, cur.outcome}
	}
	if !cur.state.settled() {
		j.fault(cur.state, to)
		return cur.state, false
	}
	if j.swap(cur, next) {
		return cur.state, true
	}
	if allowed(cur.state, to) {
		j.fault(cur.state, to) // moved meanwhile by a goroutine that does not own it
	}
	return cur.state, false
}

// release lets go of j, settled and told to the server: out of the
// worker's hands and the intake's count, its key's place given back.
func (w *Worker) release(j *job) {
	if _, ok := j.step(stateReleased); !ok {
		return // refused, and reported
	}
	if j.route.spec.KeyConcurrency > 0 && w.releaseKey(j) {
		w.hand.remove(j)
		return // its count passes to the task its key's place went to (keylimit.go)
	}
	w.hand.remove(j)
	w.released()
}
