package genesys

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/secureflow/secureflow/internal/emulator/internal/emulate"
)

// Defaults for the participants of emulated conversations.
const (
	// DefaultQueueID and DefaultQueueName are the queue new conversations
	// are routed through (their acd participant).
	DefaultQueueID   = "2a5b8a3e-7c1d-4f0e-9b6a-5d4c3b2a1f00"
	DefaultQueueName = "Support"
	// DefaultAgentUserID and DefaultAgentName identify the agent connected
	// automatically, or by the control API when it names none.
	DefaultAgentUserID = "8f2d6c1b-3e4a-4b5c-8d7e-6f5a4b3c2d10"
	DefaultAgentName   = "Emulated Agent"
)

// Participant purposes (Go SDK platformclientv2/messagemediaparticipant.go:
// 'agent', 'user', 'customer', 'external', 'acd', 'ivr').
const (
	PurposeCustomer = "customer"
	PurposeACD      = "acd"
	PurposeAgent    = "agent"
)

// Disconnect types used by the emulator (genesys.md §3.3 lists CLIENT,
// ENDPOINT, TRANSFER, SYSTEM, INACTIVITY, SESSION_EXPIRED, ...).
const (
	DisconnectClient   = "CLIENT"
	DisconnectTransfer = "TRANSFER"
	DisconnectSystem   = "SYSTEM"
)

// Errors of the participant operations.
var (
	// ErrAgentConnected means the conversation already has a connected agent.
	ErrAgentConnected = errors.New("an agent is already connected")
	// ErrNoAgent means the conversation has no connected agent.
	ErrNoAgent = errors.New("no agent is connected")
	// ErrUnknownParticipant means the conversation has no participant with
	// that id.
	ErrUnknownParticipant = errors.New("unknown participant")
	// ErrParticipantDisconnected means the participant already left.
	ErrParticipantDisconnected = errors.New("participant already disconnected")
)

// Participant is one participant of a conversation: the customer, the acd
// (queue) leg, or an agent.
type Participant struct {
	// ID is the participantId.
	ID string `json:"id"`
	// Purpose is customer, acd or agent.
	Purpose string `json:"purpose"`
	// State is connected or disconnected.
	State string `json:"state"`
	// Name is the agent's or the queue's name, or the customer's nickname.
	Name string `json:"name,omitempty"`
	// UserID is the agent's Genesys user id.
	UserID string `json:"userId,omitempty"`
	// QueueID is the queue of an acd participant, and the queue an agent
	// was routed from.
	QueueID string `json:"queueId,omitempty"`
	// DisconnectType says why it left: CLIENT, TRANSFER, SYSTEM.
	DisconnectType string `json:"disconnectType,omitempty"`
	// StartTime is when it joined.
	StartTime time.Time `json:"startTime"`
	// EndTime is when it left.
	EndTime time.Time `json:"endTime,omitzero"`
}

// Transfer is a replace/queue call the emulator accepted (genesys.md §3.1).
type Transfer struct {
	// ConversationID and ParticipantID are the path parameters.
	ConversationID string `json:"conversationId"`
	ParticipantID  string `json:"participantId"`
	// QueueID is the queue transferred to (resolved from QueueName when the
	// request named the queue).
	QueueID string `json:"queueId"`
	// QueueName is the request's queueName, if any.
	QueueName string `json:"queueName,omitempty"`
	// TransferType is as sent ("Unattended" when absent, its default).
	TransferType string `json:"transferType"`
	// Time is when it was accepted.
	Time time.Time `json:"time"`
}

// addInitialParticipantsLocked gives a new conversation its customer and
// acd participants and, unless Config.ManualAgent, an agent.
func (e *Emulator) addInitialParticipantsLocked(c *Conversation, now time.Time) {
	c.Participants = append(c.Participants,
		Participant{ID: newUUID(), Purpose: PurposeCustomer, State: StateConnected, Name: c.Nickname, StartTime: now},
		Participant{ID: newUUID(), Purpose: PurposeACD, State: StateConnected, Name: e.queueName(e.cfg.QueueID),
			QueueID: e.cfg.QueueID, StartTime: now})
	if !e.cfg.ManualAgent {
		e.connectAgentLocked(c, DefaultAgentUserID, DefaultAgentName, now)
	}
}

