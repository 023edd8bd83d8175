package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/provision"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
)

// WorkflowState is where a workflow stands.
type WorkflowState string

// Workflow states.
const (
	Running   WorkflowState = "running"
	Succeeded WorkflowState = "succeeded"
	Failed    WorkflowState = "failed"
	Cancelled WorkflowState = "cancelled"
)

// StepState is where a workflow step stands: the task's own status.State
// once it is enqueued, or one of the two below.
type StepState = status.State

// Step states a task status does not have.
const (
	// Waiting: a parent has not succeeded yet; the step is not enqueued.
	Waiting StepState = "waiting"
	// Unreachable: a parent failed for good; the step will not run unless
	// that parent is replayed from the dead-letter stream and succeeds.
	Unreachable StepState = "unreachable"
)

// ErrFinished is returned by [Runner.Cancel] for a workflow that has
// succeeded or was cancelled already.
var ErrFinished = errors.New("flow: workflow has finished")

// Workflow is a workflow's record with its steps' states.
type Workflow struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	State     WorkflowState `json:"state"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at,omitzero"`
	// OnFailure names the failure callback's task ("" for none).
	OnFailure string `json:"on_failure,omitempty"`
	// Steps are in an order where every step comes after its parents.
	Steps []Step `json:"steps"`
}

