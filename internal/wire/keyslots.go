package wire

import (
	"encoding/base64"
	"strconv"
	"strings"
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
	return KeySlotsOf(spec.Queue, spec.Name) + k
}

// KeySlot is the key of place slot among those of prefix ([KeySlots]).
func KeySlot(prefix string, slot int) string { return prefix + "." + strconv.Itoa(slot) }

// KeySlotsOf is the prefix of every key of the places of the task type
// name on queue, "<queue>.<name>.", which [ParseKeySlot] reads keys under.
func KeySlotsOf(queue, name string) string { return queue + "." + name + "." }

// ParseKeySlot reads bucket key name, a place of a task of the task type
// whose places are under typePrefix ([KeySlotsOf]): the task key (empty
// for tasks without one) and the place's number. ok is false for a name
// that is not such a place.
func ParseKeySlot(typePrefix, name string) (key string, slot int, ok bool) {
	rest, ok := strings.CutPrefix(name, typePrefix)
	if !ok {
		return "", 0, false
	}
	k, n, ok := strings.Cut(rest, ".")
	if !ok {
		return "", 0, false
	}
	slot, err := strconv.Atoi(n)
	if err != nil || slot < 0 || strconv.Itoa(slot) != n {
		return "", 0, false
	}
	switch {
	case k == "n":
		return "", slot, true
	case len(k) > 1 && k[0] == 'k':
		b, err := base64.RawURLEncoding.DecodeString(k[1:])
		if err != nil {
			return "", 0, false
		}
		return string(b), slot, true
	}
	return "", 0, false
}
