package main

import "github.com/spf13/cobra"

// newTaskCmd is the task command: tasks found by their ID.
func newTaskCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "task",
		Short: "Find a task by its ID: its status, dead-letter records, queued message and schedule",
	}
	return cmd
}
