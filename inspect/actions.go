package inspect

import "context"

// Delete removes a pending task from the work stream.
func (in *Inspector) Delete(ctx context.Context, r Ref) error { return errUnbuilt }

// RunNow moves a scheduled task to the work stream now.
func (in *Inspector) RunNow(ctx context.Context, r Ref) error { return errUnbuilt }

// Cancel withdraws a scheduled task before it fires.
func (in *Inspector) Cancel(ctx context.Context, r Ref) error { return errUnbuilt }
