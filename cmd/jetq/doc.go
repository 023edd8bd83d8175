// Command jetq operates a jetq deployment: it inspects and replays the
// dead-letter stream, shows the queues, enqueues tasks by hand, lists and
// cancels delayed and periodic tasks, and runs an embedded NATS server with
// JetStream for single-binary deployments.
//
//	jetq server --store-dir ./data            # a NATS server with JetStream on :4222
//	jetq queues                               # per task: pending, in flight, dead-lettered
//	jetq enqueue email.send '{"to":"ada@example.com"}'
//	jetq enqueue mail.remind '{"to":"ada@example.com"}' --id remind:ada --delay 24h
//	jetq enqueue user.sync '{"user":42}' --unique user:42  # dropped while another holds the key
//	jetq dlq ls --task email.send             # what failed, and why
//	jetq dlq replay 42                        # run it again
//	jetq scheduled ls                         # delayed tasks waiting to fire
//	jetq scheduled rm remind:ada              # cancel one before it fires
//	jetq periodic ls                          # periodic tasks and when each fires next
//	jetq periodic rm reports.nightly          # fire it no more
//
// # Connecting
//
// The flags the NATS tools use: --server (or NATS_URL), --creds, --user and
// --password, --token, --tls-cert, --tls-key and --tls-ca. --prefix names the
// jetq deployment (default "jetq").
//
// # Output and exit codes
//
// Tables for people by default, --json for scripts. jetq exits 0 on success,
// 1 when the operation failed and 2 on a usage error.
package main
