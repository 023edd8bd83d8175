package wire

import "time"

// FormatTime writes t in UTC in [TimeFormat].
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// ParseTime reads a time header: RFC 3339, nanoseconds optional.
func ParseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }
