package wire

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/topology"
)

// CancelWindow is how long a cancel record is kept: a cancelled task that
// a worker picks up within it is settled as cancelled, unrun. A queued
// task is also deleted from the work stream when it is cancelled, and a
// running one ends within moments; the window covers a delivered task
// that waits out a retry backoff, or a worker that is down, for a week.
const CancelWindow = 7 * 24 * time.Hour

// CancelBucket is the key-value bucket of cancel records, "JETQ_CANCELS".
func (n Names) CancelBucket() string { return n.stream("CANCELS") }

// CancelKey is the key of the cancel record of task id of queue and task
// name: "<id in unpadded base64url>.<queue>.<name>", so that any ID makes
// a valid key, a task's record is found by its ID alone
// ([CancelKeyFilter]), and the key says the task's type.
func CancelKey(queue, name, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(id)) + "." + queue + "." + name
}

// CancelKeyFilter is the filter of the keys of task id's cancel records.
func CancelKeyFilter(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(id)) + ".>"
}

// CancelKeyType is the queue and task name of a key made by [CancelKey].
func CancelKeyType(key string) (queue, name string, ok bool) {
	_, rest, ok := strings.Cut(key, ".")
	if !ok {
		return "", "", false
	}
	queue, name, ok = strings.Cut(rest, ".")
	return queue, name, ok && queue != "" && name != ""
}

// CancelBucketConfig is the configuration of t's bucket of cancel records:
// one key per cancelled task, kept for [CancelWindow]. Every worker
// watches it.
func CancelBucketConfig(t topology.Topology) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      NamesOf(t).CancelBucket(),
		Description: "jetq cancelled tasks: a worker settles them as cancelled, unrun, or cancels their running handler",
		History:     1,
		TTL:         CancelWindow,
		Storage:     storage(t),
		Replicas:    replicas(t),
	}
}

// Cancel is the value of a cancel record. The JSON field names are
// snake_case.
type Cancel struct {
	ID    string    `json:"id"`
	Queue string    `json:"queue"`
	Task  string    `json:"task"`
	At    time.Time `json:"at"`
}

// Encode returns c as a record's value.
func (c Cancel) Encode() []byte {
	b, _ := json.Marshal(c) // a struct of strings and a time: cannot fail
	return b
}

// DecodeCancel reads a cancel record's value.
func DecodeCancel(b []byte) (Cancel, error) {
	var c Cancel
	if err := json.Unmarshal(b, &c); err != nil {
		return Cancel{}, fmt.Errorf("cancel record: %w", err)
	}
	if c.ID == "" {
		return Cancel{}, fmt.Errorf("cancel record %q has no task ID", b)
	}
	return c, nil
}
