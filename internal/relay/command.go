package relay

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/secureflow/secureflow/internal/event"
)

// Destinations.
const (
	DestGenesys  = "genesys"
	DestWhatsApp = "whatsapp"
)

// Outbox kinds.
const (
	KindMessage = "message"
	KindReceipt = "receipt"
	KindRead    = "read"
)

// command is an outbox payload: what to send, once sealed.
type command struct {
	Customer    string         `json:"customer"`
	ProfileName string         `json:"profile_name,omitempty"`
	Text        string         `json:"text,omitempty"`
	Buttons     []event.Button `json:"buttons,omitempty"`
	Time        time.Time      `json:"time"`
	// MessageID is the stable id sent to the destination (Genesys
	// channel.messageId).
	MessageID string `json:"message_id,omitempty"`
	// Target is the message a receipt or read mark is about.
	Target  string   `json:"target,omitempty"`
	Status  string   `json:"status,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
	// Queue, Attributes and ReplaceAgent describe a session's transfer.
	Queue        string            `json:"queue,omitempty"`
	Attributes   map[string]string `json:"attributes,omitempty"`
	ReplaceAgent bool              `json:"replace_agent,omitempty"`
	// Form is a WhatsApp Flow to open (a secure session's form).
	Form *FormInvite `json:"form,omitempty"`
	// Action is a session's data-action call, for Actions.
	Action []byte `json:"action,omitempty"`
}

// channelMessageID is the channel.messageId a customer message is posted
// to Genesys with: genesys.md §1.2 "Unique provider ID of the message (your
// channel's id, e.g. the WhatsApp wamid)". The wamid is stable across
// reprocessing, so Genesys can drop a resend, and a receipt that echoes it
// names the WhatsApp message to mark read.
func channelMessageID(e event.Event) string {
	if e.Source == event.SourceWhatsApp && isWAMID(e.ID) {
		return e.ID
	}
	return StableMessageID(e.Source, e.ID)
}

// isWAMID reports whether id is a WhatsApp message id (whatsapp.md §1.2:
// "id = wamid.… message id").
func isWAMID(id string) bool { return strings.HasPrefix(id, "wamid.") }

// StableMessageID is the gateway's own id for a channel message: derived
// from the channel's id, so reprocessing the same event yields the same id
// and the contact centre can drop a resend.
func StableMessageID(source, id string) string {
	sum := sha256.Sum256([]byte(source + "\x00" + id))
	return "sf" + hex.EncodeToString(sum[:16])
}

func lane(dest, customer string) string { return dest + "/" + customer }
