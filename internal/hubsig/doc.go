// Package hubsig signs and verifies the X-Hub-Signature-256 header that both
// WhatsApp Cloud API webhooks and Genesys Cloud Open Messaging outbound
// webhooks carry.
//
// Both platforms compute HMAC-SHA256 over the exact raw request body and send
// it as "sha256=" followed by the digest. They differ only in how the digest
// is encoded:
//
//   - WhatsApp: lowercase hexadecimal, so the header is 71 characters long
//     (../shared/specs/whatsapp.md §1.6, Meta "create webhook endpoint" page).
//   - Genesys: standard base64 (../shared/specs/genesys.md §1.7, Developer
//     Center "validate" page and gildas/go-gcloudcx route_main.go).
//
// Verification never parses the body: callers verify first and parse only
// what verified. Comparison is constant time.
package hubsig
