// Package waflows provides the WhatsApp Flows data endpoint of the gateway:
// the capture mechanism of a collect step with capture: whatsapp_flow.
//
// The gateway sends the customer an interactive Flow message (whatsapp.md
// §2.5) whose flow_token comes from [Service.Issue]; WhatsApp's client then
// talks to [Service.Handler] with requests encrypted to the business key
// (whatsapp.md §3). Values typed in the Flow therefore reach only the
// gateway: they never travel in a chat message or a webhook.
//
// # Tokens
//
// A flow token is 256 random bits, base64url. Only SHA-256(token) is stored,
// bound to the session, the step and the fields asked for. A token is spent
// by one successful completion, by MaxAttempts invalid submissions, by its
// expiry (TokenTTL) or by [Service.Revoke]; a spent token gets HTTP 427
// (whatsapp.md §3.6).
//
// # Protocol
//
// Every request is checked in this order: the X-Hub-Signature-256 HMAC of
// the raw body with the Meta app secret (432 on failure, whatsapp.md §3.7),
// then decryption (RSA-OAEP SHA-256 of the AES key, AES-128-GCM with the
// 16-byte IV; 421 on failure, whatsapp.md §3.3, §3.6). ping is answered
// {"data":{"status":"active"}} and error notifications are acknowledged
// (§3.4). INIT and BACK get the form screen; data_exchange is validated
// with [flow.Field.Validate], the chat validators, and either gets the form
// again with per-field errors (never the values) or hands the values,
// wrapped in [secret.Value] at once, to the [Sink] and closes the Flow with
// the SUCCESS screen, whose params carry only the flow token (§3.5) so that
// the nfm_reply webhook (§1.4) carries nothing secret. Every answer is
// encrypted with the request's AES key and the bit-inverted IV.
//
// Values never go to a log line, an error, a metric, the store or a
// response. Flows are for passwords, one-time codes and dates: types that
// WhatsApp policy keeps off WhatsApp (cards, national ids: see
// [flow.InputType.LinkOnWhatsApp]) are refused by Issue (whatsapp.md §0).
//
// [CheckFlowJSON] checks a Flow JSON (whatsapp.md §3.9) for complete
// actions whose payload would carry form values into the nfm_reply webhook.
package waflows
