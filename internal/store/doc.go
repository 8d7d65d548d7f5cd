// Package store defines secureflow's persistence contract: the durable inbox
// of accepted webhook events, the outbox of messages to deliver, the
// dead-letter table, and conversations. Implementations live in
// subpackages (store/sqlite, and store/postgres), and both must pass the
// conformance suite in store/storetest.
//
// The store never sees a message in clear: payloads arrive sealed (encrypted
// and authenticated by the caller) and are erased as soon as they are no
// longer needed (an inbox event once processed, an outbox message once
// delivered). What remains are ids, timestamps and states, which is what
// deduplication and operations need.
//
// Times are stored with millisecond precision and always passed in by the
// caller, so behaviour is deterministic under a test clock.
package store
