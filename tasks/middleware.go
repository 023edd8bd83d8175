package tasks

import "context"

// Handler processes one delivery on a worker, payload still encoded. The
// worker builds one per registered task; [Middleware] wraps it.
type Handler func(ctx context.Context, env *Envelope) error

// Middleware wraps the processing of every delivery on a worker, settlement
// included: when next returns, env.Outcome says whether the task was acked,
// retried or dead-lettered, and the error is the handler's. Anything the
// middleware does to ctx (a span, a logger) reaches the handler and the
// dead-letter publish. A middleware that returns without calling next has its
// error settled as the handler's would be.
type Middleware func(next Handler) Handler

// Enqueuer publishes a batch of envelopes and returns one error per envelope,
// nil for those stored. On return the stored envelopes have Stream, Sequence
// and Duplicate set. A single enqueue is a batch of one.
type Enqueuer func(ctx context.Context, batch []*Envelope) []error

// EnqueueMiddleware wraps every publish on a producer. It may add headers to
// the envelopes (trace context) before calling next.
type EnqueueMiddleware func(next Enqueuer) Enqueuer

// Chain applies mw to h so that mw[0] is outermost.
func Chain(h Handler, mw ...Middleware) Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// ChainEnqueue applies mw to e so that mw[0] is outermost.
func ChainEnqueue(e Enqueuer, mw ...EnqueueMiddleware) Enqueuer {
	for i := len(mw) - 1; i >= 0; i-- {
		e = mw[i](e)
	}
	return e
}
