// Package jetqtest runs the jetq components that tests of other packages
// need beside the one under test: a worker of a registry on an embedded
// server, and a producer, each logging to the test. It is for tests only.
//
// It imports consumer and producer, so the tests of those packages use it
// from their external test packages (package consumer_test); the helpers
// that need no jetq component live in package testkit.
//
// # Workers
//
// [StartWorker] runs a worker on a connection of its own, as a separate
// process would; [StartWorkerOn] runs one on a connection the test has. The
// worker runs until the test ends, or until [Worker.Stop], and the test
// fails if Run returned an error that the test did not take from
// [Worker.Wait] or [Worker.Stop] (or expect, with [Worker.Kill]).
package jetqtest
