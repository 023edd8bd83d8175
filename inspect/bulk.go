package inspect

import "context"

// Action is what a [Bulk] does to each task it covers.
type Action string

// The actions a [Bulk] can apply.
const (
	ActionDelete Action = "delete" // pending tasks: [Inspector.Delete]
	ActionRunNow Action = "run"    // scheduled tasks: [Inspector.RunNow]
	ActionCancel Action = "cancel" // scheduled tasks: [Inspector.Cancel]
	ActionRetry  Action = "retry"  // retrying tasks: [Inspector.RetryNow]
)

// Bulk is an action over the tasks a query selects, counted before it is
// applied: [Inspector.ApplyBulk] acts on the tasks counted and on no other.
type Bulk struct {
	Action Action
	Query  Query
	// Count is how many tasks the action covers.
	Count int
	// Token carries the bound of the tasks counted, for a confirmation
	// that comes back in another request.
	Token string
}

// BulkResult is what [Inspector.ApplyBulk] did.
type BulkResult struct {
	// Done counts the tasks acted on; MovedOn those that left the state
	// before their turn and were left alone.
	Done, MovedOn int
}

// PlanBulk counts the tasks a would act on.
func (in *Inspector) PlanBulk(ctx context.Context, a Action, q Query) (Bulk, error) {
	return Bulk{}, errUnbuilt
}

// ApplyBulk applies a planned bulk action.
func (in *Inspector) ApplyBulk(ctx context.Context, b Bulk) (BulkResult, error) {
	return BulkResult{}, errUnbuilt
}
