// Package retry paces the retry loops of producers, workers and forwarders:
// exponential backoff with jitter, bounded by a budget and a ctx.
package retry
