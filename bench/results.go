package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/workflow"
)

// chordSize is the number of members of each chord of workload (r).
const chordSize = 10

// followUp is one jetq side of workload (r), run against a plain task
// (noop) in the same run pairs.
type followUp struct {
	label string
	run   func(ctx context.Context, e *env, payloads []Payload) (batchResult, error)
}

// followUps are the sides of workload (r): what a task that keeps its
// outcome, returns a result or belongs to a chord costs against a plain
// task.
func followUps() []followUp {
	return []followUp{
		{"(r) task kept in the history (WithRetention)", runKept},
		{"(r) task with a stored result (DefineResult)", runResult},
		{fmt.Sprintf("(r) chord members, chords of %d", chordSize), runChords},
	}
}

// measureFollowUps runs each follow-up side against a plain task, run by
// run, end to end at concurrency 16 in-process: the raw column is jetq's
// plain task, the jetq column the side.
func measureFollowUps(ctx context.Context, o options) ([]row, error) {
	payloads := make([]Payload, o.nSync)
	for i := range payloads {
		payloads[i] = payload(i)
	}
	var rows []row
	for _, f := range followUps() {
		const note = "raw column: a plain jetq task"
		enq := row{workload: f.label + ", enqueue", conn: inProcess.String(), unit: "tasks/s", higherIsBetter: true, note: note}
		e2e := row{workload: f.label + ", end to end", conn: inProcess.String(), unit: "tasks/s", higherIsBetter: true, note: note}
		cpu := row{workload: f.label + ", CPU per task", conn: inProcess.String(), unit: "µs", note: note + "; client and server"}
		err := each(o.runs, func(side bool) error {
			e, err := newEnv(ctx, inProcess)
			if err != nil {
				return err
			}
			defer e.close()
			var res batchResult
			if side {
				res, err = f.run(ctx, e, payloads)
			} else {
				res, err = jetqBatch(ctx, e, payloads, 16, 0, nil, nil)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", f.label, err)
			}
			enq.add(side, res.enq)
			e2e.add(side, res.e2e)
			e2e.addPauses(side, res.progress)
			cpu.add(side, res.cpu.Seconds()*1e6/float64(len(payloads)))
			return nil
		})
		if err != nil {
			return rows, err
		}
		rows = append(rows, enq, e2e, cpu)
	}
	return rows, nil
}

// runKept runs tasks of a plain definition whose outcome is kept for an
// hour: one status write at the end of each.
func runKept(ctx context.Context, e *env, payloads []Payload) (batchResult, error) {
	def, err := tasks.New[Payload]("bench.kept", tasks.WithRetention(time.Hour))
	if err != nil {
		return batchResult{}, err
	}
	register := func(reg *tasks.Registry, handled func()) error {
		return tasks.Handle(reg, def, func(ctx context.Context, t *tasks.Task[Payload]) error {
			handled()
			return nil
		})
	}
	return jetqRun(ctx, e, len(payloads), len(payloads), 16, nil, nil, enqueueAll(def, payloads), register)
}

// runResult runs tasks that return a small result, stored with their
// outcome.
func runResult(ctx context.Context, e *env, payloads []Payload) (batchResult, error) {
	def, err := tasks.NewResult[Payload, int]("bench.result")
	if err != nil {
		return batchResult{}, err
	}
	register := func(reg *tasks.Registry, handled func()) error {
		return tasks.HandleResult(reg, def, func(ctx context.Context, t *tasks.Task[Payload]) (int, error) {
			handled()
			return t.Payload.UserID, nil
		})
	}
	return jetqRun(ctx, e, len(payloads), len(payloads), 16, nil, nil, enqueueAll(def, payloads), register)
}

// runChords starts len(payloads)/chordSize chords (workflow.Start from 16
// goroutines), whose members return a small result and whose callbacks
// read the members' results; it is done when every callback has run. Its
// rates count the members.
func runChords(ctx context.Context, e *env, payloads []Payload) (batchResult, error) {
	member, err := tasks.NewResult[Payload, int]("bench.member")
	if err != nil {
		return batchResult{}, err
	}
	callback, err := tasks.New[int]("bench.chord-done")
	if err != nil {
		return batchResult{}, err
	}
	chords := len(payloads) / chordSize
	enqueue := func(ctx context.Context, p *producer.Producer) error {
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for g := range 16 {
			wg.Go(func() {
				for c := g; c < chords; c += 16 {
					steps := make([]workflow.Step, chordSize)
					for i := range steps {
						steps[i] = workflow.Task(fmt.Sprintf("m%d", i), member, payloads[c*chordSize+i])
					}
					cb := workflow.Task("done", callback, c)
					w := workflow.Chord(fmt.Sprintf("bench-%d", c), steps, cb).With(workflow.Force()) // the worker starts after the enqueue
					if _, err := workflow.Start(ctx, p, w); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	register := func(reg *tasks.Registry, handled func()) error {
		err := tasks.HandleResult(reg, member, func(ctx context.Context, t *tasks.Task[Payload]) (int, error) {
			return t.Payload.UserID, nil
		})
		if err != nil {
			return err
		}
		return tasks.Handle(reg, callback, func(ctx context.Context, t *tasks.Task[int]) error {
			rs, err := workflow.Results[int](ctx)
			if err != nil {
				return err
			}
			if len(rs) != chordSize {
				return tasks.Permanent(fmt.Errorf("bench: chord %d: %d results", t.Payload, len(rs)))
			}
			handled()
			return nil
		})
	}
	if chords == 0 {
		return batchResult{}, errors.New("bench: fewer tasks than a chord")
	}
	return jetqRun(ctx, e, chords*chordSize, chords, 16, nil, nil, enqueue, register)
}
