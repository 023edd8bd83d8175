package inspect

import "context"

// RetryNow runs a retrying task now instead of at its next attempt.
func (in *Inspector) RetryNow(ctx context.Context, r Ref) error { return errUnbuilt }
