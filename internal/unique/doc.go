// Package unique keeps the unique keys of tasks in a key-value bucket: a
// producer claims a key before it publishes, and the worker or forwarder
// that settles the task releases it. Per-key TTLs (server 2.11)
// bound how long a key outlives a task nobody settled.
package unique
