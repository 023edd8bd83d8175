package wire_test

import (
	"testing"

	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

func TestParseKeySlotReadsWhatKeySlotWrites(t *testing.T) {
	spec := tasks.Define[struct{}]("import.run", tasks.WithQueue("bulk"), tasks.WithKeyConcurrency(2)).Spec()
	prefix := wire.KeySlotsOf("bulk", "import.run")
	for _, key := range []string{"", "tenant-1", "a.b c/é", string(make([]byte, tasks.MaxKeyLen))} {
		for _, slot := range []int{0, 1, 63} {
			name := wire.KeySlot(wire.KeySlots(spec, key), slot)
			k, s, ok := wire.ParseKeySlot(prefix, name)
			if !ok || k != key || s != slot {
				t.Errorf("ParseKeySlot(%q) = %q, %d, %v; want %q, %d", name, k, s, ok, key, slot)
			}
		}
	}
	for _, name := range []string{
		"bulk.import.run", "bulk.import.run.n", "bulk.import.run.n.x", "bulk.import.run.n.-1", "bulk.import.run.n.01",
		"bulk.import.run.k.0", "bulk.import.run.k!!.0", "bulk.import.run.x.0", "bulk.import.run.n.0.1",
		"other.import.run.n.0", "bulk.import.runs.n.0",
	} {
		if k, s, ok := wire.ParseKeySlot(prefix, name); ok {
			t.Errorf("ParseKeySlot(%q) = %q, %d, true; want not a place", name, k, s)
		}
	}
}
