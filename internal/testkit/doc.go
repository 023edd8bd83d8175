// Package testkit holds the helpers jetq's own tests share: a logger that
// writes to the test's log, and a poll with a deadline. It is for tests
// only.
package testkit
