package wire

import (
	"encoding/base64"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// KeySlotsBucket is the key-value bucket of the places taken by running
// tasks of types with a concurrency per key (tasks.WithKeyConcurrency),
// "JETQ_KEYSLOTS" (see [KeySlotsBucketConfig]).
func (n Names) KeySlotsBucket() string { return n.stream("KEYSLOTS") }

// KeySlotSubject is the subject of key in the key-slots bucket, written
// directly when a worker renews a place, so that the write carries the
// place's TTL and the revision it expects.
func (n Names) KeySlotSubject(key string) string {
	return "$KV." + n.KeySlotsBucket() + "." + key
}

// KeySlotsBucketConfig is the configuration of t's bucket of key places:
// one entry per running task of a type with a concurrency per key, made
// with compare-and-set and a per-key TTL (server 2.11) that bounds how
// long a dead worker's place outlives it.
func KeySlotsBucketConfig(t topology.Topology) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:         NamesOf(t).KeySlotsBucket(),
		Description:    "jetq places of running tasks of types with a concurrency per key",
		History:        1,
		Storage:        storage(t),
		Replicas:       replicas(t),
		LimitMarkerTTL: time.Second,
	}
}

// KeySlots is the prefix of the keys of the places of the task key of
// spec's tasks: "<queue>.<name>.k<key in unpadded base64url>", and "n" in
// place of the key for tasks without one, which share one count.
func KeySlots(spec tasks.Spec, key string) string {
	k := "n"
	if key != "" {
		k = "k" + base64.RawURLEncoding.EncodeToString([]byte(key))
	}
	return spec.Queue + "." + spec.Name + "." + k
}

// KeySlot is the key of place slot among those of prefix ([KeySlots]).
func KeySlot(prefix string, slot int) string { return prefix + "." + strconv.Itoa(slot) }
