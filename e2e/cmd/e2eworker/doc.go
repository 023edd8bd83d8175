// Command e2eworker is a jetq worker process for the end-to-end scenarios:
// it handles e2e.work tasks and appends "<task ID> <unix nanos>" to --out for
// every success, before the acknowledgement, so a SIGKILL loses no record.
package main
