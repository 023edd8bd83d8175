package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// isStep reports whether h is the header of a workflow step.
func isStep(h tasks.Header) bool { return len(h[wire.HeaderStep]) != 0 }

// maxInline is the largest result kept as a value of the workflow bucket;
// a larger one goes to the results object store. Well below the server's
// default max_payload of 1 MiB, which bounds a value with its headers.
const maxInline = 256 << 10

// final reports whether a step in state st has settled for good.
func final(st StepState) bool {
	switch st {
	case status.Done, status.DeadLettered, status.Expired, status.Cancelled:
		return true
	}
	return false
}

// failed reports whether a step in state st stops its dependents.
func failed(st StepState) bool {
	switch st {
	case status.DeadLettered, status.Expired, status.Cancelled, Unreachable:
		return true
	}
	return false
}

// step does a workflow step's bookkeeping after its settlement s: it
// stores the step's result, records its outcome in the workflow's record
// with compare-and-set, then enqueues every dependent whose parents have
// all succeeded and, when the step made the workflow fail, the failure
// callback. Every write is idempotent: the result is created once, the
// record changes only if it does not say so already, and the tasks are
// published with IDs derived from the workflow's, which the work stream
// deduplicates. A settlement delivered again (the worker died before its
// ack) therefore redoes what is missing and doubles nothing.
func (r *Runner) step(ctx context.Context, s Settlement) error {
	if s.Env == nil || !isStep(s.Env.Header) {
		return nil
	}
	id, name := s.Env.Header.Get(wire.HeaderWorkflow), s.Env.Header.Get(wire.HeaderStep)
	kv, err := r.kv(ctx)
	if err != nil {
		return err
	}
	ref := false
	if s.State == status.Done && len(s.Result) > 0 {
		if ref, err = r.putResult(ctx, kv, id, name, s.Result); err != nil {
			return err
		}
		crashPoint("result-stored", name, nil)
	}
	var ready []string // dependents to enqueue
	var failure bool   // the failure callback to enqueue
	rec, err := r.update(ctx, kv, id, func(rec *Record) (bool, error) {
		ready, failure = nil, false
		st := rec.step(name)
		if st == nil {
			return false, nil
		}
		changed := record(st, s, ref)
		if changed {
			ready = advance(rec)
		}
		for _, d := range rec.Steps {
			if d.State == status.Queued && dependsOn(d, name) && !contains(ready, d.Name) {
				ready = append(ready, d.Name) // enqueued by a delivery that died before its ack
			}
		}
		// The failure callback is the first failed step's to enqueue, once
		// for the workflow: its redeliveries enqueue it again, under the same
		// ID, and no other step's failure does.
		if rec.State == Failed && rec.OnFailure != "" && (st.State == status.DeadLettered || st.State == status.Expired) &&
			(rec.FailedBy == "" || rec.FailedBy == name) {
			if rec.FailedBy == "" {
				rec.FailedBy, changed = name, true
			}
			failure = true
		}
		return changed, nil
	})
	if errors.Is(err, status.ErrNotFound) {
		// Gone: expired with the bucket's max age. Nothing to record.
		r.logger().LogAttrs(ctx, slog.LevelWarn, "jetq: workflow step settled after its workflow's record was gone",
			slog.String("workflow", id), slog.String("step", name), slog.String("task_id", s.Env.ID))
		return nil
	}
	if err != nil {
		return err
	}
	if rec.step(name) == nil {
		r.logger().LogAttrs(ctx, slog.LevelWarn, "jetq: workflow has no such step",
			slog.String("workflow", id), slog.String("step", name), slog.String("task_id", s.Env.ID))
		return nil
	}
	crashPoint("recorded", name, ready)
	for _, d := range ready {
		if err := r.enqueueStep(ctx, kv, &rec, d, s.Env.ID); err != nil {
			return err
		}
	}
	if failure {
		if err := r.enqueueFailure(ctx, kv, &rec, s.Env.ID); err != nil {
			return err
		}
	}
	crashPoint("enqueued", name, ready)
	return nil
}

