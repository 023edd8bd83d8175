package tracing

import (
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
)

// maxCachedSets bounds a setCache. Its keys are low-cardinality by design
// (task types × outcomes × error types); the bound only guards against a
// misbehaving error.type.
const maxCachedSets = 4096

// setCache keeps the attribute sets of metric points by what they are made
// of, so that recording a point does not build and sort a set each time.
// It is safe for concurrent use.
type setCache struct {
	m sync.Map // setKey → attribute.Set
	n atomic.Int64
}

// setKey is what a metric point's attributes are made of: the task type and
// the point's own attributes, if any.
type setKey struct {
	subject, task, queue, consumer string
	extra                          [2]attribute.KeyValue
}

// get returns the set for k: its task type's attributes, base, and k.extra.
func (c *setCache) get(k setKey, base func(setKey) []attribute.KeyValue) attribute.Set {
	if s, ok := c.m.Load(k); ok {
		return s.(attribute.Set)
	}
	attrs := base(k)
	for _, kv := range k.extra {
		if kv.Valid() {
			attrs = append(attrs, kv)
		}
	}
	s := attribute.NewSet(attrs...)
	if c.n.Load() < maxCachedSets {
		if _, loaded := c.m.LoadOrStore(k, s); !loaded {
			c.n.Add(1)
		}
	}
	return s
}