// Step is one step of a [Workflow].
type Step struct {
	Name  string `json:"name"`
	Task  string `json:"task"`
	Queue string `json:"queue"`
	// TaskID is the ID of the step's task.
	TaskID     string    `json:"task_id"`
	Deps       []string  `json:"deps,omitempty"`
	State      StepState `json:"state"`
	Attempts   int       `json:"attempts,omitempty"`
	ResultSize int       `json:"result_size,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// ContentType is the payload's content type ("" for JSON), and
	// ResultType the result's, as its codec names it.
	ContentType string `json:"content_type,omitempty"`
	ResultType  string `json:"result_type,omitempty"`
	// ResultRef says the result is in the results object store, too large
	// for a value of the bucket.
	ResultRef bool `json:"result_ref,omitempty"`
}

// Record is a workflow's record as stored: the [Workflow] and what the
// bookkeeping needs to enqueue its steps and its failure callback.
type Record struct {
	Workflow
	// Trace is the workflow span's trace context (traceparent,
	// tracestate), which every step's task carries.
	Trace map[string]string `json:"trace,omitempty"`
	// FailureQueue is the failure callback's queue; FailedBy names the step
	// whose failure enqueued it, once it is.
	FailureQueue string `json:"failure_queue,omitempty"`
	FailedBy     string `json:"failed_by,omitempty"`
}

func (r *Record) step(name string) *Step {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// store is the workflow bucket and the results object store, opened on
// first use.
type store struct {
	once   sync.Once
	bucket *provision.Bucket

	mu      sync.Mutex
	objects jetstream.ObjectStore
}

func (r *Runner) kv(ctx context.Context) (jetstream.KeyValue, error) {
	r.wf.once.Do(func() {
		r.wf.bucket = provision.NewBucket(r.js, wire.WorkflowsBucketConfig(r.topo)).ReadFromLeader()
	})
	kv, err := r.wf.bucket.Open(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("flow: workflow bucket %s: %w", r.wf.bucket.Name(), err)
	}
	return kv, nil
}

// objects opens the results object store, creating it when missing; a
// failure is not remembered.
func (r *Runner) objects(ctx context.Context) (jetstream.ObjectStore, error) {
	r.wf.mu.Lock()
	defer r.wf.mu.Unlock()
	if r.wf.objects != nil {
		return r.wf.objects, nil
	}
	cfg := wire.WorkflowResultsConfig(r.topo)
	obs, err := r.js.ObjectStore(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = r.js.CreateObjectStore(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			obs, err = r.js.ObjectStore(ctx, cfg.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("flow: workflow results %s: %w", cfg.Bucket, err)
	}
	r.wf.objects = obs
	return obs, nil
}

// read returns workflow id's record and its revision; a missing one is an
// error wrapping status.ErrNotFound.
func read(ctx context.Context, kv jetstream.KeyValue, id string) (Record, uint64, error) {
	e, err := kv.Get(ctx, wire.WorkflowKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Record{}, 0, fmt.Errorf("flow: workflow %q: %w", id, status.ErrNotFound)
	}
	if err != nil {
		return Record{}, 0, fmt.Errorf("flow: read workflow %q: %w", id, err)
	}
	var rec Record
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return Record{}, 0, fmt.Errorf("flow: workflow %q: record does not decode: %w", id, err)
	}
	return rec, e.Revision(), nil
}

// update applies fn to workflow id's record and writes it with
// compare-and-set, reading it again and applying fn again while another
// writer changed it meanwhile. fn reports whether it changed the record;
// nothing is written when it did not. update returns the record as
// written (or as read, unchanged).
func (r *Runner) update(ctx context.Context, kv jetstream.KeyValue, id string, fn func(*Record) (bool, error)) (Record, error) {
	for {
		rec, rev, err := read(ctx, kv, id)
		if err != nil {
			return Record{}, err
		}
		changed, err := fn(&rec)
		if err != nil || !changed {
			return rec, err
		}
		rec.UpdatedAt = time.Now().UTC()
		data, err := json.Marshal(&rec)
		if err != nil {
			return Record{}, fmt.Errorf("flow: workflow %q: %w", id, err)
		}
		_, err = kv.Update(ctx, wire.WorkflowKey(id), data, rev)
		if err == nil {
			return rec, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return Record{}, fmt.Errorf("flow: write workflow %q: %w", id, err)
		}
		r.conflicts.Add(1)
		if err := ctx.Err(); err != nil {
			return Record{}, err
		}
	}
}

// Create stores rec, a new workflow's record, and the encoded payloads of
// its steps, by step name. It reports false when a workflow with rec's ID
// exists already: that record is left as it is, and the payloads it lacks
// are stored, so that calling Create again after a failure finishes the
// first call's work. It returns the record as stored.
func (r *Runner) Create(ctx context.Context, rec Record, payloads map[string][]byte) (Record, bool, error) {
	kv, err := r.kv(ctx)
	if err != nil {
		return Record{}, false, err
	}
	data, err := json.Marshal(&rec)
	if err != nil {
		return Record{}, false, fmt.Errorf("flow: workflow %q: %w", rec.ID, err)
	}
	created := true
	if _, err := kv.Create(ctx, wire.WorkflowKey(rec.ID), data); err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return Record{}, false, fmt.Errorf("flow: store workflow %q: %w", rec.ID, err)
		}
		created = false
		if rec, _, err = read(ctx, kv, rec.ID); err != nil {
			return Record{}, false, err
		}
	}
	// The payloads after the record: a workflow of the same ID started
	// before keeps its own.
	for name, body := range payloads {
		if _, err := kv.Create(ctx, wire.WorkflowPayloadKey(rec.ID, name), body); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
			return Record{}, false, fmt.Errorf("flow: store payload of step %q of workflow %q: %w", name, rec.ID, err)
		}
	}
	return rec, created, nil
}

// Load reads workflow id with its steps' current states; an unknown id is
// an error wrapping status.ErrNotFound.
func (r *Runner) Load(ctx context.Context, id string) (Workflow, error) {
	kv, err := r.kv(ctx)
	if err != nil {
		return Workflow{}, err
	}
	rec, _, err := read(ctx, kv, id)
	return rec.Workflow, err
}

// Cancel cancels workflow id: steps not enqueued yet never will be, and
// queued steps are settled cancelled unrun when a worker takes them;
// running steps finish. It returns how many steps it cancelled. A finished
// workflow (succeeded or cancelled already) is an error wrapping
// [ErrFinished]; a failed one can be cancelled, so that replaying its
// failed step does not resume it. An unknown id is an error wrapping
// status.ErrNotFound.
func (r *Runner) Cancel(ctx context.Context, id string) (int, error) {
	kv, err := r.kv(ctx)
	if err != nil {
		return 0, err
	}
	var n int
	_, err = r.update(ctx, kv, id, func(rec *Record) (bool, error) {
		if rec.State == Succeeded || rec.State == Cancelled {
			return false, fmt.Errorf("%w: workflow %q is %s", ErrFinished, id, rec.State)
		}
		n = 0
		rec.State = Cancelled
		for i := range rec.Steps {
			switch rec.Steps[i].State {
			case Waiting, Unreachable, status.Queued:
				rec.Steps[i].State = status.Cancelled
				n++
			}
		}
		return true, nil
	})
	return n, err
}
