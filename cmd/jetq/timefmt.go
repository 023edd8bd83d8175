package main

import "time"

// timeLayout is the one way jetq prints a time: RFC 3339 in UTC, such as
// 2026-12-07T09:01:00Z. It sorts as text, reads the same on every machine
// and parses back with --since, --until, --at and --deadline.
const timeLayout = time.RFC3339

// formatTime prints t as timeLayout in UTC.
func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }
