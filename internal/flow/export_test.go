package flow

// SetCrashHook sets the hook called between the writes of a step's
// bookkeeping (see crashHook).
func SetCrashHook(f func(point, step string, ready []string)) { crashHook = f }