func (e *Emulator) queueName(id string) string {
	for name, qid := range e.cfg.Queues {
		if qid == id {
			return name
		}
	}
	return ""
}

// connectAgentLocked routes the conversation's connected acd leg to an
// agent: the acd participant ends (disconnectType TRANSFER, inference) and
// an agent participant joins with the acd leg's queue.
func (e *Emulator) connectAgentLocked(c *Conversation, userID, name string, now time.Time) Participant {
	queue := e.cfg.QueueID
	for i := range c.Participants {
		if p := &c.Participants[i]; p.Purpose == PurposeACD && p.State == StateConnected {
			queue = p.QueueID
			p.State, p.DisconnectType, p.EndTime = StateDisconnected, DisconnectTransfer, now
		}
	}
	p := Participant{ID: newUUID(), Purpose: PurposeAgent, State: StateConnected, Name: name, UserID: userID,
		QueueID: queue, StartTime: now}
	c.Participants = append(c.Participants, p)
	return p
}

func connectedAgent(c *Conversation) *Participant {
	for i := len(c.Participants) - 1; i >= 0; i-- {
		if p := &c.Participants[i]; p.Purpose == PurposeAgent && p.State == StateConnected {
			return p
		}
	}
	return nil
}

// ConnectAgent connects an agent to a conversation, as routing does when an
// agent answers. An empty userID or name means DefaultAgentUserID or
// DefaultAgentName.
func (e *Emulator) ConnectAgent(conversationID, userID, name string) (Participant, error) {
	userID = orDefault(userID, DefaultAgentUserID)
	name = orDefault(name, DefaultAgentName)
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.conversations.Get(conversationID)
	switch {
	case !ok:
		return Participant{}, ErrUnknownConversation
	case c.State == StateDisconnected:
		return Participant{}, ErrDisconnected
	case connectedAgent(c) != nil:
		return Participant{}, ErrAgentConnected
	}
	return e.connectAgentLocked(c, userID, name, e.cfg.Now()), nil
}

// AgentLeave disconnects the conversation's agent (disconnectType CLIENT)
// and publishes user.end to the subscribers of the conversation's topic
// (genesys.md §3.3). The customer stays connected: ending the whole
// conversation is Disconnect (inference: what Genesys does to the customer
// leg when the last agent leaves is not in the fact sheet).
func (e *Emulator) AgentLeave(conversationID string) (Participant, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.conversations.Get(conversationID)
	if !ok {
		return Participant{}, ErrUnknownConversation
	}
	p := connectedAgent(c)
	if p == nil {
		return Participant{}, ErrNoAgent
	}
	e.endParticipantLocked(c, p, DisconnectClient, e.cfg.Now())
	return *p, nil
}

// endParticipantLocked disconnects p and, for an agent, publishes user.end.
func (e *Emulator) endParticipantLocked(c *Conversation, p *Participant, disconnectType string, now time.Time) {
	p.State, p.DisconnectType, p.EndTime = StateDisconnected, disconnectType, now
	if p.Purpose == PurposeAgent {
		e.publishUserEndLocked(c.ID, *p, now)
	}
}

// disconnect ends a conversation and all its participants.
func (e *Emulator) disconnect(conversationID, disconnectType string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.conversations.Get(conversationID)
	if !ok {
		return ErrUnknownConversation
	}
	if c.State == StateDisconnected {
		return nil
	}
	now := e.cfg.Now()
	c.State, c.EndedAt = StateDisconnected, now
	for i := range c.Participants {
		if p := &c.Participants[i]; p.State == StateConnected {
			e.endParticipantLocked(c, p, disconnectType, now)
		}
	}
	return nil
}

