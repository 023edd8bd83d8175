package dashboard

import "errors"

// ErrInvalidOption is wrapped by the errors of [New] about its options.
var ErrInvalidOption = errors.New("dashboard: invalid option")
