package producer

import (
	"fmt"
	"reflect"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// OnSuccess enqueues a task of cb when this task succeeds, once per
// settlement: cb's payload is this task's result, so cb's payload type must
// be the result type of the task's [tasks.ResultDefinition], with the same
// codec. A task of a plain [tasks.Definition] returns no result: its
// success callback takes struct{} (with the JSON codec) and learns which
// task succeeded from tasks.HeaderParent. Anything else is refused at the
// call with [ErrInvalidOption], and nothing is enqueued; so are a nil cb and
// a second OnSuccess.
//
// The worker enqueues the callback before it acknowledges this task, with
// an ID derived from this task's, so a worker that dies between the
// handler's return and the acknowledgement does not enqueue it twice: the
// work stream drops a second enqueue within its deduplication window, and a
// worker runs one callback ID once for a day after that. The callback
// continues this task's trace and reads this task's ID in its Task.Header
// (tasks.HeaderParent). It works with [Enqueue], [EnqueueBatch] and [Add]
// (each task its own callback), and with [WithDelay].
func OnSuccess[R any](cb tasks.Def[R]) EnqueueOption {
	ref, err := callbackOf(cb, "OnSuccess")
	unit := reflect.TypeFor[R]() == reflect.TypeFor[struct{}]()
	return func(c *enqueueConfig) {
		switch {
		case c.onSuccess != nil:
			c.fail(fmt.Errorf("%w: OnSuccess given twice; a task has one success callback", ErrInvalidOption))
		case err != nil:
			c.fail(err)
		}
		c.onSuccess = &callbackOption{ref: ref, payloadType: specOf(cb).PayloadType, unit: unit}
	}
}

// OnFailure enqueues a task of cb, whose payload is a [tasks.Failure], when
// this task fails for good: dead-lettered (by its worker or by the
// forwarder), expired, or settled cancelled by a worker (a step of a
// cancelled workflow). A delayed task withdrawn before it fires
// (inspect.Inspector.Cancel) never reaches a worker and enqueues nothing.
// Once per settlement, like [OnSuccess]. cb must use
// the JSON codec, the Failure's encoding. A nil cb, a cb with another codec
// and a second OnFailure are refused at the call with [ErrInvalidOption].
func OnFailure(cb tasks.Def[tasks.Failure]) EnqueueOption {
	ref, err := callbackOf(cb, "OnFailure")
	if err == nil && ref.ContentType != tasks.JSON.ContentType() {
		err = fmt.Errorf("%w: OnFailure(%s): the callback's codec is %s; it receives a tasks.Failure encoded as %s, so give it the JSON codec",
			ErrInvalidOption, ref.Task, ref.ContentType, tasks.JSON.ContentType())
	}
	return func(c *enqueueConfig) {
		switch {
		case c.onFailure != nil:
			c.fail(fmt.Errorf("%w: OnFailure given twice; a task has one failure callback", ErrInvalidOption))
		case err != nil:
			c.fail(err)
		}
		c.onFailure = &callbackOption{ref: ref}
	}
}

// callbackOption is a callback named by OnSuccess or OnFailure.
type callbackOption struct {
	ref         wire.Callback
	payloadType string
	unit        bool // the payload type is struct{}
}

// fail records the first option error.
func (c *enqueueConfig) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// specOf is cb's spec, the zero Spec for a nil cb.
func specOf[T any](cb tasks.Def[T]) tasks.Spec {
	if isNil(cb) {
		return tasks.Spec{}
	}
	return cb.Spec()
}

// isNil reports whether cb is nil or a nil pointer, on which its methods
// may panic (a nil *tasks.ResultDefinition).
func isNil[T any](cb tasks.Def[T]) bool {
	if cb == nil {
		return true
	}
	v := reflect.ValueOf(cb)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// callbackOf is the callback of definition cb, or why it cannot be one.
func callbackOf[T any](cb tasks.Def[T], opt string) (wire.Callback, error) {
	if isNil(cb) {
		return wire.Callback{}, fmt.Errorf("%w: %s got a nil task definition", ErrInvalidOption, opt)
	}
	if err := cb.Check(); err != nil {
		return wire.Callback{}, fmt.Errorf("%w: %s: %w", ErrInvalidOption, opt, err)
	}
	spec := cb.Spec()
	return wire.Callback{Queue: spec.Queue, Task: spec.Name, ContentType: spec.Codec.ContentType()}, nil
}

// callbacksOf checks the callbacks of the call against def, the definition
// of the tasks it enqueues, and adds their headers; a call without
// callbacks does not read def's spec. It returns an error wrapping
// [ErrInvalidOption] for a success callback whose payload is not def's
// result.
func (c *enqueueConfig) callbacksOf(def interface{ Spec() tasks.Spec }) error {
	if c.onSuccess == nil && c.onFailure == nil {
		return nil
	}
	parent := def.Spec()
	if s := c.onSuccess; s != nil {
		ct := parent.Codec.ContentType()
		switch {
		case parent.ResultType == "" && !s.unit:
			return fmt.Errorf("%w: OnSuccess(%s): task %s declares no result, so its success callback takes struct{}, not %s; define %s with tasks.DefineResult to pass its result on",
				ErrInvalidOption, s.ref.Task, parent.Name, s.payloadType, parent.Name)
		case parent.ResultType == "" && s.ref.ContentType != tasks.JSON.ContentType():
			return fmt.Errorf("%w: OnSuccess(%s): a success callback of a task without a result receives {} as %s; give it the JSON codec, not %s",
				ErrInvalidOption, s.ref.Task, tasks.JSON.ContentType(), s.ref.ContentType)
		case parent.ResultType != "" && s.payloadType != parent.ResultType:
			return fmt.Errorf("%w: OnSuccess(%s): the callback takes %s, but task %s returns %s; its payload type must be the result type",
				ErrInvalidOption, s.ref.Task, s.payloadType, parent.Name, parent.ResultType)
		case parent.ResultType != "" && s.ref.ContentType != ct:
			return fmt.Errorf("%w: OnSuccess(%s): the callback's codec is %s, but task %s encodes its result as %s; give both the same codec",
				ErrInvalidOption, s.ref.Task, s.ref.ContentType, parent.Name, ct)
		}
		c.flowHeader(wire.HeaderOnSuccess, s.ref)
	}
	if f := c.onFailure; f != nil {
		c.flowHeader(wire.HeaderOnFailure, f.ref)
	}
	return nil
}

// flowHeader sets header key to ref, for every task of the call.
func (c *enqueueConfig) flowHeader(key string, ref wire.Callback) {
	if c.header == nil {
		c.header = tasks.Header{}
	}
	c.header[key] = []string{ref.String()}
}
