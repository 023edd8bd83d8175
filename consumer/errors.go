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
	// ErrUnsupported is wrapped by the error [Worker.Run] returns when a
	// task it serves needs a feature the server lacks, such as a rate
	// limit on a server older than nats-server 2.12.
	ErrUnsupported = errors.New("consumer: not supported by this server")
)
