// Package genesys speaks Genesys Cloud Open Messaging: it posts customer
// messages (with custom attributes, genesys.md §1.2) and receipts to the
// inbound API with an OAuth client-credentials token it caches and refreshes
// before expiry, and verifies and parses the outbound webhook that carries
// agent messages.
//
// For secure sessions it also drives the conversation: [Client.GetConversation]
// finds the agent participant, [Client.TransferToQueue] blindly transfers the
// conversation to a queue by replacing that participant (§3.1), and
// [Client.Disconnect] ends it (§3.2). [Notifications] follows the
// Notifications API (§3.3) over a WebSocket to learn when an agent leaves a
// watched conversation (user.end); it reconnects and re-subscribes on its own,
// and reports each (re)connection so that the caller can re-check, with
// GetConversation, the conversations whose events may have been missed.
//
// Every behaviour here follows a fact of ../shared/specs/genesys.md; the
// section is cited next to the code that depends on it, and behaviour the
// fact sheet does not state is marked "(inference)".
package genesys
