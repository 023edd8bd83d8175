// Package testkit holds the helpers jetq's own tests share: a logger that
// writes to the test's log, a poll with a deadline, a goroutine leak check,
// the finders of the binaries test.sh installs (nats-server of a version,
// chromium), and the reader of messages in the golden files' form that the
// fuzz targets use. It is for tests only. What runs a jetq component (a
// worker, a producer) is in package jetqtest, which imports them.
//
// # Binaries
//
// [NATSServer] and [Chromium] look where test.sh puts what it installs and
// fail the test, naming test.sh, when it is not there: no test installs,
// builds or skips on its own.
package testkit
