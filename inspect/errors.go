package inspect

import "errors"

// ErrInvalidOption is wrapped by the errors of [New] about its options.
var ErrInvalidOption = errors.New("inspect: invalid option")

// ErrInvalidQuery is wrapped by the errors about a query, a filter or a page
// token that cannot be read: an unknown state, a malformed filter, a token
// from another list. Nothing was read or changed.
var ErrInvalidQuery = errors.New("inspect: invalid query")

// ErrNotFound is wrapped by the errors about a task, record or declaration
// that is not there.
var ErrNotFound = errors.New("inspect: not found")

// ErrMovedOn is wrapped by the errors of an action on a task that is no
// longer in the state the action needs: a pending task already running, a
// delayed task already fired, a retrying task already running again or
// done. Nothing was changed.
var ErrMovedOn = errors.New("inspect: task moved on")

// ErrUnsupported is wrapped by the errors of the reads that need a feature
// the server does not have, such as the schedule stream's listings on a
// server older than 2.14; the error names the version needed.
var ErrUnsupported = errors.New("inspect: not supported by this server")
