package wire

import (
	"fmt"
	"strings"

	"github.com/jetq/jetq/tasks"
	"github.com/jetq/jetq/topology"
)

// DefaultPrefix is the prefix every stream and subject name derives from.
const DefaultPrefix = "jetq"

// Names derives stream, subject and consumer names from one prefix. The zero
// Names uses [DefaultPrefix].
type Names struct {
	prefix string
}

// NewNames returns the names for prefix, checked as a
// [topology.Topology]'s prefix is. An empty prefix means [DefaultPrefix].
func NewNames(prefix string) (Names, error) {
	t := topology.Topology{Prefix: prefix}
	if err := t.Validate(); err != nil {
		return Names{}, err
	}
	return NamesOf(t), nil
}

// Prefix returns the prefix.
func (n Names) Prefix() string {
	if n.prefix == "" {
		return DefaultPrefix
	}
	return n.prefix
}

func (n Names) stream(kind string) string { return strings.ToUpper(n.Prefix()) + "_" + kind }

// WorkStream is the WorkQueue stream holding tasks, "JETQ_TASKS".
func (n Names) WorkStream() string { return n.stream("TASKS") }

// WorkSubjects is the work stream's subject filter, "jetq.task.>".
func (n Names) WorkSubjects() string { return n.Prefix() + ".task.>" }

// TaskSubject is where a task is published: "jetq.task.<queue>.<name>".
func (n Names) TaskSubject(queue, name string) string {
	return n.Prefix() + ".task." + queue + "." + name
}

// ParseTaskSubject splits a task subject into queue and name.
func (n Names) ParseTaskSubject(subject string) (queue, name string, err error) {
	rest, ok := strings.CutPrefix(subject, n.Prefix()+".task.")
	if !ok {
		return "", "", fmt.Errorf("subject %q is not a task subject of prefix %q", subject, n.Prefix())
	}
	queue, name, ok = strings.Cut(rest, ".")
	if !ok {
		return "", "", fmt.Errorf("subject %q has no task name", subject)
	}
	if err := tasks.ValidateQueue(queue); err != nil {
		return "", "", err
	}
	if err := tasks.ValidateName(name); err != nil {
		return "", "", err
	}
	return queue, name, nil
}

// Durable is the name of the durable consumer for one (queue, task): the task
// subject after the prefix with ':' for '.', such as "default:email:send".
// Queues and names never hold ':', so the mapping is one to one.
func (n Names) Durable(queue, name string) string {
	return queue + ":" + strings.ReplaceAll(name, ".", ":")
}

// DLQStream is the stream of dead-letter records, "JETQ_DLQ".
func (n Names) DLQStream() string { return n.stream("DLQ") }

// DLQSubjects is the dead-letter stream's subject filter, "jetq.dlq.>".
func (n Names) DLQSubjects() string { return n.Prefix() + ".dlq.>" }

// DLQSubject is where the record of a dead task goes: "jetq.dlq.<queue>.<name>".
func (n Names) DLQSubject(queue, name string) string {
	return n.Prefix() + ".dlq." + queue + "." + name
}

// ParseDLQSubject splits a dead-letter record's subject into queue and name.
func (n Names) ParseDLQSubject(subject string) (queue, name string, err error) {
	rest, ok := strings.CutPrefix(subject, n.Prefix()+".dlq.")
	if !ok {
		return "", "", fmt.Errorf("subject %q is not a dead-letter subject of prefix %q", subject, n.Prefix())
	}
	return n.ParseTaskSubject(n.Prefix() + ".task." + rest)
}

// DLQObjects is the object store bucket holding the originals of truncated
// dead-letter records, "JETQ_DLQ_ORIGINALS".
func (n Names) DLQObjects() string { return n.stream("DLQ_ORIGINALS") }

// EventsStream is the stream that keeps the work stream's advisories, "JETQ_EVENTS".
func (n Names) EventsStream() string { return n.stream("EVENTS") }

// EventSubjects are the advisories the events stream captures: deliveries
// exhausted and messages terminated on the work stream.
func (n Names) EventSubjects() []string {
	return []string{
		"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + n.WorkStream() + ".>",
		"$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED." + n.WorkStream() + ".>",
	}
}

// PriorityGroup is the priority group of every task type's durable
// consumer. Workers pull in it; the forwarder keeps a pull waiting in it
// that takes no task (see the forwarder package), which makes the server
// notice a task's last delivery expiring when no worker pulls.
const PriorityGroup = "jetq"

// ResultObjects is the object store bucket holding the results too large
// for their task's status record, "JETQ_RESULTS".
func (n Names) ResultObjects() string { return n.stream("RESULTS") }

// StatusKeySubject is the subject of key in the status bucket, written
// directly so that a final record carries its own TTL.
func (n Names) StatusKeySubject(key string) string {
	return "$KV." + n.StatusBucket() + "." + key
}

// StatusBucket is the key-value bucket of tracked tasks' states, "JETQ_STATUS".
func (n Names) StatusBucket() string { return n.stream("STATUS") }

// PauseBucket is the key-value bucket of the pauses of task types, queues
// and every queue, "JETQ_PAUSES" (internal/pausing).
func (n Names) PauseBucket() string { return n.stream("PAUSES") }
