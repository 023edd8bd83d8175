package main

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"
)

// FuzzParseDuration reads any --since, --until or --for value: a duration it
// accepts is exact (days and weeks counted as 24 h and 7 d), has the sign it
// was given, and is what time.ParseDuration says where that reads it.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"7d", "1d12h", "2w", "1w2d3h4m", "1.5d", "90m", "2h", "0", "-1d", "12h1d", "500ms",
		"", "d", "7", "7x", "yesterday", "1..5d", "-", "99999999999w", "2026-01-02T00:00:00Z",
		"106751d23h47m16.854775807s", "-2562047h47m16.854775808s", "+1d", "1e3d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDuration(s)
		if err != nil {
			if !strings.Contains(err.Error(), "invalid duration") {
				t.Errorf("error %q does not say what it is about", err)
			}
			return
		}
		if want, err := time.ParseDuration(s); err == nil && want != d {
			t.Errorf("parseDuration(%q) = %v, time.ParseDuration says %v", s, d, want)
		}
		neg := strings.HasPrefix(s, "-")
		if d != 0 && (d < 0) != neg {
			t.Errorf("parseDuration(%q) = %v: the sign flipped", s, d)
		}
		if want, ok := exactDuration(s); ok && big.NewInt(int64(d)).Cmp(want) != 0 {
			t.Errorf("parseDuration(%q) = %v, want %v ns", s, d, want)
		}
	})
}

// exactDuration is s in nanoseconds, counted in exact arithmetic for the
// plain forms "<integer>d" and "<integer>w".
func exactDuration(s string) (*big.Int, bool) {
	num, unit := s[:len(s)-1], s[len(s)-1:]
	n, ok := new(big.Int).SetString(strings.TrimPrefix(num, "+"), 10)
	if !ok || (unit != "d" && unit != "w") || strings.HasPrefix(num, "-") {
		return nil, false
	}
	days := map[string]int64{"d": 1, "w": 7}[unit]
	return n.Mul(n, big.NewInt(days*int64(24*time.Hour))), true
}

// FuzzFilterFlags reads any dlq filter flags: a bad one is a usage error
// that names its flag, a good --since or --until is a moment no later than
// now.
func FuzzFilterFlags(f *testing.F) {
	f.Add("email.send", "critical", "permanent", "7d", "1h")
	f.Add("", "", "max_attempts", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00+01:00")
	f.Add("x", "default", "nope", "1d12h", "")
	f.Add("", "", "", "-2w", "yesterday")
	f.Fuzz(func(t *testing.T, task, queue, reason, since, until string) {
		ff := filterFlags{task: task, queue: queue, reason: reason, since: since, until: until}
		fl, err := ff.filter()
		now := time.Now()
		if err != nil {
			var u usageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), "--since") && !strings.Contains(err.Error(), "--until") {
				t.Errorf("error %v is not a usage error naming its flag", err)
			}
			return
		}
		if fl.Task != task || fl.Queue != queue || string(fl.Reason) != reason {
			t.Errorf("filter %+v from %+v", fl, ff)
		}
		for flag, at := range map[string]time.Time{since: fl.Since, until: fl.Until} {
			d, err := parseDuration(flag)
			if err != nil || d < 0 || d == math.MaxInt64 {
				continue
			}
			if at.After(now) {
				t.Errorf("%q ago read as %v, after now (%v)", flag, at, now)
			}
		}
	})
}
