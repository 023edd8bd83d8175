package workflow

import (
	"context"
	"errors"

	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// Errors of this package. Each error returned wraps one of them.
var (
	// ErrInvalid is wrapped by errors about a workflow that cannot run: no
	// steps, a duplicate or unknown step name, a cycle, a payload that does
	// not encode, a step type no worker serves (unless [Force]).
	ErrInvalid = errors.New("workflow: invalid workflow")
	// ErrNoInput is returned by the input readers in a handler that is not
	// running a workflow step, or for a parent the step does not have.
	ErrNoInput = errors.New("workflow: no such input")
)

// Step is one task of a workflow: a definition, its payload and the steps
// it waits for. Make one with [Task].
type Step struct {
	name string
	deps []string
	add  func(g *producer.Group, opts ...producer.EnqueueOption)
	spec tasks.Spec
	body []byte
	err  error
}

// Task returns a step named name that runs a task of def with payload
// args. Names are unique within a workflow: lower-case letters, digits,
// '-' and '_'.
func Task[T any](name string, def tasks.Def[T], args T) Step {
	return Step{name: name, err: errUnbuilt}
}

// After returns s waiting for the steps named deps: it is enqueued once
// all of them have succeeded.
func (s Step) After(deps ...string) Step {
	s.deps = append(append([]string(nil), s.deps...), deps...)
	return s
}

// Name returns the step's name.
func (s Step) Name() string { return s.name }

// Workflow is a set of steps with their dependencies. Build one with
// [New] and [Workflow.Add], or with [Chain], [Group] or [Chord].
type Workflow struct {
	name  string
	steps []Step
	cfg   config
}

// New returns an empty workflow named name (a label for people, not an
// ID).
func New(name string, opts ...Option) *Workflow {
	return &Workflow{name: name}
}

// Add adds steps to w and returns w.
func (w *Workflow) Add(steps ...Step) *Workflow {
	w.steps = append(w.steps, steps...)
	return w
}

// Chain returns a workflow whose steps run one after another, each step
// reading the previous one's result with [Input].
func Chain(name string, steps ...Step) *Workflow {
	return New(name)
}

// Group returns a workflow of steps that run independently, enqueued all
// or nothing.
func Group(name string, steps ...Step) *Workflow {
	return New(name)
}

// Chord returns a workflow of the members, enqueued all or nothing, and a
// callback that runs once, when every member has succeeded, reading their
// results in member order with [Results].
func Chord(name string, members []Step, callback Step) *Workflow {
	return New(name)
}

// Option configures a workflow.
type Option func(*config)

type config struct {
	id        string
	force     bool
	onFailure func() (tasks.Spec, error)
}

// WithID gives the workflow the ID id instead of a generated one; starting
// a workflow with an ID already started is a duplicate and starts nothing.
func WithID(id string) Option { return func(c *config) { c.id = id } }

// Force starts a workflow even when no worker serves some of its steps'
// task types yet.
func Force() Option { return func(c *config) { c.force = true } }

// OnFailure enqueues a task of cb once when the workflow fails (a step is
// dead-lettered or expires): its payload lists the steps that failed and
// the results of those that succeeded.
func OnFailure(cb tasks.Def[Failure]) Option {
	return func(c *config) {}
}

// Failure is the payload of a workflow's failure callback.
type Failure struct {
	// ID and Name are the workflow's.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Failed lists the steps that failed for good, with their failures.
	Failed []tasks.Failure `json:"failed"`
	// Succeeded maps each step that succeeded to its encoded result (nil
	// for a step whose task returns none).
	Succeeded map[string][]byte `json:"succeeded"`
}

// Run is a started workflow.
type Run struct {
	// ID is the workflow's ID: read it with inspect.Workflow.
	ID string
	// Duplicate says a workflow with this ID was started before.
	Duplicate bool
}

// Start validates w, stores its record and enqueues its first steps, all
// or nothing. Bad input is refused with an error wrapping [ErrInvalid] and
// stores nothing.
func Start(ctx context.Context, p *producer.Producer, w *Workflow) (Run, error) {
	return Run{}, errUnbuilt
}

// Input returns the result of the single parent of the running step,
// decoded into R.
func Input[R any](ctx context.Context) (R, error) {
	var v R
	return v, errUnbuilt
}

// Results returns the results of the running step's parents, in the order
// of its dependencies (a chord's callback: member order).
func Results[R any](ctx context.Context) ([]R, error) {
	return nil, errUnbuilt
}

// ParentResult returns the result of the running step's parent named
// step.
func ParentResult[R any](ctx context.Context, step string) (R, error) {
	var v R
	return v, errUnbuilt
}

var errUnbuilt = errors.New("workflow: not built yet")

// With applies opts to w and returns w, for workflows built with [Chain],
// [Group] or [Chord]: workflow.Chord(name, members, cb).With(workflow.WithID(id)).
func (w *Workflow) With(opts ...Option) *Workflow {
	for _, o := range opts {
		o(&w.cfg)
	}
	return w
}
