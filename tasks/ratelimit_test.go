package tasks_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jetq/jetq/tasks"
)

func TestRateLimitsOutOfRangeAreRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		opt  tasks.Option
		want string // in the error; "" for none
	}{
		{tasks.WithRateLimit(50, time.Second), ""},
		{tasks.WithKeyRateLimit(1, tasks.MaxRatePer), ""},
		{tasks.WithRateLimit(1, tasks.MinRatePer), ""},
		{tasks.WithRateLimit(0, time.Second), "the count must be at least 1"},
		{tasks.WithKeyRateLimit(-3, time.Second), "key rate limit: at most -3 starts"},
		{tasks.WithRateLimit(5, 0), "the interval must be from 10ms to 1h0m0s, got 0s"},
		{tasks.WithRateLimit(5, time.Millisecond), "got 1ms"},
		{tasks.WithKeyRateLimit(5, 2*time.Hour), "got 2h0m0s"},
	} {
		_, err := tasks.New[struct{}]("rate.check", c.opt)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("New: %v, want no error", err)
		case c.want != "" && (!errors.Is(err, tasks.ErrInvalidOption) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("New: got %v, want ErrInvalidOption saying %q", err, c.want)
		}
	}
}

func TestRateIsInTheSpec(t *testing.T) {
	t.Parallel()
	d := tasks.Define[struct{}]("rate.spec", tasks.WithRateLimit(50, time.Second), tasks.WithKeyRateLimit(5, time.Minute))
	s := d.Spec()
	if got, want := s.RateLimit.String()+" "+s.KeyRateLimit.String(), "50/1s 5/1m0s"; got != want {
		t.Errorf("spec rates: got %s, want %s", got, want)
	}
	if got := tasks.Define[struct{}]("rate.none").Spec().RateLimit.String(); got != "none" {
		t.Errorf("no rate limit: got %s, want none", got)
	}
}
