package consumer

import "time"

// SetStaleMarkerAge sets the age past which a starting worker sweeps the
// presence markers of older releases, and returns a func restoring it.
func SetStaleMarkerAge(d time.Duration) (restore func()) {
	old := staleMarkerAge
	staleMarkerAge = d
	return func() { staleMarkerAge = old }
}

// Held reports the deliveries in w's hands and the handlers running, for
// tests that sample what a worker holds.
func Held(w *Worker) (held, running int) { return w.held() }

// HeldOf reports the deliveries of task in w's hands: queued for a runner,
// running, or being settled.
func HeldOf(w *Worker, task string) int {
	n := 0
	for _, j := range w.hand.all() {
		if j.route.spec.Name == task {
			n++
		}
	}
	return n
}

// SetAfterFollow makes f run once a settlement's follow-ups have run and
// before the task is settled with the server (see afterFollow).
func SetAfterFollow(f func()) { afterFollow = f }

// SetAfterSnooze makes f run, with the task's ID, once a snoozed task's
// copy is stored and before its original is acknowledged (see afterSnooze);
// nil removes it.
func SetAfterSnooze(f func(id string)) {
	if f == nil {
		afterSnooze.Store(nil)
		return
	}
	afterSnooze.Store(&f)
}

// A move the lifecycle table refuses is a bug: in the package's tests it
// panics, so that no test passes over one (lifecycle.go).
func init() { panicOnFault.Store(true) }

// SetPullSubscribed makes f run between a pull's subscription and the
// setting of its closed handler (see pullSubscribed); nil removes it.
func SetPullSubscribed(f func()) {
	if f == nil {
		pullSubscribed.Store(nil)
		return
	}
	pullSubscribed.Store(&f)
}

// PausedNow reports whether w's watch of the pause records has the task
// type (queue, task) paused now.
func PausedNow(w *Worker, queue, task string) bool {
	for _, r := range w.routes {
		if r.spec.Queue == queue && r.spec.Name == task {
			return w.pausedNow(r)
		}
	}
	return false
}
