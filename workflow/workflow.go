package workflow

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/jetq/jetq/internal/flow"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

// Errors of this package. Each error returned wraps one of them.
var (
	// ErrInvalid is wrapped by errors about a workflow that cannot run: no
	// steps, a duplicate or unknown step name, a cycle, a payload that does
	// not encode, a step type no worker serves (unless [Force]).
	ErrInvalid = errors.New("workflow: invalid workflow")
	// ErrNoInput is wrapped by the input readers' errors in a handler that
	// is not running a workflow step, for a parent the step does not have,
	// for a parent that returned no result, and by [Input] for a step
	// without exactly one parent.
	ErrNoInput = errors.New("workflow: no such input")
)

// Step is one task of a workflow: a definition, its payload and the steps
// it waits for. Make one with [Task].
type Step struct {
	name string
	deps []string
	// enqueue enqueues the step's task through p, for a step that depends
	// on nothing.
	enqueue func(ctx context.Context, p *producer.Producer, opts ...producer.EnqueueOption) (producer.Result, error)
	// add adds it to a group, to enqueue the first steps all or nothing.
	add  func(g *producer.Group, opts ...producer.EnqueueOption)
	spec tasks.Spec
	body []byte
	err  error
}

// stepName is what a step's name may be: it ends the step's task ID and a
// key of the workflow bucket.
var stepName = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// Task returns a step named name that runs a task of def with payload
// args. Names are unique within a workflow: 1 to 64 lower-case letters,
// digits, '-' and '_'. The payload is validated and encoded now; an
// invalid name, definition or payload is reported by [Start], wrapping
// [ErrInvalid], and nothing is started.
func Task[T any](name string, def tasks.Def[T], args T) Step {
	s := Step{name: name}
	if !stepName.MatchString(name) {
		s.err = fmt.Errorf("%w: step name %q: use 1 to 64 lower-case letters, digits, '-' and '_'", ErrInvalid, name)
		return s
	}
	if def == nil {
		s.err = fmt.Errorf("%w: step %q: definition is nil", ErrInvalid, name)
		return s
	}
	if err := def.Check(); err != nil {
		s.err = fmt.Errorf("%w: step %q: %w", ErrInvalid, name, err)
		return s
	}
	s.spec = def.Spec()
	if s.body, s.err = def.Encode(args); s.err != nil {
		s.err = fmt.Errorf("%w: step %q: %w", ErrInvalid, name, s.err)
		return s
	}
	s.enqueue = func(ctx context.Context, p *producer.Producer, opts ...producer.EnqueueOption) (producer.Result, error) {
		return producer.Enqueue(ctx, p, def, args, opts...)
	}
	s.add = func(g *producer.Group, opts ...producer.EnqueueOption) { producer.Add(g, def, args, opts...) }
	return s
}

// After returns s waiting for the steps named deps: it is enqueued once
// all of them have succeeded. Their order is the order of [Results].
func (s Step) After(deps ...string) Step {
	s.deps = append(append([]string(nil), s.deps...), deps...)
	return s
}

// Name returns the step's name.
func (s Step) Name() string { return s.name }

// Workflow is a set of steps with their dependencies. Build one with
// [New] and [Workflow.Add], or with [Chain], [Group] or [Chord]. It is not
// safe for concurrent use while it is being built.
type Workflow struct {
	name  string
	steps []Step
	cfg   config
}

// New returns an empty workflow named name (a label for people, not an
// ID).
func New(name string, opts ...Option) *Workflow {
	w := &Workflow{name: name}
	for _, opt := range opts {
		opt(&w.cfg)
	}
	return w
}

// Add adds steps to w and returns w.
func (w *Workflow) Add(steps ...Step) *Workflow {
	w.steps = append(w.steps, steps...)
	return w
}

// Chain returns a workflow whose steps run one after another, each step
// reading the previous one's result with [Input].
func Chain(name string, steps ...Step) *Workflow {
	w := New(name)
	for i, s := range steps {
		if i > 0 {
			s = s.After(steps[i-1].name)
		}
		w.Add(s)
	}
	return w
}