// TransferToQueue replaces a participant with an acd participant for a
// queue, as POST .../participants/{participantId}/replace/queue does
// (genesys.md §3.1): the participant is disconnected with disconnectType
// TRANSFER (an agent's user.end is published) and the acd participant
// joins. Exactly one of queueID and queueName must be set; a queueName must
// be a key of Config.Queues (inference: how Genesys resolves names is not in
// the fact sheet).
func (e *Emulator) TransferToQueue(conversationID, participantID, queueID, queueName, transferType string) (Transfer, error) {
	if (queueID == "") == (queueName == "") {
		return Transfer{}, errors.New("exactly one of queueId and queueName is required")
	}
	switch transferType {
	case "":
		transferType = "Unattended" // genesys.md §3.1: default Unattended
	case "Attended", "Unattended":
	default:
		return Transfer{}, errors.New(`transferType must be "Attended" or "Unattended"`)
	}
	if queueName != "" {
		id, ok := e.cfg.Queues[queueName]
		if !ok {
			return Transfer{}, errUnknownQueue
		}
		queueID = id
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.conversations.Get(conversationID)
	if !ok {
		return Transfer{}, ErrUnknownConversation
	}
	i := slices.IndexFunc(c.Participants, func(p Participant) bool { return p.ID == participantID })
	if i < 0 {
		return Transfer{}, ErrUnknownParticipant
	}
	if c.State == StateDisconnected {
		return Transfer{}, ErrDisconnected
	}
	if c.Participants[i].State != StateConnected {
		return Transfer{}, ErrParticipantDisconnected
	}
	now := e.cfg.Now()
	e.endParticipantLocked(c, &c.Participants[i], DisconnectTransfer, now)
	c.Participants = append(c.Participants, Participant{ID: newUUID(), Purpose: PurposeACD, State: StateConnected,
		Name: e.queueName(queueID), QueueID: queueID, StartTime: now})
	t := Transfer{ConversationID: conversationID, ParticipantID: participantID, QueueID: queueID, QueueName: queueName,
		TransferType: transferType, Time: now}
	e.transfers.Push(t)
	return t, nil
}

var errUnknownQueue = errors.New("queue not found")

// Transfers returns the transfers accepted, oldest first.
func (e *Emulator) Transfers() []Transfer {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.transfers.All()
}

// apiParticipant is a participant as the conversation API renders it: the
// Go SDK's Messagemediaparticipant (user and queue are entity references).
// genesys.md does not give this shape (inference).
type apiParticipant struct {
	ID             string     `json:"id"`
	Name           string     `json:"name,omitempty"`
	Purpose        string     `json:"purpose"`
	State          string     `json:"state"`
	DisconnectType string     `json:"disconnectType,omitempty"`
	StartTime      string     `json:"startTime,omitempty"`
	EndTime        string     `json:"endTime,omitempty"`
	User           *entityRef `json:"user,omitempty"`
	Queue          *entityRef `json:"queue,omitempty"`
}

type entityRef struct {
	ID string `json:"id"`
}

// handleGetConversation is GET /api/v2/conversations/messages/{conversationId}
// (genesys.md §1.5 names the call; the body is the SDK's MessageConversation
// reduced to id and participants (inference)).
func (e *Emulator) handleGetConversation(w http.ResponseWriter, r *http.Request) {
	if ae := e.authenticate(r); ae != nil {
		e.writeAPIError(w, ae)
		return
	}
	id := r.PathValue("conversationId")
	e.mu.Lock()
	c, ok := e.conversations.Get(id)
	var parts []Participant
	if ok {
		parts = slices.Clone(c.Participants)
	}
	e.mu.Unlock()
	if !ok {
		e.writeAPIError(w, notFound("Conversation not found."))
		return
	}
	out := struct {
		ID           string           `json:"id"`
		Participants []apiParticipant `json:"participants"`
	}{ID: id, Participants: []apiParticipant{}}
	for _, p := range parts {
		a := apiParticipant{ID: p.ID, Name: p.Name, Purpose: p.Purpose, State: p.State, DisconnectType: p.DisconnectType,
			StartTime: p.StartTime.UTC().Format(timeLayout)}
		if !p.EndTime.IsZero() {
			a.EndTime = p.EndTime.UTC().Format(timeLayout)
		}
		if p.UserID != "" {
			a.User = &entityRef{ID: p.UserID}
		}
		if p.QueueID != "" {
			a.Queue = &entityRef{ID: p.QueueID}
		}
		out.Participants = append(out.Participants, a)
	}
	emulate.WriteJSON(w, http.StatusOK, out)
}

func notFound(msg string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "not.found", message: msg}
}

