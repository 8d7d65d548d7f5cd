package httpapi

import (
	"context"
	"time"
)

// Sessions is what the API needs from the secure-session engine.
type Sessions interface {
	// Start starts a secure session. It returns ErrConflict when a session
	// is already active on the conversation, ErrInvalid (or an
	// *InvalidError) for an unknown flow or bad inputs, and the same session
	// again for a repeated IdempotencyKey.
	Start(ctx context.Context, r StartRequest) (Session, error)
	// Get returns a session by id, or ErrNotFound.
	Get(ctx context.Context, id string) (Session, error)
	// AgentEvent records that something happened to the agent of a
	// conversation (the Genesys conversation id); ErrNotFound when no
	// session is active on it.
	AgentEvent(ctx context.Context, conversationID string, e AgentEvent) error
}

// Actions is what the API needs from the data-action executor.
type Actions interface {
	// InvokeWithTokens runs the named data action. Inputs may hold vault
	// tokens, which the executor swaps for their values only inside the
	// outgoing request; the returned map holds only the outputs the action
	// marks public. ErrNotFound for an unknown action, ErrUpstream when the
	// third-party API failed.
	InvokeWithTokens(ctx context.Context, name string, inputs map[string]string, idempotencyKey, principal string) (map[string]any, error)
}

// Session modes and statuses as the API spells them.
const (
	// ModeAgentReferred: an agent sent the customer into the flow.
	ModeAgentReferred = "agent_referred"
	// ModeSelfService: a bot or a routing flow sent the customer, no agent.
	ModeSelfService = "self_service"
	// StatusActive: the session is running.
	StatusActive = "active"
	// StatusEnded: the session reached an end (see Outcome).
	StatusEnded = "ended"
	// EventAgentDisconnected is the only AgentEvent type so far.
	EventAgentDisconnected = "agent_disconnected"
)

// StartRequest asks for a new secure session.
type StartRequest struct {
	// Flow is the flow id, e.g. "take-payment".
	Flow string
	// Mode is ModeAgentReferred, ModeSelfService, or "" for the flow's own.
	Mode string
	// Conversation is the customer's channel id (the WhatsApp wa_id).
	Conversation string
	// GenesysConversationID is the contact centre's conversation, if known.
	GenesysConversationID string
	// Inputs are the flow's inputs (strings, numbers or booleans; inputs
	// sent as "" or null are left out so the flow's defaults apply).
	Inputs map[string]any
	// Locale is a BCP 47 tag, or "" for the flow's default.
	Locale string
	// IdempotencyKey is the Idempotency-Key header, or "".
	IdempotencyKey string
	// Principal is the id of the API key that made the call.
	Principal string
}

// Session is a secure session as the API shows it: never a secret value,
// only public outputs (tokens, masks, results).
type Session struct {
	// ID is the session id.
	ID string
	// Flow is the flow id.
	Flow string
	// Mode is ModeAgentReferred or ModeSelfService.
	Mode string
	// Conversation is the customer's channel id.
	Conversation string
	// Status is StatusActive or StatusEnded (or "pending" while an engine
	// has accepted the start but not yet run the first step).
	Status string
	// Step is the current step id while active.
	Step string
	// Outcome is the end's outcome once ended.
	Outcome string
	// AgentReserved tells whether an agent is reserved for the return.
	AgentReserved bool
	// AgentPresent tells whether that agent is still on the conversation.
	AgentPresent bool
	// Outputs are the public outputs.
	Outputs map[string]any
	// CreatedAt is when the session started.
	CreatedAt time.Time
	// EndedAt is when it ended, nil while active.
	EndedAt *time.Time
}

// AgentEvent is something that happened to the agent of a conversation.
type AgentEvent struct {
	// Type is EventAgentDisconnected.
	Type string
	// ParticipantID is the Genesys participant id, if known.
	ParticipantID string
	// UserID is the Genesys user id of the agent, if known.
	UserID string
	// At is when it happened (the request time when the caller gave none).
	At time.Time
}
