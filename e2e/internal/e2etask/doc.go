// Package e2etask is the task the end-to-end programs share, and the
// connection settings they use to notice a frozen server within seconds.
package e2etask
