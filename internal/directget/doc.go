// Package directget reads the messages of a stream with batched direct
// gets ($JS.API.DIRECT.GET.<stream> with next_by_subj and batch, server
// 2.11+): up to a batch of the messages on a subject, wildcards allowed,
// from a sequence or a time on, in one request, filtered by the server,
// with no consumer created and the payloads brought along. Any replica may
// answer, so in a cluster a read may lag a write by a moment.
package directget
