// Package event defines the normalized events secureflow accepts from either
// side of a conversation. Webhook parsers (channel/whatsapp,
// contactcenter/genesys) produce them; the relay stores them, sealed, in the
// inbox and processes them in order per conversation.
package event

import (
	"encoding/json"
	"time"
)

// Kind says what happened.
type Kind string

// Event kinds.
const (
	// CustomerMessage: the customer sent a message on the channel.
	CustomerMessage Kind = "customer.message"
	// CustomerStatus: the channel reports a status (sent, delivered, read,
	// failed) of a message the gateway sent to the customer.
	CustomerStatus Kind = "customer.status"
	// AgentMessage: the contact centre (agent or bot) sent a message.
	AgentMessage Kind = "agent.message"
	// AgentReceipt: the contact centre reports a status of a message the
	// gateway posted to it.
	AgentReceipt Kind = "agent.receipt"
	// SessionSignal: something happened to a secure session outside the
	// conversation (it was started through the API, a secure-link form was
	// submitted, a timer fired, a data action answered, the agent left).
	// The gateway itself produces these, so that they are ordered with
	// the conversation's messages and applied exactly once.
	SessionSignal Kind = "session.signal"
)

// Sources of events.
const (
	SourceWhatsApp = "whatsapp"
	SourceGenesys  = "genesys"
	// SourceGateway marks session signals the gateway produces.
	SourceGateway = "secureflow"
)

// Event is one normalized event. Only the fields its Kind uses are set.
type Event struct {
	Kind   Kind   `json:"kind"`
	Source string `json:"source"`
	// ID is the provider's id of the message or receipt (a WhatsApp wamid,
	// a Genesys message id).
	ID string `json:"id"`
	// Customer is the customer's channel id (WhatsApp wa_id); it keys the
	// conversation.
	Customer string `json:"customer"`
	// BusinessNumber is the channel number involved (WhatsApp
	// phone_number_id), when the channel reports it.
	BusinessNumber string `json:"business_number,omitempty"`
	// ProfileName is the customer's display name, when the channel reports
	// it.
	ProfileName string `json:"profile_name,omitempty"`
	// Time is the event's own timestamp.
	Time time.Time `json:"time"`
	// Text is the message text.
	Text string `json:"text,omitempty"`
	// Reply is set when the customer tapped a button or list row.
	Reply *Reply `json:"reply,omitempty"`
	// Unsupported names a message type the gateway does not relay (image,
	// audio…); the contact centre is told one arrived.
	Unsupported string `json:"unsupported,omitempty"`
	// Status is the status a status or receipt event reports.
	Status string `json:"status,omitempty"`
	// StatusCodes carries provider error codes of a failed status.
	StatusCodes []string `json:"status_codes,omitempty"`
	// RefID is the id of the message a status or receipt is about.
	RefID string `json:"ref_id,omitempty"`
	// CallbackData is what the gateway attached to the message a status is
	// about (WhatsApp biz_opaque_callback_data, whatsapp.md §1.5): the
	// outbox message's idempotency key.
	CallbackData string `json:"callback_data,omitempty"`
	// PeerConversationID is the contact centre's conversation id.
	PeerConversationID string `json:"peer_conversation_id,omitempty"`
	// Buttons are quick replies an agent or bot offered.
	Buttons []Button `json:"buttons,omitempty"`
	// Signal is the body of a SessionSignal.
	Signal *Signal `json:"signal,omitempty"`
}

// Signal is a session signal. Its Data is the session engine's own
// encoding; it may hold vault tokens and masked forms, never a captured
// value.
type Signal struct {
	// Type says what happened ("start", "link", "timer", ...).
	Type string `json:"type"`
	// Session is the session it is about (for "start", the new one).
	Session string `json:"session"`
	// Seq is the session's transition count the signal answers (timers and
	// data actions), so a stale one is recognized.
	Seq  int64           `json:"seq,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// Reply is a customer's answer to an interactive message.
type Reply struct {
	// Type is "button_reply", "list_reply" or "button" (template quick
	// reply).
	Type        string `json:"type"`
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Button is a quick reply offered to the customer.
type Button struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// DedupeKey is the key under which redeliveries of the same event are
// recognized. WhatsApp redelivers messages with the same wamid, and a status
// is identified by the message it is about plus the status
// (whatsapp.md §1.7: dedupe on messages[].id and on (statuses[].id, status)).
func (e Event) DedupeKey() string {
	switch e.Kind {
	case CustomerStatus, AgentReceipt:
		return string(e.Kind) + ":" + e.RefID + ":" + e.Status
	default:
		return string(e.Kind) + ":" + e.ID
	}
}