// Group returns a workflow of steps that run independently, enqueued all
// or nothing.
func Group(name string, steps ...Step) *Workflow {
	return New(name).Add(steps...)
}

// Chord returns a workflow of the members, enqueued all or nothing, and a
// callback that runs once, when every member has succeeded, reading their
// results in member order with [Results].
func Chord(name string, members []Step, callback Step) *Workflow {
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = m.name
	}
	return New(name).Add(members...).Add(callback.After(names...))
}

// Option configures a workflow; pass options to [New] or [Workflow.With].
type Option func(*config)

type config struct {
	id        string
	force     bool
	onFailure func() (tasks.Spec, error)
}

// With applies opts to w and returns w: the options of a workflow made by
// [Chain], [Group] or [Chord].
func (w *Workflow) With(opts ...Option) *Workflow {
	for _, opt := range opts {
		opt(&w.cfg)
	}
	return w
}

// WithID gives the workflow the ID id instead of a generated one; starting
// a workflow with an ID already started is a duplicate and starts nothing
// new (see [Start]). 1 to 128 printable bytes, no spaces.
func WithID(id string) Option { return func(c *config) { c.id = id } }

// Force starts a workflow even when no worker serves some of its steps'
// task types yet.
func Force() Option { return func(c *config) { c.force = true } }

// OnFailure enqueues a task of cb once when the workflow fails (a step is
// dead-lettered or expires): its payload lists the steps that failed and
// the results of those that succeeded. cb must encode with JSON (the
// default codec).
func OnFailure(cb tasks.Def[Failure]) Option {
	return func(c *config) {
		c.onFailure = func() (tasks.Spec, error) {
			if cb == nil {
				return tasks.Spec{}, errors.New("failure callback definition is nil")
			}
			if err := cb.Check(); err != nil {
				return tasks.Spec{}, err
			}
			spec := cb.Spec()
			if spec.Codec != nil && spec.Codec.ContentType() != tasks.JSON.ContentType() {
				return tasks.Spec{}, fmt.Errorf("failure callback %q encodes with %s; it must use JSON", spec.Name, spec.Codec.ContentType())
			}
			return spec, nil
		}
	}
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

const maxID = 128

// Start validates w, stores its record and enqueues its first steps (those
// that depend on nothing) all or nothing, as one producer.EnqueueGroup (on
// a server before nats-server 2.12, which has no atomic batch, one at a
// time). Bad input is refused with an error wrapping
// [ErrInvalid] and stores nothing: no steps, a step whose name, definition
// or payload is invalid, two steps of one name, a dependency on no step,
// a cycle (the error names it), and a step whose task type no worker
// serves yet — its durable consumer does not exist — unless [Force].
//
// If ctx holds a span, Start opens a "workflow <name>" span under it with
// its tracer provider (the global one otherwise), and every step's task
// carries that span's context: with tracing.Consumer the workers' spans of
// all the steps form one trace.
//
// A Start that fails after storing the record (its process died, the
// queue was full: producer.ErrQueueFull, and no first step is enqueued)
// is finished by calling Start again with the same
// [WithID] within the work stream's duplicates window (2 minutes by
// default): the record is kept, Run.Duplicate is set, and the first steps
// are enqueued again under their deterministic IDs, which the work stream
// deduplicates. After the window, or for a cancelled workflow, a
// duplicate Start enqueues nothing and returns no error.
func Start(ctx context.Context, p *producer.Producer, w *Workflow) (Run, error) {
	if p == nil || w == nil {
		return Run{}, fmt.Errorf("%w: producer and workflow must not be nil", ErrInvalid)
	}
	order, err := w.check()
	if err != nil {
		return Run{}, err
	}
	var failure tasks.Spec
	if w.cfg.onFailure != nil {
		if failure, err = w.cfg.onFailure(); err != nil {
			return Run{}, fmt.Errorf("%w: OnFailure: %w", ErrInvalid, err)
		}
	}
	id := w.cfg.id
	if id == "" {
		id = wire.NewID()
	}
	if len(id) > maxID || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return Run{}, fmt.Errorf("%w: workflow ID %q: use 1 to %d printable bytes without spaces", ErrInvalid, id, maxID)
	}
	if err := p.Provision(ctx); err != nil {
		return Run{}, fmt.Errorf("workflow: %w", err)
	}
	if !w.cfg.force {
		if err := served(ctx, p, order, failure); err != nil {
			return Run{}, err
		}
	}

	ctx, span := startSpan(ctx, w, id)
	defer span.End()
	run, err := start(ctx, p, w, id, order, failure, span)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return run, err
}

