package flow

// SetCrashHook sets the hook called between the writes of a step's
// bookkeeping (see crashHook).
func SetCrashHook(f func(point, step string, ready []string)) { crashHook = f }

// Conflicts is how many compare-and-set writes of a record lost to another
// writer, since r was made.
func (r *Runner) Conflicts() int64 { return r.conflicts.Load() }
