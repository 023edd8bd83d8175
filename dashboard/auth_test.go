package dashboard

import (
	"testing"
	"time"
)

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/dlq/3":                "/dlq/3",
		"/dlq?task=a%2Fb&n=1":   "/dlq?task=a%2Fb&n=1",
		"":                      "/",
		"dlq":                   "/",
		"//evil.example/x":      "/",
		"/\\evil.example":       "/",
		"/\t/evil.example":      "/",
		"/\n/evil.example":      "/",
		"/%09/evil.example":     "/%09/evil.example", // stays a path: browsers do not decode it
		"https://evil.example/": "/",
		"/./\t/evil.example":    "/",
		"/ /evil.example":       "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSession(t *testing.T) {
	d := &Dashboard{cfg: config{token: "0123456789abcdef-one", actions: true}}
	other := &Dashboard{cfg: config{token: "0123456789abcdef-two", actions: true}}
	now := time.Now()
	s := d.session(now)
	switch {
	case !d.validSession(s, now.Add(time.Hour)):
		t.Error("a fresh session is refused")
	case d.validSession(s, now.Add(sessionLife+time.Minute)):
		t.Error("a session older than its life is accepted")
	case other.validSession(s, now):
		t.Error("a session of another token is accepted")
	case d.validSession(s[:len(s)-1]+"0", now) && d.validSession(s[:len(s)-1]+"1", now):
		t.Error("a changed session is accepted")
	case d.validSession(d.session(now.Add(time.Hour)), now):
		t.Error("a session from the future is accepted")
	case d.validSession("garbage", now), d.validSession("", now):
		t.Error("garbage is accepted")
	}
}
