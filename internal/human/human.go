package human

import (
	"fmt"
	"strconv"
	"time"
)

// Age writes d briefly: 42s, 3m12s, 5h3m, 2d4h; "-" for none. The
// dashboard's script writes ages the same way.
func Age(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", d/time.Minute, d%time.Minute/time.Second)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
}

// Wait writes a wait time briefly, to two digits, which is what a wait
// read from a histogram holds: 420µs, 4.2ms, 120ms, 1.4s, 42s, then as
// [Age]; "-" for none. The dashboard's script writes waits the same way.
func Wait(d time.Duration) string {
	two := func(v float64, unit string) string {
		if v < 10 {
			return strconv.FormatFloat(v, 'f', 1, 64) + unit
		}
		return strconv.Itoa(int(v)) + unit
	}
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return strconv.Itoa(int(d/time.Microsecond)) + "µs"
	case d < time.Second:
		return two(float64(d)/float64(time.Millisecond), "ms")
	case d < time.Minute:
		return two(d.Seconds(), "s")
	}
	return Age(d)
}

// Bytes writes a size briefly, to two digits above a kilobyte: 512 B,
// 4.2 KiB, 120 KiB, 1.4 MiB; "-" for none.
func Bytes(n int) string {
	const unit = 1024
	if n <= 0 {
		return "-"
	}
	if n < unit {
		return strconv.Itoa(n) + " B"
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 1, 64) + " " + suffix
	}
	return strconv.Itoa(int(v)) + " " + suffix
}
