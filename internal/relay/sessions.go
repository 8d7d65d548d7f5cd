package relay

import (
	"context"
	"time"

	"github.com/secureflow/secureflow/internal/contactcenter/genesys"
	"github.com/secureflow/secureflow/internal/event"
	"github.com/secureflow/secureflow/internal/store"
)

// Sessions is the secure-session engine as the relay sees it: it is offered
// every customer message, agent message and session signal, in
// conversation order, before the relay routes it.
type Sessions interface {
	// Intercept decides whether the event belongs to a secure session. When
	// it does (Handled), the relay forwards nothing of it: it enqueues the
	// decision's effects and saves its session record in the same
	// transaction that marks the event processed. Intercept must be
	// deterministic enough to be replayed: the same event may be offered
	// again after a crash or a failed commit, and effects carry stable
	// keys so a replay enqueues nothing twice. An error leaves the event
	// pending and holds up its conversation.
	Intercept(ctx context.Context, in Intercepted) (Decision, error)
	// Committed reports session records that are now durably saved.
	Committed(records []store.SessionRecord)
}

// Intercepted is an event offered to Sessions.
type Intercepted struct {
	// InboxID is the event's inbox row.
	InboxID int64
	// Event is the decoded event. A customer message's text is as the
	// customer typed it: detection has not run, so that a secure session
	// can capture it.
	Event event.Event
	// Now is the processing time.
	Now time.Time
}

// Decision is what Sessions decided about an event.
type Decision struct {
	// Handled is true when the event belonged to a session.
	Handled bool
	// Effects are what the relay must do, in order.
	Effects []Effect
	// Session, when set, is saved atomically with the event's completion.
	Session *store.SessionRecord
}

// EffectKind says what an Effect does.
type EffectKind int

// Effect kinds.
const (
	// EffectToCustomer sends Text (and Buttons) to the customer on the
	// channel.
	EffectToCustomer EffectKind = iota + 1
	// EffectToAgent posts Text into the contact centre's conversation, where
	// the agent sees it; the customer does not.
	EffectToAgent
	// EffectTransfer hands the conversation to Queue: by replacing the
	// agent participant (ReplaceAgent) or, with no agent to replace, by
	// posting Text with Attributes as custom attributes for the inbound
	// message flow to route on.
	EffectTransfer
	// EffectDisconnect ends the contact centre's conversation.
	EffectDisconnect
	// EffectAction runs a data action: Payload is handed to
	// Actions by the dispatcher.
	EffectAction
	// EffectReleaseAgent ends the agent's participation in the contact
	// centre's conversation (a flow started without reservation).
	EffectReleaseAgent
)

// Effect is one thing a secure session asks the relay to do.
type Effect struct {
	Kind EffectKind
	// Key is the effect's idempotency key, unique across the gateway.
	Key string
	// Ref, for a message to the customer that relays an agent's message,
	// is the agent message's id, so that channel statuses reach the agent
	// as receipts.
	Ref          string
	Text         string
	Buttons      []event.Button
	Queue        string
	Attributes   map[string]string
	ReplaceAgent bool
	Payload      []byte
	// Form, with EffectToCustomer, sends Text as a WhatsApp Flow message
	// (whatsapp.md §2.5) that opens the form Form describes.
	Form *FormInvite
}

// FormInvite is a WhatsApp Flow to open: the Meta Flow ID, the flow token
// that binds it to one session step, and the button's text.
type FormInvite struct {
	FlowID string `json:"flow_id"`
	Token  string `json:"token"`
	CTA    string `json:"cta"`
}

// Actions runs data actions for secure sessions. RunAction reports a
// data action's outcome back to its session itself (as a session signal);
// an error means the outcome could not be recorded, and the dispatcher
// tries again later with the same payload (so the upstream sees the same
// idempotency key).
type Actions interface {
	RunAction(ctx context.Context, payload []byte) error
}

// Control is what secure sessions need from the contact centre beyond
// messages and receipts.
type Control interface {
	// TransferToQueue replaces the agent of the contact centre's
	// conversation peer with queue.
	TransferToQueue(ctx context.Context, peer, queue string) error
	// PostWithAttributes posts an inbound message carrying custom
	// attributes.
	PostWithAttributes(ctx context.Context, m genesys.InboundMessage, attrs map[string]string) (genesys.Posted, error)
	// Disconnect ends the contact centre's conversation peer.
	Disconnect(ctx context.Context, peer string) error
	// ReleaseAgent ends the connected agent's participation in peer; no
	// connected agent is not an error.
	ReleaseAgent(ctx context.Context, peer string) error
}

// Destination and kinds of session effects.
const (
	DestAction     = "action"
	KindTransfer   = "transfer"
	KindDisconnect = "disconnect"
	KindRelease    = "release"
	KindAction     = "action"
)

// effectItem turns an effect into an outbox item for customer.
func effectItem(customer string, ef Effect, now time.Time) outItem {
	c := command{Customer: customer, Time: now, MessageID: ef.Key}
	switch ef.Kind {
	case EffectToCustomer:
		c.Text, c.Buttons, c.Form = ef.Text, ef.Buttons, ef.Form
		return outItem{dest: DestWhatsApp, kind: KindMessage, key: ef.Key, ref: ef.Ref, cmd: c}
	case EffectToAgent:
		c.Text = ef.Text
		c.MessageID = StableMessageID(event.SourceGateway, ef.Key)
		return outItem{dest: DestGenesys, kind: KindMessage, key: ef.Key, cmd: c}
	case EffectTransfer:
		c.Text, c.Queue, c.Attributes, c.ReplaceAgent = ef.Text, ef.Queue, ef.Attributes, ef.ReplaceAgent
		c.MessageID = StableMessageID(event.SourceGateway, ef.Key)
		return outItem{dest: DestGenesys, kind: KindTransfer, key: ef.Key, cmd: c}
	case EffectDisconnect:
		return outItem{dest: DestGenesys, kind: KindDisconnect, key: ef.Key, cmd: c}
	case EffectReleaseAgent:
		return outItem{dest: DestGenesys, kind: KindRelease, key: ef.Key, cmd: c}
	default: // EffectAction
		c.Action = ef.Payload
		return outItem{dest: DestAction, kind: KindAction, key: ef.Key, cmd: c}
	}
}
