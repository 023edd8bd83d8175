package dashboard

import (
	"slices"
	"testing"

	"github.com/jetq/jetq/inspect"
)

// TestGraphLayout lays out a DAG of four steps (a diamond: fetch, then
// resize and scan, then publish after both) by depth, and a record with a
// cycle or an unknown parent, which no workflow.Start writes, without
// looping.
func TestGraphLayout(t *testing.T) {
	t.Parallel()
	steps := []inspect.WorkflowStep{
		{Name: "fetch"}, {Name: "resize", Deps: []string{"fetch"}}, {Name: "scan", Deps: []string{"fetch"}},
		{Name: "publish", Deps: []string{"resize", "scan"}},
	}
	ds := depths(steps)
	if want := []int{0, 1, 1, 2}; !slices.Equal(ds, want) {
		t.Fatalf("depths: got %v, want %v", ds, want)
	}
	g := layout(steps, ds)
	if len(g.Nodes) != 4 || len(g.Edges) != 4 {
		t.Fatalf("graph: %d nodes, %d edges; want 4 and 4", len(g.Nodes), len(g.Edges))
	}
	fetch, resize, scan, publish := g.Nodes[0], g.Nodes[1], g.Nodes[2], g.Nodes[3]
	if !(fetch.X < resize.X && resize.X == scan.X && scan.X < publish.X && resize.Y < scan.Y) {
		t.Errorf("nodes not laid out by depth, in record order: %+v", g.Nodes)
	}
	if e := g.Edges[0]; e.X1 != fetch.X+nodeW || e.X2 != resize.X || e.Y2 != resize.Y+nodeH/2 {
		t.Errorf("edge fetch→resize: %+v", e)
	}
	if g.Width != 2*graphPad+3*nodeW+2*colGap || g.Height != 2*graphPad+2*nodeH+rowGap {
		t.Errorf("graph size %dx%d", g.Width, g.Height)
	}

	odd := []inspect.WorkflowStep{{Name: "a", Deps: []string{"b"}}, {Name: "b", Deps: []string{"a"}}, {Name: "c", Deps: []string{"gone"}}}
	if ds := depths(odd); len(ds) != 3 || ds[2] != 0 {
		t.Errorf("depths of a cycle and an unknown parent: %v", ds)
	}
}