// crashHook, when set, is called between the writes of a step's
// bookkeeping, at point, for the settled step with the dependents it is
// about to enqueue. Tests set it to kill the process there: a real worker
// cannot be made to die between two of its own statements on demand.
var crashHook func(point, step string, ready []string)

func crashPoint(point, step string, ready []string) {
	if crashHook != nil {
		crashHook(point, step, ready)
	}
}

// record writes settlement s into st, unless st says so already, and
// reports whether it changed st. ref says the result is in the object store.
func record(st *Step, s Settlement, ref bool) bool {
	switch {
	case st.State == s.State:
		return false
	case s.State == status.Done:
		// Done wins over anything: a step replayed from the dead-letter
		// stream, or running while its workflow was cancelled, that
		// succeeds is done.
		st.ResultSize, st.ResultType, st.ResultRef = len(s.Result), s.ContentType, ref
		st.Reason, st.Error = "", ""
	case final(st.State):
		// A failure never overwrites a success, nor a cancelled step's
		// state a failure: the worker drops those unrun.
		return false
	default:
		st.Reason, st.Error = string(s.Reason), s.Error
	}
	st.State, st.Attempts = s.State, s.Attempts
	st.FinishedAt = s.At.UTC()
	if s.At.IsZero() {
		st.FinishedAt = time.Now().UTC()
	}
	return true
}

// advance moves every step that waits or is unreachable to what its
// parents now make it: queued when all have succeeded (unless the
// workflow is cancelled), unreachable when one has failed, waiting
// otherwise; then the workflow's state. It returns the steps it queued.
// Steps are in an order where parents come first, so one pass settles
// every descendant.
func advance(rec *Record) []string {
	var queued []string
	for i := range rec.Steps {
		st := &rec.Steps[i]
		if st.State != Waiting && st.State != Unreachable {
			continue
		}
		all, stopped := true, false
		for _, dep := range st.Deps {
			p := rec.step(dep)
			if p == nil {
				continue
			}
			all = all && p.State == status.Done
			stopped = stopped || failed(p.State)
		}
		switch {
		case stopped:
			st.State = Unreachable
		case all && rec.State != Cancelled:
			st.State = status.Queued
			queued = append(queued, st.Name)
		default:
			st.State = Waiting
		}
	}
	if rec.State == Cancelled {
		return queued
	}
	rec.State = Succeeded
	for _, st := range rec.Steps {
		switch st.State {
		case status.DeadLettered, status.Expired:
			rec.State = Failed
			return queued
		case status.Done:
		default:
			rec.State = Running
		}
	}
	return queued
}

func dependsOn(st Step, parent string) bool { return contains(st.Deps, parent) }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// putResult stores step's result, once: a result stored by an earlier
// delivery of the step stays, as dependents may have read it. It reports
// whether the result went to the object store.
func (r *Runner) putResult(ctx context.Context, kv jetstream.KeyValue, id, step string, result []byte) (bool, error) {
	key := wire.WorkflowResultKey(id, step)
	if len(result) > maxInline {
		obs, err := r.objects(ctx)
		if err != nil {
			return false, err
		}
		if _, err := obs.GetInfo(ctx, key); err == nil {
			return true, nil
		}
		if _, err := obs.PutBytes(ctx, key, result); err != nil {
			return false, fmt.Errorf("flow: store result of step %q of workflow %q: %w", step, id, err)
		}
		return true, nil
	}
	if _, err := kv.Create(ctx, key, result); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return false, fmt.Errorf("flow: store result of step %q of workflow %q: %w", step, id, err)
	}
	return false, nil
}

// result reads st's stored result: nil for a step that returned none.
func (r *Runner) result(ctx context.Context, kv jetstream.KeyValue, id string, st *Step) ([]byte, error) {
	if st.State != status.Done || st.ResultSize == 0 {
		return nil, nil
	}
	key := wire.WorkflowResultKey(id, st.Name)
	if st.ResultRef {
		obs, err := r.objects(ctx)
		if err != nil {
			return nil, err
		}
		data, err := obs.GetBytes(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("flow: read result of step %q of workflow %q: %w", st.Name, id, err)
		}
		return data, nil
	}
	e, err := kv.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("flow: read result of step %q of workflow %q: %w", st.Name, id, err)
	}
	return e.Value(), nil
}

