package inspect

import (
	"errors"
	"testing"
	"time"

	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/wire"
)

// FuzzDeadLetterOf reads any message in the dead-letter stream as the inspector
// does: a record it cannot read is an error that says which record and
// wraps wire.ErrMalformed, and one it can read selects by its subject.
func FuzzDeadLetterOf(f *testing.F) {
	testkit.AddGoldenSeeds(f, "../internal/wire/testdata", "", uint64(42))
	names := wire.Names{}
	f.Fuzz(func(t *testing.T, b []byte, seq uint64) {
		subject, h, body, ok := testkit.ParseMessage(b)
		if !ok {
			return
		}
		e, err := deadLetterOf(names, dlRecord{seq: seq, subject: subject, stored: time.Now(), header: h, data: body})
		if err != nil {
			if !errors.Is(err, wire.ErrMalformed) {
				t.Errorf("error %v does not wrap wire.ErrMalformed", err)
			}
			return
		}
		if e.Seq != seq || e.Reason == "" {
			t.Errorf("entry %+v of record %d", e, seq)
		}
		if q, task, err := names.ParseDLQSubject(subject); err == nil && (e.Queue != q || e.Task != task) {
			t.Errorf("entry of queue %q, task %q on subject %q", e.Queue, e.Task, subject)
		}
		if !(DeadLetterFilter{Reason: e.Reason}).match(e) {
			t.Errorf("a filter on its own reason does not select %+v", e)
		}
	})
}
