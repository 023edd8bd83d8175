// Command e2eflow is a jetq deployment's process for the end-to-end
// scenarios of results and workflows: a worker of the chord members
// (e2e.member, failing at random), the chords' callbacks (e2e.chord-done)
// and e2e.echo, with a dead-letter forwarder beside it, as every
// deployment runs one. It appends one line to --out for each handler run,
// written before the handler returns, so a SIGKILL loses no record:
//
//	member <chord> <index> <task ID> <attempt> <worker> <start ns> <end ns> ok|fail
//	cstart <chord> <task ID> <attempt> <worker> <start ns>
//	cend <chord> <task ID> <attempt> <worker> <end ns> ok|bad:<why> <values, comma separated>
//	echo <task ID> <end ns>
package main
