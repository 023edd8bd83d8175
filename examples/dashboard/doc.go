// Command dashboard runs a small workload on an embedded server and serves
// jetq's web dashboard and Prometheus metrics next to it.
//
//	go run ./examples/dashboard             # until Ctrl-C, on 127.0.0.1:8080
//	go run ./examples/dashboard -for 5s     # stops by itself
//
// Open http://127.0.0.1:8080/ to see the overview's counts and chart move
// while the workload runs: image resizes that succeed, invoices of which
// one in five fails for good and lands in the dead letters, and a report
// delayed by an hour and declared to run every night at 02:30 Berlin time.
// Sign in with the token the program prints to replay a dead letter from
// its page. The worker's own OTel counters and the queue gauges are at
// /metrics, in one scrape.
//
// The dashboard is an http.Handler: here it is mounted at the root of the
// program's own mux, as a service would mount it next to its API.
package main