// enqueueStep publishes the task of step name of rec, enqueued by the
// settlement of the task parentID, with the step's task ID as its
// Nats-Msg-Id: a second publish within the work stream's duplicates
// window is dropped.
func (r *Runner) enqueueStep(ctx context.Context, kv jetstream.KeyValue, rec *Record, name, parentID string) error {
	st := rec.step(name)
	e, err := kv.Get(ctx, wire.WorkflowPayloadKey(rec.ID, name))
	if err != nil {
		return fmt.Errorf("flow: read payload of step %q of workflow %q: %w", name, rec.ID, err)
	}
	msg := StepMsg(r.names, rec, st, e.Value())
	msg.Header.Set(tasks.HeaderParent, parentID)
	if _, err := r.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("flow: enqueue step %q of workflow %q: %w", name, rec.ID, err)
	}
	return nil
}

// StepMsg is the message of the task of step st of rec with payload body.
func StepMsg(n wire.Names, rec *Record, st *Step, body []byte) *nats.Msg {
	h := nats.Header{}
	for k, v := range StepHeader(rec, st) {
		h.Set(k, v)
	}
	h.Set(wire.HeaderMsgID, st.TaskID)
	return &nats.Msg{Subject: n.TaskSubject(st.Queue, st.Task), Header: h, Data: body}
}

// StepHeader is what the task of step st of rec carries besides what any
// task does: the workflow's ID, the step's name, the content type of a
// payload that is not JSON, and the workflow's trace context.
func StepHeader(rec *Record, st *Step) wire.OwnHeader {
	h := wire.OwnHeader{wire.HeaderWorkflow: rec.ID, wire.HeaderStep: st.Name, wire.HeaderID: st.TaskID}
	if st.ContentType != "" {
		h[wire.HeaderContentType] = st.ContentType
	}
	for k, v := range rec.Trace {
		h[k] = v
	}
	return h
}

// FailurePayload is the payload of a workflow's failure callback; the
// workflow package's Failure has the same JSON form.
type FailurePayload struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Failed    []tasks.Failure   `json:"failed"`
	Succeeded map[string][]byte `json:"succeeded"`
}

// enqueueFailure publishes rec's failure callback, with what failed and
// what succeeded, under the ID derived from the workflow's.
func (r *Runner) enqueueFailure(ctx context.Context, kv jetstream.KeyValue, rec *Record, parentID string) error {
	p := FailurePayload{ID: rec.ID, Name: rec.Name, Failed: []tasks.Failure{}, Succeeded: map[string][]byte{}}
	for i := range rec.Steps {
		st := &rec.Steps[i]
		switch st.State {
		case status.Done:
			res, err := r.result(ctx, kv, rec.ID, st)
			if err != nil {
				return err
			}
			p.Succeeded[st.Name] = res
		case status.DeadLettered, status.Expired:
			p.Failed = append(p.Failed, tasks.Failure{ID: st.TaskID, Task: st.Task, Queue: st.Queue,
				State: string(st.State), Reason: tasks.Reason(st.Reason), Error: st.Error,
				Attempts: st.Attempts, At: st.FinishedAt})
		}
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("flow: failure callback of workflow %q: %w", rec.ID, err)
	}
	fid := wire.WorkflowFailureID(rec.ID)
	h := nats.Header{}
	h.Set(wire.HeaderMsgID, fid)
	h.Set(wire.HeaderID, fid)
	h.Set(wire.HeaderWorkflow, rec.ID)
	h.Set(tasks.HeaderParent, parentID)
	for k, v := range rec.Trace {
		h.Set(k, v)
	}
	msg := &nats.Msg{Subject: r.names.TaskSubject(rec.FailureQueue, rec.OnFailure), Header: h, Data: body}
	if _, err := r.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("flow: enqueue failure callback of workflow %q: %w", rec.ID, err)
	}
	return nil
}

func (r *Runner) logger() *slog.Logger {
	if r.log == nil {
		return slog.Default()
	}
	return r.log
}

func isNotFound(err error) bool { return errors.Is(err, status.ErrNotFound) }
