package metrics

import "errors"

// ErrInvalidOption is wrapped by the errors of [NewCollector] and [New]
// about their arguments and options.
var ErrInvalidOption = errors.New("metrics: invalid option")
