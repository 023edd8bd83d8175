// Package embedded runs a NATS server with JetStream inside the current
// process, for tests, laptops and single-binary deployments.
//
// # Starting a server
//
// [Start] returns a running [Server] once it accepts connections and
// JetStream is enabled. By default it opens no TCP listener, stores
// JetStream data in a new temporary directory that [Server.Shutdown]
// removes, discards the server's log and limits JetStream to 1 GiB of
// memory and 10 GiB of disk. The With* options change each of these;
// invalid options make Start fail with an error wrapping [ErrInvalidOption],
// and a taken port makes it fail, naming the port, before the server runs.
// A server on a [WithStoreDir] directory keeps one name across restarts
// (the file jetq.server_name in that directory), as a standalone
// nats-server taking over the same store should too.
//
// # Connecting
//
// [Server.Connect] returns a *nats.Conn: in-process (no socket) when the
// server has no listener, or TCP to [Server.ClientURL] when [WithListen] was
// given. Pass the connection to jetstream.New to use JetStream.
//
// # Logging
//
// [WithLogger] routes the server's log to a *slog.Logger: notices become
// Info, warnings Warn, errors and fatal errors Error, debug lines Debug.
// Server debug logging is switched on only when the handler is enabled for
// [slog.LevelDebug]; protocol tracing is never switched on.
//
// # Tests
//
// Package embeddedtest wraps Start for tests: one server per test with a
// t.TempDir() store and shutdown in t.Cleanup. See the package Example for
// a complete start, publish and read.
package embedded
