// Command e2erate is a worker process of the rate-limit scenario: it
// handles e2etask.RateTyped, RateKeyed and RateFree and appends a line to
// -out when a handler starts:
//
//	<task name> <task ID> <key or -> <start, Unix nanoseconds> <attempt>
//
// It stops on SIGTERM or SIGINT, letting running handlers finish.
package main
