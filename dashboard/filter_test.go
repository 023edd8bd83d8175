package dashboard

import (
	"net/url"
	"testing"
	"time"
)

// TestFilterRoundTrip reads a filter from a form, writes it as the next
// page's query and reads it again: the same filter.
func TestFilterRoundTrip(t *testing.T) {
	for _, form := range []url.Values{
		{"task": {"default/mail.send"}, "reason": {"timeout"}, "since": {"2026-01-01T15:04"}, "until": {"2026-01-01T15:04"}},
		{"task": {"mail.send"}, "since": {"2026-01-01T15:04:05"}, "until": {"2026-01-01T15:04:05"}},
		{"queue": {"billing"}, "since": {"2026-01-01T15:04:05.123456789Z"}, "until": {"2026-01-01T16:00:00+01:00"}},
	} {
		f, err := filterOf(form)
		if err != nil {
			t.Fatal(err)
		}
		g, err := filterOf(filterQuery(f))
		if err != nil {
			t.Fatal(err)
		}
		if !f.Since.Equal(g.Since) || !f.Until.Equal(g.Until) || f.Task != g.Task || f.Queue != g.Queue || f.Reason != g.Reason {
			t.Errorf("%v: %+v, then %+v", form, f, g)
		}
	}
	f, _ := filterOf(url.Values{"until": {"2026-01-01T15:04"}})
	if want := time.Date(2026, 1, 1, 15, 4, 59, 999999999, time.UTC); !f.Until.Equal(want) {
		t.Errorf("until to the minute: %v, want %v", f.Until, want)
	}
}
