package status

import "errors"

// ErrNotFound is wrapped when a task has no recorded status: its ID is
// unknown, its definition does not track state, or the record expired.
var ErrNotFound = errors.New("status: no status recorded")
