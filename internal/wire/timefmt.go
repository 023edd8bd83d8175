package wire

import "time"

// timeLen is the length of a time written by FormatTime.
const timeLen = len("2006-01-02T15:04:05.000000000Z")

// FormatTime writes t in UTC in [TimeFormat]; it is t.UTC().Format(TimeFormat),
// without the layout interpretation that makes Format several times slower,
// for the Jetq-Enqueued-At of every task. Years outside 0000-9999 go through
// Format.
func FormatTime(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(TimeFormat)
	}
	hour, minute, sec := t.Clock()
	var b [timeLen]byte
	digits(b[0:4], year)
	b[4] = '-'
	digits(b[5:7], int(month))
	b[7] = '-'
	digits(b[8:10], day)
	b[10] = 'T'
	digits(b[11:13], hour)
	b[13] = ':'
	digits(b[14:16], minute)
	b[16] = ':'
	digits(b[17:19], sec)
	b[19] = '.'
	digits(b[20:29], t.Nanosecond())
	b[29] = 'Z'
	return string(b[:])
}

// digits writes v in decimal into b, zero-padded to len(b).
func digits(b []byte, v int) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}

// ParseTime reads a time header: the form FormatTime writes directly, any
// other RFC 3339 time through [time.Parse].
func ParseTime(s string) (time.Time, error) {
	if len(s) == timeLen && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' &&
		s[16] == ':' && s[19] == '.' && s[29] == 'Z' {
		year, ok1 := number(s[0:4])
		month, ok2 := number(s[5:7])
		day, ok3 := number(s[8:10])
		hour, ok4 := number(s[11:13])
		minute, ok5 := number(s[14:16])
		sec, ok6 := number(s[17:19])
		nsec, ok7 := number(s[20:29])
		// time.Date normalises out-of-range fields; time.Parse refuses
		// them, and so do we, by handing such a string on to it.
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 &&
			month >= 1 && month <= 12 && day >= 1 && (day <= 28 || day <= daysIn(time.Month(month), year)) &&
			hour < 24 && minute < 60 && sec < 60 {
			return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), nil
		}
	}
	return time.Parse(time.RFC3339Nano, s)
}

// number reads the decimal digits of s.
func number(s string) (int, bool) {
	v, ok := parseUint(s)
	return int(v), ok
}

// daysIn is the number of days of month in year.
func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
