package human

import (
	"testing"
	"time"
)

func TestAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "-", -time.Second: "-", 42 * time.Second: "42s", 3*time.Minute + 12*time.Second: "3m12s",
		5*time.Hour + 3*time.Minute: "5h3m", 52 * time.Hour: "2d4h",
	} {
		if got := Age(d); got != want {
			t.Errorf("Age(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestWait(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "-", 420 * time.Microsecond: "420µs", 4200 * time.Microsecond: "4.2ms", 120 * time.Millisecond: "120ms",
		1400 * time.Millisecond: "1.4s", 42 * time.Second: "42s", 3*time.Minute + 12*time.Second: "3m12s",
	} {
		if got := Wait(d); got != want {
			t.Errorf("Wait(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int]string{
		0: "-", -1: "-", 512: "512 B", 1023: "1023 B", 1024: "1.0 KiB", 4300: "4.2 KiB", 120 * 1024: "120 KiB",
		1468006: "1.4 MiB", 3 << 30: "3.0 GiB",
	} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
