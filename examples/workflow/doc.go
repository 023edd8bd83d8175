// Command workflow runs three workflows on an embedded server, to the end:
//
//   - a chain, fetch -> resize -> publish, each step reading the previous
//     one's result with workflow.Input;
//   - a chord of four price quotes, one of which fails once and is retried,
//     and a callback that runs once, when all have succeeded, reading the
//     quotes in member order with workflow.Results;
//   - a DAG of four steps, a diamond: one step, two that read its result,
//     and a last one that reads both with workflow.ParentResult.
//
// Run it with:
//
//	go run ./examples/workflow
package main
