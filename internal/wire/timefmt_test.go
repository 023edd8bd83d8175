package wire

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestFormatTimeIsTimeFormat(t *testing.T) {
	t.Parallel()
	east := time.FixedZone("east", 5*3600+30*60)
	times := []time.Time{
		time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 1, time.UTC),
		time.Date(2026, 12, 1, 3, 4, 5, 6, east), // written in UTC
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Now(),
	}
	for range 1000 {
		times = append(times, time.Unix(rand.Int64N(1<<35), rand.Int64N(1e9)))
	}
	for _, at := range times {
		got, want := FormatTime(at), at.UTC().Format(TimeFormat)
		if got != want {
			t.Fatalf("FormatTime(%v) = %q, want %q", at, got, want)
		}
		if at.Year() > 9999 {
			continue // RFC 3339 has four-digit years: nothing reads it back
		}
		back, err := ParseTime(got)
		if err != nil || !back.Equal(at) {
			t.Fatalf("ParseTime(%q) = %v, %v; want %v", got, back, err, at)
		}
	}
}

func TestParseTimeAgreesWithTimeParse(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"2026-12-01T07:05:01.123456789Z",
		"2024-02-29T00:00:00.000000000Z",
		"2023-02-29T00:00:00.000000000Z", // no such day
		"2026-13-01T00:00:00.000000000Z",
		"2026-04-31T00:00:00.000000000Z",
		"2026-12-01T24:00:00.000000000Z",
		"2026-12-01T07:60:00.000000000Z",
		"2026-12-01T07:05:60.000000000Z",
		"2026-12-01T07:05:0x.000000000Z",
		"2026-12-01T07:05:01.12345678xZ",
		"2026-12-01T07:05:01.123Z",       // other RFC 3339 forms go to time.Parse
		"2026-12-01T07:05:01+02:00",      //
		"2026-12-01T07:05:01.000000000z", //
		"",
		"yesterday",
	} {
		got, gotErr := ParseTime(s)
		want, wantErr := time.Parse(time.RFC3339Nano, s)
		if (gotErr == nil) != (wantErr == nil) || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; time.Parse says %v, %v", s, got, gotErr, want, wantErr)
		}
	}
}

func BenchmarkTime(b *testing.B) {
	at := time.Now()
	s := FormatTime(at)
	b.Run("FormatTime", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = FormatTime(at)
		}
	})
	b.Run("Format", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = at.UTC().Format(TimeFormat)
		}
	})
	b.Run("ParseTime", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = ParseTime(s)
		}
	})
	b.Run("time.Parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = time.Parse(time.RFC3339Nano, s)
		}
	})
}
