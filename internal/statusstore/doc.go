// Package statusstore reads and writes the status records of tracked tasks
// in the status bucket (JETQ_STATUS): the producer records "queued", the
// worker "running" and what each attempt ended as, the forwarder and
// replays what they did. The final record of a task type with a retention
// ([Store.Final]) is one write with a per-message TTL; a result too large
// for it is kept in the results object store (JETQ_RESULTS) and
// referenced. The records' types are the status package's;
// applications read them through inspect.
package statusstore
