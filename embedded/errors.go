package embedded

import "errors"

// ErrInvalidOption is wrapped by the error [Start] returns when an option has
// an invalid value, such as a malformed listen address or a non-positive
// JetStream limit. Check it with errors.Is.
var ErrInvalidOption = errors.New("embedded: invalid option")

// ErrServerClosed is wrapped by the error [Server.Connect] returns after
// [Server.Shutdown] has been called. Check it with errors.Is.
var ErrServerClosed = errors.New("embedded: server closed")

// ErrStoreDirLocked is wrapped by the error [Start] returns when another
// running server — of this process or, on Linux, macOS and the BSDs, of any
// other process — holds the store directory given to [WithStoreDir]. Start
// fails before the store is opened, so the other server is not disturbed.
// Check it with errors.Is.
var ErrStoreDirLocked = errors.New("embedded: store dir locked by another server")
