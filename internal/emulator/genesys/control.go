package genesys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
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
	// The control API (docs/emulators.md).
	mux.HandleFunc("POST "+Prefix+"/agent-messages", e.handleAgentMessage)
	mux.HandleFunc("GET "+Prefix+"/agent-messages", e.handleAgentMessages)
	mux.HandleFunc("GET "+Prefix+"/received", e.handleReceived)
	mux.HandleFunc("GET "+Prefix+"/conversations", e.handleConversations)
	mux.HandleFunc("POST "+Prefix+"/conversations/{conversationId}/disconnect", e.handleControlDisconnect)
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
	if !decodeJSON(w, r, &in) {
		return
	}
	id, err := e.SendAgentMessage(r.Context(), in.ConversationID, in.Text)
	if err != nil {
		writeControlError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
}

func (e *Emulator) handleAgentMessages(w http.ResponseWriter, r *http.Request) {
	after, limit, ok := pageParams(w, r)
	if !ok {
		return
	}
	msgs := e.AgentMessages(r.URL.Query().Get("conversationId"))
	i := 0
	for i < len(msgs) && msgs[i].Seq <= after {
		i++
	}
	msgs = msgs[i:]
	if limit > 0 && len(msgs) > limit {
		msgs = msgs[len(msgs)-limit:]
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": nonNil(msgs)})
}

func (e *Emulator) handleReceived(w http.ResponseWriter, r *http.Request) {
	after, limit, ok := pageParams(w, r)
	if !ok {
		return
	}
	msgs := e.ReceivedIn(r.URL.Query().Get("conversationId"))
	i := 0
	for i < len(msgs) && msgs[i].Seq <= after {
		i++
	}
	msgs = msgs[i:]
	if limit > 0 && len(msgs) > limit {
		msgs = msgs[len(msgs)-limit:]
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": nonNil(msgs)})
}

func (e *Emulator) handleConversations(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"conversations": nonNil(e.Conversations())})
}

func (e *Emulator) handleControlDisconnect(w http.ResponseWriter, r *http.Request) {
	if err := e.Disconnect(r.PathValue("conversationId")); err != nil {
		writeControlError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (e *Emulator) handleReceipts(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"receipts": e.Receipts()})
}

func (e *Emulator) handleDeliveries(w http.ResponseWriter, r *http.Request) {
	_, limit, ok := pageParams(w, r)
	if !ok {
		return
	}
	ds := e.Deliveries()
	if limit > 0 && len(ds) > limit {
		ds = ds[len(ds)-limit:]
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": ds})
}

func (e *Emulator) handleGetFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, e.Faults())
}

func (e *Emulator) handlePutFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if !decodeJSON(w, r, &f) {
		return
	}
	if err := e.SetFaults(f); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, e.Faults())
}

func (e *Emulator) handleStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, e.Stats())
}

func (e *Emulator) handleReset(w http.ResponseWriter, r *http.Request) {
	e.Reset()
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// pageParams reads the optional after (a Seq) and limit (the last N)
// query parameters.
func pageParams(w http.ResponseWriter, r *http.Request) (after uint64, limit int, ok bool) {
	q := r.URL.Query()
	var err error
	if s := q.Get("after"); s != "" {
		if after, err = strconv.ParseUint(s, 10, 64); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "after must be a non-negative integer"})
			return 0, 0, false
		}
	}
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be a non-negative integer"})
			return 0, 0, false
		}
	}
	return after, limit, true
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// maxControlBody bounds a control API request body.
const maxControlBody = 4 << 20

// decodeJSON reads exactly one JSON value into v, rejecting unknown fields,
// and answers 400 or 413 itself when it cannot.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body unreadable or too large"})
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("invalid JSON: %v", err)})
		return false
	}
	if dec.More() {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON: more than one value"})
		return false
	}
	return true
}

func writeControlError(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, ErrUnknownConversation):
		status = http.StatusNotFound
	case errors.Is(err, ErrDisconnected):
		status = http.StatusConflict
	case errors.Is(err, ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
