package dashboard

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/jetq/jetq/inspect"
)

// workflowView is the workflow page's data: the workflow, its steps with
// their depth, and the graph drawn from them.
type workflowView struct {
	inspect.WorkflowInfo
	Steps []stepView
	Graph graph
}

// stepView is one step of the workflow page.
type stepView struct {
	inspect.WorkflowStep
	// Depth is the step's column in the graph: 0 for a step that waits
	// for nothing, one more than its deepest parent for the others.
	Depth int
	// Problem is the step's reason and error, the reason once.
	Problem string
}

// problem is a failed step's reason and error, without the reason twice
// when the error starts with it.
func problem(s inspect.WorkflowStep) string {
	if s.Reason == "" || strings.HasPrefix(s.Error, s.Reason) {
		return s.Error
	}
	return strings.TrimSuffix(s.Reason+": "+s.Error, ": ")
}

// graph is a workflow's steps drawn as an inline SVG: a column a depth,
// a box a step, a line from each parent to its child.
type graph struct {
	Width, Height int
	Nodes         []graphNode
	Edges         []graphEdge
}

type graphNode struct {
	X, Y         int
	Name, State  string
	TaskID, Text string
}

type graphEdge struct{ X1, Y1, X2, Y2 int }

// The graph's layout, in SVG units.
const (
	nodeW, nodeH = 168, 40
	colGap       = 56
	rowGap       = 14
	graphPad     = 8
)

// depths are the steps' depths: 0 for a step without parents, else one
// more than its deepest parent's. A parent that is not a step, or a cycle
// (a record no workflow.Start writes), counts as depth 0, so that the
// page shows what the record holds.
func depths(steps []inspect.WorkflowStep) []int {
	index := make(map[string]int, len(steps))
	for i, s := range steps {
		index[s.Name] = i
	}
	out := make([]int, len(steps))
	state := make([]byte, len(steps)) // 0 new, 1 on the path, 2 done
	var visit func(i int) int
	visit = func(i int) int {
		switch state[i] {
		case 1:
			return -1 // a cycle
		case 2:
			return out[i]
		}
		state[i] = 1
		d := 0
		for _, p := range steps[i].Deps {
			if j, ok := index[p]; ok {
				d = max(d, visit(j)+1)
			}
		}
		state[i], out[i] = 2, d
		return d
	}
	for i := range steps {
		visit(i)
	}
	return out
}

// layout draws steps whose depths are ds: the columns by depth, the steps
// of a column in their order in the record.
func layout(steps []inspect.WorkflowStep, ds []int) graph {
	var g graph
	rows := map[int]int{} // steps placed in each column so far
	at := make(map[string]graphNode, len(steps))
	cols, most := 0, 0
	for i, s := range steps {
		d := ds[i]
		n := graphNode{X: graphPad + d*(nodeW+colGap), Y: graphPad + rows[d]*(nodeH+rowGap), Name: s.Name, State: s.State, TaskID: s.TaskID,
			Text: s.Name}
		if len(n.Text) > 22 {
			n.Text = n.Text[:21] + "…"
		}
		rows[d]++
		cols, most = max(cols, d+1), max(most, rows[d])
		at[s.Name] = n
		g.Nodes = append(g.Nodes, n)
	}
	for _, s := range steps {
		child := at[s.Name]
		for _, p := range s.Deps {
			if parent, ok := at[p]; ok {
				g.Edges = append(g.Edges, graphEdge{X1: parent.X + nodeW, Y1: parent.Y + nodeH/2, X2: child.X, Y2: child.Y + nodeH/2})
			}
		}
	}
	g.Width = 2*graphPad + cols*nodeW + max(cols-1, 0)*colGap
	g.Height = 2*graphPad + most*nodeH + max(most-1, 0)*rowGap
	return g
}

func (d *Dashboard) workflow(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.PathValue("id"))
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	wf, err := d.in.Workflow(ctx, id)
	if err != nil {
		d.fail(w, r, inspectCode(err), err)
		return
	}
	ds := depths(wf.Steps)
	v := workflowView{WorkflowInfo: wf, Steps: make([]stepView, len(wf.Steps)), Graph: layout(wf.Steps, ds)}
	for i, s := range wf.Steps {
		v.Steps[i] = stepView{WorkflowStep: s, Depth: ds[i], Problem: problem(s)}
	}
	title := "Workflow " + wf.ID
	if wf.Name != "" {
		title += " (" + wf.Name + ")"
	}
	d.render(w, r, http.StatusOK, "workflow", title, v)
}

// findWorkflow answers the workflow form: the page of the ID it names.
func (d *Dashboard) findWorkflow(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.URL.Query().Get("id"))
	if id == "" {
		d.render(w, r, http.StatusOK, "workflow", "Find a workflow", (*workflowView)(nil))
		return
	}
	http.Redirect(w, r, d.path(workflowPath(id)), http.StatusSeeOther)
}

// workflowPath is the path of workflow id's page.
func workflowPath(id string) string { return "/workflow/" + url.PathEscape(id) }

// cancelWorkflow cancels the workflow of the request's path and goes back
// to its page, saying how many steps will not run.
func (d *Dashboard) cancelWorkflow(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.PathValue("id"))
	ctx, cancel := d.reqCtx(r)
	defer cancel()
	n, err := d.in.CancelWorkflow(ctx, id)
	if err != nil {
		d.fail(w, r, inspectCode(err), err)
		return
	}
	d.cfg.log.LogAttrs(r.Context(), slog.LevelInfo, "jetq dashboard: workflow cancelled", slog.String("id", id),
		slog.Int("steps", n), slog.String("remote", r.RemoteAddr))
	http.Redirect(w, r, d.path(workflowPath(id)+"?done="+doneWorkflowCancelled+"&n="+strconv.Itoa(n)), http.StatusSeeOther)
}

// doneWorkflowCancelled is the flash of a workflow cancelled.
const doneWorkflowCancelled = "workflow-cancelled"

// workflowFlash is the message of a workflow cancelled with n steps.
func workflowFlash(n uint64) string {
	return fmt.Sprintf("Workflow cancelled: %d %s will not run.", n, plural(n, "step", "steps"))
}
