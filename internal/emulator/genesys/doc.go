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
//     timeout, 429 and 5xx (§1.7);
//   - conversations with participants: a customer and an acd participant
//     when the first message opens the conversation, and an agent connected
//     at once unless Config.ManualAgent; GET
//     /api/v2/conversations/messages/{id} renders them like the SDK's
//     MessageConversation (inference); PATCH with {"state":"disconnected"}
//     ends the conversation (§3.2);
//   - blind transfer, POST /api/v2/conversations/{id}/participants/{pid}/replace/queue
//     (§3.1): the participant leaves with disconnectType TRANSFER and an acd
//     participant for the queue joins; transfers are recorded;
//   - the Notifications API (§3.3): channels ({id, connectUri, expires}, at
//     most 20, the oldest evicted), PUT (replace) / POST (add) / GET
//     subscriptions, and a WebSocket per channel carrying heartbeats
//     (Config.HeartbeatInterval, 30 s by default) and user.end events when an
//     agent leaves, is transferred or is disconnected;
//     [Emulator.CloseNotifications] sends v2.system.socket_closing and closes
//     every socket, so clients' reconnection can be tested.
//
// Control additions: POST /emulator/genesys/conversations/{id}/agent
// {"userId","name"} connects an agent; POST .../agent/leave makes it leave
// (disconnectType CLIENT, user.end published); GET /emulator/genesys/transfers;
// GET /emulator/genesys/notifications (events published);
// GET /emulator/genesys/notifications/channels; POST
// /emulator/genesys/notifications/close.
//
// Faults (429 with Retry-After, 500, hung calls, latency, duplicate and
// reordered webhooks, delivery concurrency) are set with [Emulator.SetFaults]
// or PUT /emulator/genesys/faults and are deterministic for a given
// sequence of calls. They apply to the four inbound endpoints only: the
// conversation and Notifications calls are never faulted, so background
// notification traffic cannot consume a counted fault meant for a message.
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
