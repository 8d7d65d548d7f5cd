// Package securelink provides secure links: one-time, short-lived web forms
// the gateway hosts, where a customer types values that may not be asked
// for in chat (card numbers, card security codes, national identity
// numbers). WhatsApp's Business Messaging Policy forbids asking for them in
// the conversation (whatsapp.md §0), so a collect step with capture: link
// sends the customer a URL instead. The page is a full page, never an
// iframe: iframe-embedded card fields are reported to fail in Meta's in-app
// browser (whatsapp.md §0).
//
// # Tokens
//
// [Service.Issue] draws a 256-bit token from crypto/rand and returns
// BaseURL + "/s/" + base64url(token). Only SHA-256(token) is stored, with
// the session, the step and the field set it is bound to; the token itself
// is never stored or logged. A link expires UnopenedTTL after it is issued
// if nobody opens it, and OpenedTTL after its first opening; it is spent
// by one successful submission, by MaxAttempts invalid ones, or by
// [Service.Revoke] of its session.
//
// # The page
//
// [Service.Handler] serves GET and POST /s/{token}: a full, server-rendered
// page with no external resources, a per-response CSP nonce, no-referrer,
// no-store and anti-framing headers, a CSRF field derived with HMAC from
// Config.CSRFKey and the link, and per-IP and per-token rate limits. Input
// is checked with [flow.Field.Validate], the same validators chat uses.
// Submitted values never go back into a page, a log line, an error, a
// metric or the store: they are wrapped in [secret.Value] at once and
// handed to the [Sink]; the confirmation page shows only their masks.
package securelink
