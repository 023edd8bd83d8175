package dashboard

import (
	"sync"
	"time"

	"github.com/jetq/jetq/inspect"
)

// historyLength is how far back the overview's chart goes.
const historyLength = 5 * time.Minute

// minSampleGap is the shortest time between two samples: refreshes
// closer together share one.
const minSampleGap = time.Second

// Rate is one point of the overview's chart: tasks per second since the
// sample before.
type Rate struct {
	At           time.Time `json:"at"`
	Processed    float64   `json:"processed"`
	Failed       float64   `json:"failed"`
	DeadLettered float64   `json:"dead_lettered"`
}

// history turns the counters of successive reads into rates. The workers
// count what they settled since they started, so a rate is the sum of
// each worker's growth, a worker new since the last sample counting
// whole if it started after it. The dead-lettered rate is the growth of
// the dead-letter stream's last sequence, which counts the records filed
// by workers and forwarders alike and which replays, purges and expiry
// leave as it is.
type history struct {
	mu    sync.Mutex
	last  sample
	rates []Rate
}

type sample struct {
	at      time.Time
	workers map[string]counted
	filed   uint64
}

type counted struct {
	started           time.Time
	processed, failed uint64
}

// add notes a read of the workers and of the records filed at now and
// returns the rates of the last historyLength.
func (h *history) add(now time.Time, ws []inspect.Worker, filed uint64) []Rate {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.last.at.IsZero() && now.Sub(h.last.at) < minSampleGap {
		return h.copyRates()
	}
	s := sample{at: now, workers: make(map[string]counted, len(ws)), filed: filed}
	for _, w := range ws {
		c := counted{started: w.StartedAt, failed: w.Failed}
		for _, t := range w.Tasks {
			c.processed += t.Succeeded + t.Failed + t.Expired
		}
		s.workers[w.ID] = c
	}
	if prev := h.last; !prev.at.IsZero() {
		secs := now.Sub(prev.at).Seconds()
		var processed, failed uint64
		for id, c := range s.workers {
			p, seen := prev.workers[id]
			switch {
			case seen:
				processed += c.processed - min(c.processed, p.processed)
				failed += c.failed - min(c.failed, p.failed)
			case c.started.After(prev.at):
				processed += c.processed
				failed += c.failed
			}
		}
		dead := s.filed - min(s.filed, prev.filed) // a recreated stream starts again
		h.rates = append(h.rates, Rate{At: now, Processed: float64(processed) / secs,
			Failed: float64(failed) / secs, DeadLettered: float64(dead) / secs})
		for len(h.rates) > 0 && now.Sub(h.rates[0].At) > historyLength {
			h.rates = h.rates[1:]
		}
	}
	h.last = s
	return h.copyRates()
}

func (h *history) copyRates() []Rate {
	return append([]Rate(nil), h.rates...)
}
