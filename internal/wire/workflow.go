package wire

import (
	"encoding/base64"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/topology"
)

// Header names of a workflow step's task (package workflow): the
// workflow's ID and the step's name. A task that carries HeaderStep is a
// step, whose settlement the worker records in the workflow bucket.
const (
	HeaderWorkflow = "Jetq-Workflow"
	HeaderStep     = "Jetq-Step"
)

// WorkflowsBucket is the key-value bucket of workflow records,
// "JETQ_WORKFLOWS" (see [WorkflowsBucketConfig]).
func (n Names) WorkflowsBucket() string { return n.stream("WORKFLOWS") }

// WorkflowResults is the object store of step results too large for a
// value of the workflow bucket, "JETQ_WORKFLOW_RESULTS".
func (n Names) WorkflowResults() string { return n.stream("WORKFLOW_RESULTS") }

// WorkflowMaxAge is how long a workflow's record, its steps' payloads and
// results are kept after their last write; the server deletes them then.
const WorkflowMaxAge = 7 * 24 * time.Hour

// WorkflowsBucketConfig is the configuration of t's bucket of workflows:
// one record per workflow ([WorkflowKey]), updated with compare-and-set, the
// payloads of its steps not enqueued yet and its steps' results, each kept
// for [WorkflowMaxAge].
func WorkflowsBucketConfig(t topology.Topology) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      NamesOf(t).WorkflowsBucket(),
		Description: "jetq workflows: their records, their waiting steps' payloads and their steps' results",
		History:     1,
		TTL:         WorkflowMaxAge,
		Storage:     storage(t),
		Replicas:    replicas(t),
	}
}

// WorkflowResultsConfig is the configuration of t's object store of large
// step results.
func WorkflowResultsConfig(t topology.Topology) jetstream.ObjectStoreConfig {
	return jetstream.ObjectStoreConfig{
		Bucket:      NamesOf(t).WorkflowResults(),
		Description: "jetq workflow step results too large for the workflow bucket",
		TTL:         WorkflowMaxAge,
		Storage:     storage(t),
		Replicas:    replicas(t),
	}
}

// WorkflowKey is the key of workflow id's record: the ID in unpadded
// base64url, so that any ID makes a valid key.
func WorkflowKey(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

// WorkflowPayloadKey is the key of the encoded payload of step of workflow
// id, stored until the step is enqueued.
func WorkflowPayloadKey(id, step string) string { return WorkflowKey(id) + ".p." + step }

// WorkflowResultKey is the key of the result of step of workflow id.
func WorkflowResultKey(id, step string) string { return WorkflowKey(id) + ".r." + step }

// StepTaskID is the task ID of step of workflow id: "<id>:<step>". Step
// names hold no ':', so no two steps of two workflows share it.
func StepTaskID(id, step string) string { return id + ":" + step }

// WorkflowFailureID is the task ID of workflow id's failure callback.
func WorkflowFailureID(id string) string { return id + ":!failed" }

// OwnHeader is a set of headers jetq's own packages give a task they
// enqueue through the producer (producer.WithOwnHeader), which refuses
// reserved names from anyone else.
type OwnHeader map[string]string
