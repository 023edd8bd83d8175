package schedule_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/schedule"
)

func TestJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 2, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    any
		want string
	}{
		{inspect.PeriodicTask{
			Periodic: schedule.Periodic{Name: "reports.nightly", Schedule: "0 30 2 * * *", TimeZone: "Europe/Berlin", StaleAfter: time.Second},
			Task:     "report.build", Queue: "reports", Next: at, DeclaredAt: at,
		}, `{"name":"reports.nightly","schedule":"0 30 2 * * *","time_zone":"Europe/Berlin","stale_after":1000000000,` +
			`"task":"report.build","queue":"reports","next":"2026-12-02T02:30:00Z","declared_at":"2026-12-02T02:30:00Z"}`},
		{schedule.Periodic{Name: "cache.sweep", Schedule: "@every 1m"},
			`{"name":"cache.sweep","schedule":"@every 1m","time_zone":""}`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("json.Marshal(%T) =\n%s\nwant\n%s", tc.v, b, tc.want)
		}
	}
}
