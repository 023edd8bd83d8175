// Command video-transcode runs tasks that take minutes. Each transcode
// reports its progress, is kept alive by the worker's heartbeats although it
// runs many times longer than the ack wait (so it is never redelivered to a
// second worker while it is healthy), and is cancelled cleanly — partial
// output removed — when its deadline passes.
//
//	go run ./examples/video-transcode                 # ~10 s
//	go run ./examples/video-transcode -scale 30       # minutes, as in real life
package main
