package e2etask

import (
	"time"

	"github.com/jetq/jetq/tasks"
)

// The rate-limit scenario's tasks: a type limited to 50 starts a second
// across the workers, a type limited to 5 a second per key, and a type
// without a limit that runs beside them. One attempt each: a task over
// its limit must wait without spending one.
var (
	RateTyped = tasks.Define[Payload]("e2e.rate.typed",
		tasks.WithRateLimit(50, time.Second), tasks.WithMaxAttempts(1))
	RateKeyed = tasks.Define[Payload]("e2e.rate.keyed",
		tasks.WithKeyRateLimit(5, time.Second), tasks.WithMaxAttempts(1))
	RateFree = tasks.Define[Payload]("e2e.rate.free", tasks.WithMaxAttempts(1))
)