func start(ctx context.Context, p *producer.Producer, w *Workflow, id string, order []Step, failure tasks.Spec, span trace.Span) (Run, error) {
	rec := flow.Record{Workflow: flow.Workflow{
		ID: id, Name: w.name, State: flow.Running, CreatedAt: time.Now().UTC(), OnFailure: failure.Name,
	}, FailureQueue: failure.Queue}
	if sc := span.SpanContext(); sc.IsValid() {
		rec.Trace = map[string]string{}
		propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), propagation.MapCarrier(rec.Trace))
	}
	payloads := map[string][]byte{}
	for _, s := range order {
		st := flow.Step{Name: s.name, Task: s.spec.Name, Queue: s.spec.Queue, TaskID: wire.StepTaskID(id, s.name),
			Deps: s.deps, State: status.Queued}
		if ct := s.spec.Codec.ContentType(); ct != tasks.JSON.ContentType() {
			st.ContentType = ct
		}
		if len(s.deps) > 0 {
			st.State = flow.Waiting
			payloads[s.name] = s.body
		}
		rec.Steps = append(rec.Steps, st)
	}
	runner := flow.New(p.JetStream(), p.Topology(), nil)
	stored, created, err := runner.Create(ctx, rec, payloads)
	if err != nil {
		return Run{}, fmt.Errorf("workflow: start %q: %w", id, err)
	}
	run := Run{ID: id, Duplicate: !created}
	if !created && (stored.State == flow.Cancelled || time.Since(stored.CreatedAt) > dedupWindow(p)) {
		return run, nil
	}
	g := producer.NewGroup()
	var roots []Step
	for _, s := range order {
		st := findStep(&stored, s.name)
		if st == nil || len(st.Deps) > 0 || st.State != status.Queued {
			continue // settled already: a Start repeated after its steps ran
		}
		s.add(g, producer.WithID(st.TaskID), producer.WithOwnHeader(flow.StepHeader(&stored, st)))
		roots = append(roots, s)
	}
	_, err = producer.EnqueueGroup(ctx, p, g)
	if errors.Is(err, producer.ErrUnsupported) {
		// A server before 2.12 takes no atomic batch: one at a time, and a
		// Start that fails half-way is finished by Start again.
		for _, s := range roots {
			st := findStep(&stored, s.name)
			if _, err = s.enqueue(ctx, p, producer.WithID(st.TaskID), producer.WithOwnHeader(flow.StepHeader(&stored, st))); err != nil {
				break
			}
		}
	}
	if err != nil {
		return run, fmt.Errorf("workflow: start %q: enqueue its first steps: %w; call Start again with WithID(%q) to finish", id, err, id)
	}
	return run, nil
}

func findStep(rec *flow.Record, name string) *flow.Step {
	for i := range rec.Steps {
		if rec.Steps[i].Name == name {
			return &rec.Steps[i]
		}
	}
	return nil
}

// dedupWindow is the work stream's duplicates window as p's topology says.
func dedupWindow(p *producer.Producer) time.Duration {
	if d := p.Topology().DedupWindow; d > 0 {
		return d
	}
	return wire.DefaultDedupWindow
}

// startSpan opens the workflow's span under ctx's, with its tracer provider.
func startSpan(ctx context.Context, w *Workflow, id string) (context.Context, trace.Span) {
	tp := otel.GetTracerProvider()
	if parent := trace.SpanFromContext(ctx); parent.SpanContext().IsValid() {
		tp = parent.TracerProvider()
	}
	return tp.Tracer("github.com/jetq/jetq/workflow").Start(ctx, "workflow "+w.name,
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attribute.String("jetq.workflow.id", id), attribute.String("jetq.workflow.name", w.name),
			attribute.Int("jetq.workflow.steps", len(w.steps))))
}