// handleReplaceQueue is POST
// /api/v2/conversations/{conversationId}/participants/{participantId}/replace/queue
// with TransferToQueueRequest {queueId | queueName, transferType,
// keepInternalMessageAlive} (genesys.md §3.1). It answers 202 with no body
// (inference: the SDK method returns no model).
func (e *Emulator) handleReplaceQueue(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	e.keepRaw(raw)
	if ae := e.authenticate(r); ae != nil {
		e.writeAPIError(w, ae)
		return
	}
	var body struct {
		QueueID                  string `json:"queueId"`
		QueueName                string `json:"queueName"`
		TransferType             string `json:"transferType"`
		KeepInternalMessageAlive bool   `json:"keepInternalMessageAlive"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		e.writeAPIError(w, badRequest("The request body is not a TransferToQueueRequest."))
		return
	}
	_, err := e.TransferToQueue(r.PathValue("conversationId"), r.PathValue("participantId"),
		body.QueueID, body.QueueName, body.TransferType)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusAccepted)
	case errors.Is(err, ErrUnknownConversation):
		e.writeAPIError(w, notFound("Conversation not found."))
	case errors.Is(err, ErrUnknownParticipant):
		e.writeAPIError(w, notFound("Participant not found."))
	case errors.Is(err, errUnknownQueue):
		e.writeAPIError(w, notFound("Queue not found."))
	case errors.Is(err, ErrDisconnected), errors.Is(err, ErrParticipantDisconnected):
		e.writeAPIError(w, &apiError{status: http.StatusConflict, code: "conflict", message: err.Error()})
	default:
		e.writeAPIError(w, badRequest("%s", err.Error()))
	}
}

func (e *Emulator) handleConnectAgent(w http.ResponseWriter, r *http.Request) {
	var in struct {
		UserID string `json:"userId"`
		Name   string `json:"name"`
	}
	if r.ContentLength != 0 && !emulate.DecodeJSON(w, r, &in) {
		return
	}
	p, err := e.ConnectAgent(r.PathValue("conversationId"), in.UserID, in.Name)
	if err != nil {
		writeControlError(w, err)
		return
	}
	emulate.WriteJSON(w, http.StatusOK, p)
}

func (e *Emulator) handleAgentLeave(w http.ResponseWriter, r *http.Request) {
	p, err := e.AgentLeave(r.PathValue("conversationId"))
	if err != nil {
		writeControlError(w, err)
		return
	}
	emulate.WriteJSON(w, http.StatusOK, p)
}

func (e *Emulator) handleTransfers(w http.ResponseWriter, r *http.Request) {
	emulate.WriteJSON(w, http.StatusOK, map[string]any{"transfers": emulate.NonNil(e.Transfers())})
}

// DisconnectParticipant ends one participant (genesys.md §3.2). An agent
// ended this way is recorded with disconnectType CLIENT and published as
// user.end (inference: the fact sheet does not say which type Genesys
// records for a participant ended through the API).
func (e *Emulator) DisconnectParticipant(conversationID, participantID string) (Participant, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.conversations.Get(conversationID)
	if !ok {
		return Participant{}, ErrUnknownConversation
	}
	for i := range c.Participants {
		if p := &c.Participants[i]; p.ID == participantID {
			if p.State != StateDisconnected {
				e.endParticipantLocked(c, p, DisconnectClient, e.cfg.Now())
			}
			return *p, nil
		}
	}
	return Participant{}, ErrUnknownParticipant
}

func (e *Emulator) handleDisconnectParticipant(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	e.keepRaw(raw)
	if ae := e.authenticate(r); ae != nil {
		e.writeAPIError(w, ae)
		return
	}
	var body struct {
		State string `json:"state"`
	}
	if json.Unmarshal(raw, &body) != nil || body.State != StateDisconnected {
		e.writeAPIError(w, badRequest(`state must be "disconnected".`))
		return
	}
	p, err := e.DisconnectParticipant(r.PathValue("conversationId"), r.PathValue("participantId"))
	if err != nil {
		e.writeAPIError(w, &apiError{status: http.StatusNotFound, code: "not.found", message: "Conversation or participant not found."})
		return
	}
	emulate.WriteJSON(w, http.StatusOK, p)
}
