package metrics

// Log attribute keys, one vocabulary for every line the package writes.
const (
	keyError   = "error"
	keyTimeout = "timeout"
)
