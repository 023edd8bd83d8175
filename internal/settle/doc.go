// Package settle holds the rules that turn one attempt of a handler into a
// settlement, shared by the worker and by tasks/taskstest so that a unit test
// sees exactly what a worker would do.
package settle
