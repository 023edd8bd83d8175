package dlq

import "errors"

// ErrInvalidOption is wrapped by the errors of [NewForwarder] about its
// options.
var ErrInvalidOption = errors.New("dlq: invalid option")
