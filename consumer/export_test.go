package consumer

// Held reports the deliveries in w's hands and the handlers running, for
// tests that sample what a worker holds.
func Held(w *Worker) (held, running int) { return w.held() }
