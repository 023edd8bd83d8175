package dlq

import "errors"

var (
	// ErrNotFound is wrapped when no dead-letter record has the sequence asked for.
	ErrNotFound = errors.New("dlq: no such record")
	// ErrInvalidOption is wrapped by errors about options and filters.
	ErrInvalidOption = errors.New("dlq: invalid option")
)
