// Package emulate holds the machinery the WhatsApp and Genesys emulators
// share, so that neither emulator package depends on the other:
//
//   - Dispatcher, the webhook delivery engine: a bounded queue, a worker
//     pool under a resizable concurrency limit, timer-driven retries, and
//     the reorder fault (deliberate duplicates are queued by the caller);
//   - Ring and BoundedMap, the capped histories and memories that keep an
//     emulator's memory bounded during long demos and load tests;
//   - FaultState, which holds an emulator's faults and consumes their
//     "next N calls" counters in a fixed order, with a seeded duplicate draw;
//   - the JSON plumbing of the control APIs: WriteJSON, DecodeJSON,
//     PageParams, Page, Last, NonNil and Duration.
//
// What differs between the platforms (signature headers, which statuses
// acknowledge a delivery, the retry policy, how attempts are recorded, the
// Faults types, their validation and JSON field names) stays in the
// emulator packages and reaches this package through DispatchConfig and
// FaultFields.
package emulate
