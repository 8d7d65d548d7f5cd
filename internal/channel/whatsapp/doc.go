// Package whatsapp speaks the WhatsApp Business Platform Cloud API: it
// verifies and parses inbound webhooks (the GET verification handshake and
// signed POST notifications) and sends messages through the Graph API.
//
// Every behaviour here follows a fact of ../shared/specs/whatsapp.md; the
// section is cited next to the code that depends on it.
package whatsapp
