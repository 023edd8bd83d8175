package tasks

import "context"

// ProgressReporter records progress for the task a ctx belongs to; the worker
// puts one in the handler's ctx for definitions with [WithStateTracking], and
// the status package keeps what it records.
type ProgressReporter interface {
	ReportProgress(ctx context.Context, percent float64, note string) error
}

type progressKey struct{}

// WithProgressReporter returns a ctx whose [ReportProgress] calls go to r.
func WithProgressReporter(ctx context.Context, r ProgressReporter) context.Context {
	return context.WithValue(ctx, progressKey{}, r)
}

// ReportProgress records how far the handler running under ctx is, percent
// (clamped to 0-100) and a note, for the task's status (see the status
// package). It does nothing and returns nil when the task is not tracked
// (see [WithStateTracking]); an error means the record could not be written,
// which the handler may ignore.
func ReportProgress(ctx context.Context, percent float64, note string) error {
	r, _ := ctx.Value(progressKey{}).(ProgressReporter)
	if r == nil {
		return nil
	}
	return r.ReportProgress(ctx, min(max(percent, 0), 100), note)
}
