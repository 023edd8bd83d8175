package wire

import (
	"math"
	"time"

	"github.com/jetq/jetq/topology"
	"github.com/nats-io/nats.go/jetstream"
)

// History: what a deployment did, kept for an hour.
//
// Every worker writes, once a step (a minute by default), what it did in
// the step to its own subject jetq.history.worker.<id>: per task type the
// tasks it started for the first time, settled, and a histogram of how long
// those started had waited. A worker that did nothing in a step writes
// nothing. One of the workers also writes the deployment's state at the
// step's end to jetq.history.state, with a Nats-Msg-Id of the step, so a
// race between workers stores one: the work and dead-letter streams' last
// sequences (tasks ever stored and records ever filed), and per task type
// the tasks pending, the oldest pending task's time and the records filed.
// Nothing is written per task.

// HistoryStream is the stream of history samples, "JETQ_HISTORY".
func (n Names) HistoryStream() string { return n.stream("HISTORY") }

// HistorySubjects is the history stream's subject filter, "jetq.history.>".
func (n Names) HistorySubjects() string { return n.Prefix() + ".history.>" }

// HistoryStateSubject is the subject of the deployment's state samples,
// "jetq.history.state".
func (n Names) HistoryStateSubject() string { return n.Prefix() + ".history.state" }

// HistoryWorkerSubject is the subject of worker id's samples,
// "jetq.history.worker.<id>".
func (n Names) HistoryWorkerSubject(id string) string {
	return n.Prefix() + ".history.worker." + id
}

// HistoryWorkerSubjects is the filter of every worker's samples,
// "jetq.history.worker.*".
func (n Names) HistoryWorkerSubjects() string { return n.Prefix() + ".history.worker.*" }

// Limits of the history stream.
const (
	// HistoryWindow is how far back history is read.
	HistoryWindow = time.Hour
	// HistoryMaxAge is how long a sample is kept: the window, one more
	// step of the longest to compute the first step's growth, and slack.
	HistoryMaxAge = HistoryWindow + 10*time.Minute
	// HistoryPerSubject bounds the samples kept per subject: 70 a minute
	// for an hour and ten minutes, more for shorter steps.
	HistoryPerSubject = 256
	// HistoryMaxBytes bounds the stream, oldest samples dropped first.
	HistoryMaxBytes = 64 << 20
	// MinHistoryStep and MaxHistoryStep bound a worker's step.
	MinHistoryStep = time.Second
	MaxHistoryStep = time.Minute
)

// HistoryStream is the configuration of the history stream: Limits
// retention, samples dropped after [HistoryMaxAge], at most
// [HistoryPerSubject] a subject and [HistoryMaxBytes] in all, oldest
// first; direct gets, so a reader reads an hour in a few requests.
func HistoryStreamConfig(t topology.Topology) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              NamesOf(t).HistoryStream(),
		Description:       "jetq history: what workers did each minute and the deployment's state, for an hour",
		Subjects:          []string{NamesOf(t).HistorySubjects()},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgs:           -1,
		MaxBytes:          HistoryMaxBytes,
		MaxAge:            HistoryMaxAge,
		MaxMsgsPerSubject: HistoryPerSubject,
		Storage:           storage(t),
		Replicas:          replicas(t),
		Duplicates:        DefaultDedupWindow,
		AllowDirect:       true,
	}
}

// HistorySample is what one worker did in one step.
type HistorySample struct {
	Worker string `json:"worker"`
	// At is the step's end.
	At   time.Time     `json:"at"`
	Step time.Duration `json:"step"`
	// Tasks are the task types the worker did something with in the step.
	Tasks []HistoryTask `json:"tasks,omitempty"`
}

// HistoryTask is what a worker did with one task type in one step.
type HistoryTask struct {
	Queue string `json:"queue"`
	Task  string `json:"task"`
	// Started counts the first deliveries the worker began to run; Wait
	// is how long each had waited in the work stream, by [WaitBucket].
	Started uint64 `json:"started,omitempty"`
	// Succeeded, Failed, DeadLettered and Expired count the settlements,
	// as in [PresenceTask].
	Succeeded    uint64         `json:"succeeded,omitempty"`
	Failed       uint64         `json:"failed,omitempty"`
	DeadLettered uint64         `json:"dead_lettered,omitempty"`
	Expired      uint64         `json:"expired,omitempty"`
	Wait         map[int]uint64 `json:"wait,omitempty"`
}

// HistoryState is the deployment's state at a step's end.
type HistoryState struct {
	At   time.Time     `json:"at"`
	Step time.Duration `json:"step"`
	// Stored is the work stream's last sequence: the tasks it ever stored.
	Stored uint64 `json:"stored"`
	// Filed is the dead-letter stream's last sequence: the records ever
	// filed.
	Filed uint64          `json:"filed"`
	Tasks []HistoryGauges `json:"tasks,omitempty"`
}

// HistoryGauges is the state of one task type at a step's end.
type HistoryGauges struct {
	Queue string `json:"queue"`
	Task  string `json:"task"`
	// Pending counts the tasks not yet delivered.
	Pending uint64 `json:"pending,omitempty"`
	// OldestPending is when the oldest of them was stored.
	OldestPending time.Time `json:"oldest_pending,omitzero"`
	// DeadLettered counts the type's records in the dead-letter stream.
	DeadLettered uint64 `json:"dead_lettered,omitempty"`
}

// HistoryStateID is the Nats-Msg-Id of the state sample of the step that
// ends at at: every worker that writes it sends the same.
func HistoryStateID(at time.Time) string {
	return "history:" + at.UTC().Format(time.RFC3339Nano)
}

// Wait-time histogram: bucket 0 holds waits under [WaitBase]; bucket i > 0
// waits in [WaitBase·√2^(i-1), WaitBase·√2^i); the last bucket everything
// from its lower bound up. Neighbouring bounds differ by √2, so a
// percentile read as its bucket's geometric middle is within 19% of the
// true value (2^(1/4) − 1).
const (
	WaitBase    = 100 * time.Microsecond
	WaitBuckets = 64 // the last starts at about 60 hours
)

// WaitBucket is the histogram bucket of a wait of d.
func WaitBucket(d time.Duration) int {
	if d < WaitBase {
		return 0
	}
	i := int(2*math.Log2(float64(d)/float64(WaitBase))) + 1
	return min(i, WaitBuckets-1)
}

// WaitValue is the wait a percentile falling in bucket i is read as: the
// bucket's geometric middle, or half of WaitBase for bucket 0.
func WaitValue(i int) time.Duration {
	if i <= 0 {
		return WaitBase / 2
	}
	return time.Duration(float64(WaitBase) * math.Pow(2, (float64(i)-0.5)/2))
}
