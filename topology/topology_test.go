package topology_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jetq/jetq/topology"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		topo topology.Topology
		want string // in the error; "" for none
	}{
		{topology.Topology{}, ""},
		{topology.Topology{Prefix: "billing-2", Replicas: 5, MaxTasks: 10, DedupWindow: time.Second, DeadLetterMaxAge: time.Hour, Memory: true}, ""},
		{topology.Topology{Prefix: "Billing"}, `prefix "Billing" must be one lower-case token`},
		{topology.Topology{Prefix: "a.b"}, `prefix "a.b"`},
		{topology.Topology{Prefix: strings.Repeat("a", 33)}, "at most 32 bytes"},
		{topology.Topology{Replicas: 6}, "replicas must be between 1 and 5, got 6"},
		{topology.Topology{Replicas: -1}, "replicas must be between 1 and 5, got -1"},
		{topology.Topology{MaxBytes: -1}, "queue limits must not be negative"},
		{topology.Topology{DedupWindow: -time.Second}, "durations must not be negative"},
		{topology.Topology{DeadLetterMaxAge: time.Minute}, "dead-letter max age must be at least 1h0m0s, got 1m0s"},
	} {
		err := tc.topo.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: got %v, want it valid", tc.topo, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "topology: ")):
			t.Errorf("%+v: got %v, want an error starting with topology: and saying %q", tc.topo, err, tc.want)
		}
	}
}
