// Command operator measures what an operator waits for on a large
// deployment: each task list's pages and the dashboard's overview, read
// through package inspect and through the dashboard's HTTP handler, on an
// embedded server holding 1 000 000 pending tasks across 20 types, 10 000
// tasks waiting to retry, 10 000 scheduled tasks and 100 000 dead letters.
//
//	go run ./bench/operator               # the full deployment, seeded in about half a minute on 2 cores
//	go run ./bench/operator -scale 0.01   # every count a hundredth, for a quick look
//
// Each figure is the median and the slowest of -runs reads.
package main
