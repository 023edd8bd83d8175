package consumer

import "time"

// SetStaleMarkerAge sets the age past which a starting worker sweeps the
// presence markers of older releases, and returns a func restoring it.
func SetStaleMarkerAge(d time.Duration) (restore func()) {
	old := staleMarkerAge
	staleMarkerAge = d
	return func() { staleMarkerAge = old }
}
