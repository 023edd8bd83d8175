package consumer

import "errors"

var (
	// ErrInvalidOption is wrapped by errors about options given to [New].
	ErrInvalidOption = errors.New("consumer: invalid option")
	// ErrNoHandlers is returned by [New] when the registry has no task the
	// worker would serve.
	ErrNoHandlers = errors.New("consumer: no handlers to run")
	// ErrRunning is returned by [Worker.Run] when the worker already runs or
	// has stopped; a Worker runs once.
	ErrRunning = errors.New("consumer: worker already started")
	// ErrConnectionClosed is returned by [Worker.Run] when the NATS connection
	// was closed under it: the worker cannot recover from that by itself.
	ErrConnectionClosed = errors.New("consumer: connection closed")
)
