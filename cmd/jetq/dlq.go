package main

import "github.com/spf13/cobra"

func newDLQCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect, replay and remove dead-lettered tasks",
	}
	return cmd
}
