package genesys

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// ErrInvalidQueue is returned by TransferToQueue when the QueueRef names
// neither or both of a queue id and a queue name.
var ErrInvalidQueue = errors.New("genesys: exactly one of queue id and queue name is required")

// Participant purposes and states, as the conversation API spells them
// (Go SDK platformclientv2/messagemediaparticipant.go: purpose 'agent',
// 'user', 'customer', 'external', 'acd', 'ivr'; state 'alerting',
// 'connected', 'disconnected', ...). The model is not in genesys.md.
const (
	PurposeAgent    = "agent"
	PurposeCustomer = "customer"
	PurposeACD      = "acd"

	StateConnected    = "connected"
	StateDisconnected = "disconnected"
)

// Conversation is a message conversation as GetConversation sees it.
type Conversation struct {
	// ID is the conversationId.
	ID string
	// Participants are every participant the conversation has had,
	// disconnected ones included.
	Participants []Participant
}

// Participant is one participant of a conversation.
type Participant struct {
	// ID is the participantId, the one TransferToQueue replaces.
	ID string
	// Purpose is "customer", "agent", "acd", ...
	Purpose string
	// UserID is the Genesys user of an agent participant.
	UserID string
	// QueueID is the queue the participant was routed through.
	QueueID string
	// State is "connected", "disconnected", ...
	State string
}

// Agent returns the connected participant with purpose "agent". When
// several are connected (a conference), the last one listed is returned:
// participants are listed in the order they joined (inference).
func (c Conversation) Agent() (Participant, bool) {
	for i := len(c.Participants) - 1; i >= 0; i-- {
		if p := c.Participants[i]; p.Purpose == PurposeAgent && p.State == StateConnected {
			return p, true
		}
	}
	return Participant{}, false
}

// entityRef is the SDK's Domainentityref: {id, name, selfUri}.
type entityRef struct {
	ID string `json:"id"`
}

// conversationBody is the part of MessageConversation that GetConversation
// reads. genesys.md does not give the GET's shape; the field names follow
// the Go SDK's Messagemediaparticipant (id, name, purpose, state,
// disconnectType, user {id}, queue {id}) (inference: outside the fact sheet).
type conversationBody struct {
	ID           string `json:"id"`
	Participants []struct {
		ID      string     `json:"id"`
		Purpose string     `json:"purpose"`
		State   string     `json:"state"`
		User    *entityRef `json:"user"`
		Queue   *entityRef `json:"queue"`
	} `json:"participants"`
}

// GetConversation reads a message conversation and its participants
// (GET /api/v2/conversations/messages/{conversationId}; genesys.md §1.5 names
// this call as where a conversation's errorInfo lives).
func (c *Client) GetConversation(ctx context.Context, conversationID string) (Conversation, error) {
	if conversationID == "" {
		return Conversation{}, fmt.Errorf("genesys: get conversation: empty conversation id")
	}
	var body conversationBody
	u := c.api + "/api/v2/conversations/messages/" + url.PathEscape(conversationID)
	if err := c.do(ctx, "get conversation", http.MethodGet, u, nil, &body); err != nil {
		return Conversation{}, err
	}
	conv := Conversation{ID: body.ID}
	for _, p := range body.Participants {
		q := Participant{ID: p.ID, Purpose: p.Purpose, State: p.State}
		if p.User != nil {
			q.UserID = p.User.ID
		}
		if p.Queue != nil {
			q.QueueID = p.Queue.ID
		}
		conv.Participants = append(conv.Participants, q)
	}
	return conv, nil
}

// QueueRef names a queue by id or by name: exactly one must be set.
type QueueRef struct {
	ID   string
	Name string
}

// TransferToQueue blindly transfers a conversation to a queue by replacing
// one participant (typically the agent, genesys.md §3.1 (inference)):
// POST /api/v2/conversations/{conversationId}/participants/{participantId}/replace/queue
// with TransferToQueueRequest {queueId | queueName, transferType:
// "Unattended"} (genesys.md §3.1).
func (c *Client) TransferToQueue(ctx context.Context, conversationID, participantID string, q QueueRef) error {
	if (q.ID == "") == (q.Name == "") {
		return ErrInvalidQueue
	}
	if conversationID == "" || participantID == "" {
		return fmt.Errorf("genesys: transfer: empty conversation or participant id")
	}
	body := struct {
		QueueID      string `json:"queueId,omitempty"`
		QueueName    string `json:"queueName,omitempty"`
		TransferType string `json:"transferType"`
	}{q.ID, q.Name, "Unattended"}
	u := c.api + "/api/v2/conversations/" + url.PathEscape(conversationID) +
		"/participants/" + url.PathEscape(participantID) + "/replace/queue"
	return c.do(ctx, "transfer to queue", http.MethodPost, u, body, nil)
}

// Disconnect ends a whole message conversation:
// PATCH /api/v2/conversations/messages/{conversationId} with
// {"state":"disconnected"}, the only valid value (genesys.md §3.2).
func (c *Client) Disconnect(ctx context.Context, conversationID string) error {
	if conversationID == "" {
		return fmt.Errorf("genesys: disconnect: empty conversation id")
	}
	u := c.api + "/api/v2/conversations/messages/" + url.PathEscape(conversationID)
	return c.do(ctx, "disconnect", http.MethodPatch, u, map[string]string{"state": StateDisconnected}, nil)
}

// DisconnectParticipant ends one participant of a message conversation,
// such as an agent released when a secure flow starts without reservation
// (genesys.md §3.2: PATCH …/participants/{participantId} with a
// MediaParticipantRequest whose state is "disconnected").
func (c *Client) DisconnectParticipant(ctx context.Context, conversationID, participantID string) error {
	if conversationID == "" || participantID == "" {
		return fmt.Errorf("genesys: disconnect participant: empty conversation or participant id")
	}
	u := c.api + "/api/v2/conversations/messages/" + url.PathEscape(conversationID) + "/participants/" + url.PathEscape(participantID)
	return c.do(ctx, "disconnect participant", http.MethodPatch, u, map[string]string{"state": StateDisconnected}, nil)
}
