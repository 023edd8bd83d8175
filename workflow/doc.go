// Package workflow composes tasks: chains, groups, chords and DAGs whose
// steps read their parents' results.
//
// A [Workflow] is built from steps ([Task]) with dependencies ([Step.After])
// and started with [Start], which validates it, stores its record and
// enqueues the steps that depend on nothing, all or nothing. Each step is an
// ordinary task of its definition, run by any worker that handles that
// type. When a step settles, the worker that ran it records the settlement
// and enqueues every dependent whose parents have all succeeded, with an ID
// derived from the workflow's, before it acknowledges the step: there is no
// poller and no leader, and a worker that dies half-way leaves the step to
// be delivered again, which finishes the bookkeeping.
//
// A step's handler reads its parents' results with [Input], [Results] and
// [ParentResult].
package workflow
