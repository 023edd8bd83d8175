package embedded

import "errors"

// ErrInvalidOption is wrapped by the error [Start] returns when an option has
// an invalid value, such as a malformed listen address or a non-positive
// JetStream limit. Check it with errors.Is.
var ErrInvalidOption = errors.New("embedded: invalid option")

// ErrServerClosed is wrapped by the error [Server.Connect] returns after
// [Server.Shutdown] has been called. Check it with errors.Is.
var ErrServerClosed = errors.New("embedded: server closed")
