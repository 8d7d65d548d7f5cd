package genesys

import (
	"context"
	"errors"
	"net/http"

	"github.com/secureflow/secureflow/internal/emulator/internal/emulate"
)

// Prefix is the path under which Handler serves everything.
const Prefix = "/emulator/genesys"

func (e *Emulator) routes() *http.ServeMux {
	mux := http.NewServeMux()
	// OAuth: the gateway's login URL is http://host/emulator/genesys/login.
	mux.HandleFunc("POST "+Prefix+"/login/oauth/token", e.handleToken)
	// Open Messaging inbound API (genesys.md §1.1): the gateway's API base is
	// http://host/emulator/genesys.
	const inbound = Prefix + "/api/v2/conversations/messages/{integrationId}/inbound/open"
	mux.HandleFunc("POST "+inbound+"/message", e.inbound(kindMessage))
	mux.HandleFunc("POST "+inbound+"/structured/response", e.inbound(kindStructured))
	mux.HandleFunc("POST "+inbound+"/event", e.inbound(kindEvent))
	mux.HandleFunc("POST "+inbound+"/receipt", e.inbound(kindReceipt))
	// Disconnect (genesys.md §3.2).
	mux.HandleFunc("PATCH "+Prefix+"/api/v2/conversations/messages/{conversationId}", e.handleDisconnect)
	// Conversation with participants (genesys.md §1.5 names the GET) and
	// blind transfer to a queue (genesys.md §3.1).
	mux.HandleFunc("GET "+Prefix+"/api/v2/conversations/messages/{conversationId}", e.handleGetConversation)
	mux.HandleFunc("PATCH "+Prefix+"/api/v2/conversations/messages/{conversationId}/participants/{participantId}", e.handleDisconnectParticipant)
	mux.HandleFunc("POST "+Prefix+"/api/v2/conversations/{conversationId}/participants/{participantId}/replace/queue", e.handleReplaceQueue)
	// Notifications API (genesys.md §3.3) and the channels' WebSockets.
	mux.HandleFunc("POST "+Prefix+"/api/v2/notifications/channels", e.handleCreateChannel)
	for _, m := range []string{"GET", "PUT", "POST"} {
		mux.HandleFunc(m+" "+Prefix+"/api/v2/notifications/channels/{channelId}/subscriptions", e.handleSubscriptions)
	}
	mux.HandleFunc("GET "+Prefix+"/notifications/channels/{channelId}", e.handleSocket)
	// The control API (docs/emulators.md).
	mux.HandleFunc("POST "+Prefix+"/agent-messages", e.handleAgentMessage)
	mux.HandleFunc("GET "+Prefix+"/agent-messages", e.handleAgentMessages)
	mux.HandleFunc("GET "+Prefix+"/received", e.handleReceived)
	mux.HandleFunc("GET "+Prefix+"/conversations", e.handleConversations)
	mux.HandleFunc("POST "+Prefix+"/conversations/{conversationId}/disconnect", e.handleControlDisconnect)
	mux.HandleFunc("POST "+Prefix+"/conversations/{conversationId}/agent", e.handleConnectAgent)
	mux.HandleFunc("POST "+Prefix+"/conversations/{conversationId}/agent/leave", e.handleAgentLeave)
	mux.HandleFunc("GET "+Prefix+"/transfers", e.handleTransfers)
	mux.HandleFunc("GET "+Prefix+"/notifications", e.handlePublished)
	mux.HandleFunc("GET "+Prefix+"/notifications/channels", e.handleNotificationChannels)
	mux.HandleFunc("POST "+Prefix+"/notifications/close", e.handleCloseNotifications)
	mux.HandleFunc("GET "+Prefix+"/receipts", e.handleReceipts)
	mux.HandleFunc("GET "+Prefix+"/deliveries", e.handleDeliveries)
	mux.HandleFunc("GET "+Prefix+"/faults", e.handleGetFaults)
	mux.HandleFunc("PUT "+Prefix+"/faults", e.handlePutFaults)
	mux.HandleFunc("GET "+Prefix+"/stats", e.handleStats)
	mux.HandleFunc("POST "+Prefix+"/reset", e.handleReset)
	return mux
}

func (e *Emulator) handleAgentMessage(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ConversationID string `json:"conversationId"`
		Text           string `json:"text"`
	}
	if !emulate.DecodeJSON(w, r, &in) {
		return
	}
	id, err := e.SendAgentMessage(r.Context(), in.ConversationID, in.Text)
	if err != nil {
		writeControlError(w, err)
		return
	}
	emulate.WriteJSON(w, http.StatusOK, map[string]string{"id": id})
}

func (e *Emulator) handleAgentMessages(w http.ResponseWriter, r *http.Request) {
	after, limit, ok := emulate.PageParams(w, r)
	if !ok {
		return
	}
	msgs := emulate.Page(e.AgentMessages(r.URL.Query().Get("conversationId")), func(m AgentMessage) uint64 { return m.Seq }, after, limit)
	emulate.WriteJSON(w, http.StatusOK, map[string]any{"messages": msgs})
}

func (e *Emulator) handleReceived(w http.ResponseWriter, r *http.Request) {
	after, limit, ok := emulate.PageParams(w, r)
	if !ok {
		return
	}
	msgs := emulate.Page(e.ReceivedIn(r.URL.Query().Get("conversationId")), func(m ReceivedMessage) uint64 { return m.Seq }, after, limit)
	emulate.WriteJSON(w, http.StatusOK, map[string]any{"messages": msgs})
}

func (e *Emulator) handleConversations(w http.ResponseWriter, r *http.Request) {
	emulate.WriteJSON(w, http.StatusOK, map[string]any{"conversations": emulate.NonNil(e.Conversations())})
}

func (e *Emulator) handleControlDisconnect(w http.ResponseWriter, r *http.Request) {
	if err := e.Disconnect(r.PathValue("conversationId")); err != nil {
		writeControlError(w, err)
		return
	}
	emulate.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (e *Emulator) handleReceipts(w http.ResponseWriter, r *http.Request) {
	emulate.WriteJSON(w, http.StatusOK, map[string]any{"receipts": e.Receipts()})
}

func (e *Emulator) handleDeliveries(w http.ResponseWriter, r *http.Request) {
	_, limit, ok := emulate.PageParams(w, r)
	if !ok {
		return
	}
	emulate.WriteJSON(w, http.StatusOK, map[string]any{"deliveries": emulate.Last(e.Deliveries(), limit)})
}

func (e *Emulator) handleGetFaults(w http.ResponseWriter, r *http.Request) {
	emulate.WriteJSON(w, http.StatusOK, e.Faults())
}

func (e *Emulator) handlePutFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if !emulate.DecodeJSON(w, r, &f) {
		return
	}
	if err := e.SetFaults(f); err != nil {
		emulate.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	emulate.WriteJSON(w, http.StatusOK, e.Faults())
}

func (e *Emulator) handleStats(w http.ResponseWriter, r *http.Request) {
	emulate.WriteJSON(w, http.StatusOK, e.Stats())
}

func (e *Emulator) handleReset(w http.ResponseWriter, r *http.Request) {
	e.Reset()
	emulate.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func writeControlError(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, ErrUnknownConversation):
		status = http.StatusNotFound
	case errors.Is(err, ErrDisconnected), errors.Is(err, ErrAgentConnected), errors.Is(err, ErrNoAgent):
		status = http.StatusConflict
	case errors.Is(err, ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		status = http.StatusServiceUnavailable
	}
	emulate.WriteJSON(w, status, map[string]string{"error": err.Error()})
}
