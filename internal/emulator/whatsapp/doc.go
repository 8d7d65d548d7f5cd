// Package whatsapp is an in-process emulator of Meta's WhatsApp Business
// Platform Cloud API, faithful to the facts in specs/whatsapp.md, for
// end-to-end tests, the demo and the load generator.
//
// It plays both of Meta's roles towards the gateway:
//
//   - the Graph send API the gateway calls
//     (POST /emulator/whatsapp/graph/{version}/{phoneNumberID}/messages): Bearer
//     token check, the validation limits of §2.1–§2.5, mark-as-read (§2.8),
//     Meta's error envelope and codes (§2.6, §2.7), and a record of every
//     accepted send, counting resends by biz_opaque_callback_data since the
//     Cloud API has no idempotency key;
//   - the webhooks a customer's messages become: the envelope of §1.2/§1.3,
//     status webhooks (§1.5), the GET verification handshake (§1.1), signed
//     with X-Hub-Signature-256 as lowercase hex HMAC-SHA256 of the exact body
//     (§1.6), delivered by a bounded worker pool and retried on any non-200
//     answer (§1.7).
//
// Faults (rate limits, server errors, hung calls, latency, duplicate and
// reordered webhooks, delivery concurrency) are set with [Emulator.SetFaults]
// or PUT /emulator/whatsapp/faults and are deterministic for a given
// sequence of calls.
//
// A small JSON control API lets scripts act as customers and read what the
// gateway sent; docs/emulators.md documents it with curl examples. Every
// history is capped (Config.HistoryLimit) so a long demo runs in bounded
// memory, and goroutine use is bounded by the delivery pool.
//
// # Usage
//
//	wa, err := whatsapp.New(whatsapp.Config{
//		WebhookURL:  gatewayURL + "/webhooks/whatsapp",
//		AppSecret:   []byte("app-secret"),
//		AccessToken: "graph-token",
//	})
//	if err != nil { ... }
//	defer wa.Close()
//	mux.Handle("/emulator/whatsapp/", wa.Handler())
//	id, err := wa.SendCustomerMessage(ctx, whatsapp.CustomerMessage{From: "16505551234", Name: "Sheena", Text: "hi"})
package whatsapp
