package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// parseDuration is time.ParseDuration with two more units: d, a day of 24
// hours, and w, a week of 7 days. They combine with the others in any order,
// as in "7d", "1d12h", "2w" or "1.5d"; a leading sign applies to the whole.
func parseDuration(s string) (time.Duration, error) {
	orig := s
	bad := func() (time.Duration, error) {
		return 0, fmt.Errorf("invalid duration %q", orig)
	}
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return bad()
	}
	if s == "0" {
		return 0, nil
	}
	// Split into number+unit terms; days and weeks are summed here, the rest
	// is left to time.ParseDuration.
	var days float64
	var rest strings.Builder
	for s != "" {
		i := 0
		for i < len(s) && (s[i] == '.' || s[i] >= '0' && s[i] <= '9') {
			i++
		}
		j := i
		for j < len(s) && s[j] != '.' && (s[j] < '0' || s[j] > '9') {
			j++
		}
		num, unit := s[:i], s[i:j]
		if num == "" || unit == "" {
			return bad()
		}
		switch unit {
		case "d", "w":
			n, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return bad()
			}
			if unit == "w" {
				n *= 7
			}
			days += n
		default:
			rest.WriteString(num + unit)
		}
		s = s[j:]
	}
	d := time.Duration(0)
	if rest.Len() > 0 {
		var err error
		if d, err = time.ParseDuration(rest.String()); err != nil {
			return bad()
		}
	}
	// Checked in integers: near 2^63 a float64 sum rounds past the limit
	// and the conversion wraps to a negative duration.
	dayPart := math.Round(days * float64(24*time.Hour))
	if dayPart >= math.MaxInt64 || d > math.MaxInt64-time.Duration(dayPart) {
		return 0, fmt.Errorf("invalid duration %q: too long", orig)
	}
	d += time.Duration(dayPart)
	if neg {
		d = -d
	}
	return d, nil
}