// check validates w's steps and returns them in an order where every step
// comes after its dependencies (the order of Add where it can).
func (w *Workflow) check() ([]Step, error) {
	if len(w.steps) == 0 {
		return nil, fmt.Errorf("%w: workflow %q has no steps; add some with Add, or build it with Chain, Group or Chord", ErrInvalid, w.name)
	}
	byName := make(map[string]int, len(w.steps))
	for i, s := range w.steps {
		if s.err != nil {
			return nil, s.err
		}
		if s.enqueue == nil {
			return nil, fmt.Errorf("%w: step %d is the zero Step; make steps with Task", ErrInvalid, i)
		}
		if _, dup := byName[s.name]; dup {
			return nil, fmt.Errorf("%w: two steps are named %q; step names are unique within a workflow", ErrInvalid, s.name)
		}
		byName[s.name] = i
	}
	for _, s := range w.steps {
		seen := map[string]bool{}
		for _, d := range s.deps {
			if _, ok := byName[d]; !ok {
				return nil, fmt.Errorf("%w: step %q waits for %q, which is not a step of the workflow", ErrInvalid, s.name, d)
			}
			if seen[d] {
				return nil, fmt.Errorf("%w: step %q waits for %q twice", ErrInvalid, s.name, d)
			}
			seen[d] = true
		}
	}
	if cycle := findCycle(w.steps, byName); cycle != nil {
		return nil, fmt.Errorf("%w: the steps form a cycle: %s", ErrInvalid, strings.Join(cycle, " -> "))
	}
	// Kahn's order, taking steps in the order they were added.
	order := make([]Step, 0, len(w.steps))
	placed := make(map[string]bool, len(w.steps))
	for len(order) < len(w.steps) {
		for _, s := range w.steps {
			if placed[s.name] {
				continue
			}
			ready := true
			for _, d := range s.deps {
				ready = ready && placed[d]
			}
			if ready {
				placed[s.name] = true
				order = append(order, s)
			}
		}
	}
	return order, nil
}

// findCycle returns the names along a cycle of dependencies, the first
// repeated at the end, or nil when there is none.
func findCycle(steps []Step, byName map[string]int) []string {
	const (
		unseen = iota
		onPath
		finished
	)
	mark := make([]int, len(steps))
	var path []string
	var visit func(i int) []string
	visit = func(i int) []string {
		mark[i] = onPath
		path = append(path, steps[i].name)
		for _, d := range steps[i].deps {
			j := byName[d]
			switch mark[j] {
			case onPath:
				for k, n := range path {
					if n == d {
						return append(append([]string(nil), path[k:]...), d)
					}
				}
			case unseen:
				if c := visit(j); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		mark[i] = finished
		return nil
	}
	for i := range steps {
		if mark[i] == unseen {
			if c := visit(i); c != nil {
				return c
			}
		}
	}
	return nil
}

// served checks that a worker serves every step's task type, and the
// failure callback's: that its durable consumer exists.
func served(ctx context.Context, p *producer.Producer, steps []Step, failure tasks.Spec) error {
	n := wire.NamesOf(p.Topology())
	specs := make([]tasks.Spec, 0, len(steps)+1)
	for _, s := range steps {
		specs = append(specs, s.spec)
	}
	if failure.Name != "" {
		specs = append(specs, failure)
	}
	seen := map[string]bool{}
	var missing []string
	for _, spec := range specs {
		durable := n.Durable(spec.Queue, spec.Name)
		if seen[durable] {
			continue
		}
		seen[durable] = true
		_, err := p.JetStream().Consumer(ctx, n.WorkStream(), durable)
		switch {
		case errors.Is(err, jetstream.ErrConsumerNotFound):
			missing = append(missing, fmt.Sprintf("%q (queue %q)", spec.Name, spec.Queue))
		case err != nil:
			return fmt.Errorf("workflow: look up the consumer of task %q: %w", spec.Name, err)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: no worker serves task type %s yet; start a worker that handles it, or pass workflow.Force() to start anyway",
			ErrInvalid, strings.Join(missing, ", "))
	}
	return nil
}
