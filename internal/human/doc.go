// Package human writes durations briefly, as the command line and the
// dashboard show them.
package human
