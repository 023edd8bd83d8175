// Package embeddedtest gives each test its own embedded NATS server with
// JetStream, for integration tests that need no external server.
//
// # Usage
//
//	func TestCharge(t *testing.T) {
//		t.Parallel()
//		js := embeddedtest.JetStream(t)
//		// create streams and run the code under test against js
//	}
//
// [Server] starts a server with a t.TempDir() store and shuts it down in
// t.Cleanup. [JetStream] also opens a connection, closed before the server
// shuts down. [Connect] opens further connections to the same server, for
// example one per simulated process.
//
// # Failures
//
// The helpers call t.Fatal when the server cannot start or a connection
// cannot be opened, so they must be called from the test's goroutine.
// Options are those of package embedded; a [embedded.WithStoreDir] given by
// the caller replaces the t.TempDir() default.
package embeddedtest
