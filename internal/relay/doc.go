// Package relay moves messages between the channel and the contact centre
// with the guarantees of invariant 2: no loss, no duplicate at the receiver,
// order kept per conversation.
//
// # Pipeline
//
//	webhook ─▶ Inbox.Accept ─▶ inbox table ─▶ Processor ─▶ outbox table ─▶ Dispatcher ─▶ API
//	          (seal, group commit,            (per conversation,           (one in flight per
//	           then acknowledge)               in order; atomic with        lane; retries with
//	                                           marking the event done)      backoff; dead letters)
//
// Inbox.Accept returns only once the events are committed (synchronous
// fsync, batched across concurrent webhooks), so an acknowledged webhook is
// never lost. The Processor turns events into outbox messages and marks the
// events done in the same transaction; a crash in between replays the
// events, and the outbox's unique idempotency keys make the replay a no-op.
// The Dispatcher leases the oldest pending message of each lane (a lane is
// one conversation towards one destination), so one conversation is
// delivered strictly in order while many conversations proceed in parallel.
// A message whose delivery outcome is unknown (a crash after sending, before
// recording it) is sent again with the same idempotency key: Genesys gets
// the same channel.messageId and WhatsApp the same biz_opaque_callback_data,
// so the receiver can drop the duplicate.
//
// A customer message forwarded as it is may skip the outbox: when its lane
// is empty it is handed to a worker at once and its event completed once
// the send has an outcome (direct delivery, see direct.go).
//
// Payloads are sealed with the keyring (AES-256-GCM via Tink), bound to
// their row by associated data, and erased from the tables once processed
// or delivered.
package relay
