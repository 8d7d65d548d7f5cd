// Package genesys is an in-process emulator of Genesys Cloud's Open
// Messaging surface, faithful to the facts in specs/genesys.md and the
// sample payloads in specs/genesys-samples/, for end-to-end tests, the demo
// and the load generator.
//
// It plays Genesys towards the gateway:
//
//   - the OAuth client-credentials token endpoint (§2), with expiring tokens
//     and a count of grants so tests can check token caching;
//   - the Open Messaging inbound API (§1.1–§1.5): message, structured
//     response, event and receipt endpoints, Bearer-checked and validated,
//     answering normalized messages (§1.3); one conversation per customer id
//     until it is disconnected; idempotency on channel.messageId, with
//     resends answered like the first call and counted, never added to the
//     transcript twice;
//   - the outbound webhook agent messages become (§1.6), shaped like
//     openmessaging-outbound-text.json, signed X-Hub-Signature-256
//     "sha256=<base64 HMAC-SHA256>" over the exact body (§1.7), delivered by
//     a bounded worker pool and retried up to 5 times, 5 s apart, on
//     timeout, 429 and 5xx (§1.7).
//
// Faults (429 with Retry-After, 500, hung calls, latency, duplicate and
// reordered webhooks, delivery concurrency) are set with [Emulator.SetFaults]
// or PUT /emulator/genesys/faults and are deterministic for a given
// sequence of calls.
//
// A small JSON control API lets scripts act as agents and read what the
// contact centre received; docs/emulators.md documents it with curl
// examples. Every history is capped (Config.HistoryLimit).
//
// # Usage
//
//	gc, err := genesys.New(genesys.Config{
//		WebhookURL:    gatewayURL + "/webhooks/genesys",
//		WebhookSecret: []byte("a-secret-longer-than-15"),
//		ClientID:      "client", ClientSecret: "secret",
//	})
//	if err != nil { ... }
//	defer gc.Close()
//	mux.Handle("/emulator/genesys/", gc.Handler())
//	conv, _ := gc.ConversationFor("16505551234")
//	id, err := gc.SendAgentMessage(ctx, conv, "How can I help?")
package genesys
