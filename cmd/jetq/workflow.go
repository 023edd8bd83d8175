package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/human"
)

// newWorkflowCmd is the workflow command: a workflow's steps, and its
// cancellation.
func newWorkflowCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workflow",
		Short: "Show a workflow's steps and their states, or cancel a workflow",
	}
	cmd.AddCommand(newWorkflowShow(g), newWorkflowCancel(g))
	return cmd
}

func newWorkflowShow(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show <workflow ID>",
		Short: "Show a workflow and each step's state, attempts, result size and error",
		Long: "show prints a workflow (workflow.Start's Run.ID) and a table of its steps in the order they\n" +
			"were declared: name, task type, state, attempts, the size of the result, the steps it waits\n" +
			"for, and the error of a step that failed. A step's state is its task's (queued, running,\n" +
			"retrying, done, dead_lettered, expired, cancelled), or waiting (a parent has not succeeded\n" +
			"yet) or unreachable (a parent failed for good; replaying it from the dead-letter stream\n" +
			"resumes the workflow). TASK ID names the step's task for `jetq task show`.\n\n" +
			"With --json it prints the workflow as one object: id, name, state, created_at, updated_at\n" +
			"and steps, each with name, task, queue, task_id, deps, state, attempts, result_size,\n" +
			"reason, error, started_at and finished_at.",
		Example: "  jetq workflow show report-2026-12-07\n  jetq workflow show report-2026-12-07 --json",
		Args:    exactArgs("<workflow ID>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := workflowID(args[0])
			if err != nil {
				return err
			}
			return g.inspect(cmd, func(ctx context.Context, in *inspect.Inspector) error {
				w, err := in.Workflow(ctx, id)
				if err != nil {
					return workflowErr(id, err)
				}
				if g.json {
					return g.printJSON(w)
				}
				return g.printWorkflow(w)
			})
		},
	}
}

// printWorkflow writes w: a line on the workflow, then its steps' table.
func (g *globals) printWorkflow(w inspect.WorkflowInfo) error {
	fmt.Fprintf(g.stdout, "workflow %s", w.ID)
	if w.Name != "" {
		fmt.Fprintf(g.stdout, " (%s)", w.Name)
	}
	fmt.Fprintf(g.stdout, ": %s, %s\n", w.State, stepCounts(w.Steps))
	fmt.Fprintf(g.stdout, "created %s", timeOrDash(w.CreatedAt))
	if !w.UpdatedAt.IsZero() {
		fmt.Fprintf(g.stdout, ", updated %s", timeOrDash(w.UpdatedAt))
	}
	fmt.Fprintln(g.stdout)
	fmt.Fprintln(g.stdout)
	header := []string{"STEP", "TASK", "STATE", "ATTEMPTS", "RESULT", "AFTER", "TASK ID", "ERROR"}
	rows := make([][]string, len(w.Steps))
	for i, s := range w.Steps {
		errText := s.Error
		if s.Reason != "" && !strings.HasPrefix(s.Error, s.Reason) {
			errText = strings.TrimSuffix(s.Reason+": "+s.Error, ": ")
		}
		rows[i] = []string{s.Name, s.Task, s.State, orDash(s.Attempts), human.Bytes(s.ResultSize), orNone(strings.Join(s.Deps, ",")),
			orNone(s.TaskID), orNone(shorten(errText, 60))}
	}
	return g.table(header, rows)
}

// stepCounts says how many steps stand in each state, in the order the
// states first appear: "5 steps: 3 done, 1 running, 1 waiting".
func stepCounts(steps []inspect.WorkflowStep) string {
	var order []string
	n := map[string]int{}
	for _, s := range steps {
		if n[s.State] == 0 {
			order = append(order, s.State)
		}
		n[s.State]++
	}
	parts := make([]string, len(order))
	for i, st := range order {
		parts[i] = strconv.Itoa(n[st]) + " " + st
	}
	return fmt.Sprintf("%d step(s): %s", len(steps), strings.Join(parts, ", "))
}

func newWorkflowCancel(g *globals) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "cancel <workflow ID>",
		Short: "Cancel a running or failed workflow: its steps not run yet never will",
		Long: "cancel shows the workflow's steps, asks, and cancels it: its steps not enqueued yet are\n" +
			"never enqueued, its queued steps are dropped unrun when a worker takes them (their status\n" +
			"reads cancelled), and its running steps finish. A failed workflow can be cancelled, so that\n" +
			"replaying its failed step does not resume it; one that succeeded or was cancelled before is\n" +
			"refused, and nothing changes. It asks on a terminal; --yes confirms without asking, as a script must.",
		Example: "  jetq workflow cancel report-2026-12-07\n  jetq workflow cancel report-2026-12-07 --yes",
		Args:    exactArgs("<workflow ID>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := workflowID(args[0])
			if err != nil {
				return err
			}
			return g.inspect(cmd, func(ctx context.Context, in *inspect.Inspector) error {
				w, err := in.Workflow(ctx, id)
				if err != nil {
					return workflowErr(id, err)
				}
				if !w.Cancellable() {
					return fmt.Errorf("cancel workflow %q: it is %s: %w; nothing changed", id, w.State, inspect.ErrMovedOn)
				}
				if !yes {
					// What is about to stop goes to stderr with the question,
					// so that stdout holds only what was done.
					if !g.json {
						fmt.Fprintf(g.stderr, "workflow %s: %s\n", id, stepCounts(w.Steps))
					}
					if err := g.confirm(fmt.Sprintf("cancel workflow %s?", id), "--yes"); err != nil {
						return err
					}
				}
				n, err := in.CancelWorkflow(ctx, id)
				if err != nil {
					return workflowErr(id, err)
				}
				if g.json {
					return g.printJSON(map[string]any{"id": id, "action": "cancel", "cancelled_steps": n})
				}
				fmt.Fprintf(g.stdout, "workflow %s: cancelled, %d step(s) will not run\n", id, n)
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "cancel without asking")
	return cmd
}

// workflowID is the ID argument, refused when empty.
func workflowID(arg string) (string, error) {
	if strings.TrimSpace(arg) == "" {
		return "", usagef("the workflow ID is empty")
	}
	return arg, nil
}

// workflowErr is err of a workflow read or cancel, with where to look for
// a workflow that is not there or has finished.
func workflowErr(id string, err error) error {
	switch {
	case errors.Is(err, inspect.ErrNotFound):
		return fmt.Errorf("%w; check the ID and --prefix (or the workflow's record has expired)", err)
	case errors.Is(err, inspect.ErrMovedOn):
		return fmt.Errorf("%w; nothing changed (`jetq workflow show %s` shows its steps)", err, id)
	}
	return err
}
