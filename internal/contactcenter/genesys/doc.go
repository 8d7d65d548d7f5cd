// Package genesys speaks Genesys Cloud Open Messaging: it posts customer
// messages and receipts to the inbound API with an OAuth client-credentials
// token it caches and refreshes before expiry, and verifies and parses the
// outbound webhook that carries agent messages.
//
// Every behaviour here follows a fact of ../shared/specs/genesys.md; the
// section is cited next to the code that depends on it.
package genesys
