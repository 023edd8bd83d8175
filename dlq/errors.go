package dlq

import "errors"

var (
	// ErrNotFound is wrapped by the errors of [Inspector.Get],
	// [Inspector.Replay] and [Inspector.Delete] when the dead-letter stream
	// has no record at the sequence asked for, or no dead-letter stream
	// exists.
	ErrNotFound = errors.New("dlq: no such record")
	// ErrInvalidOption is wrapped by the errors of [NewForwarder] and
	// [NewInspector] about options, and of the Inspector's methods about
	// a [Filter].
	ErrInvalidOption = errors.New("dlq: invalid option")
)
