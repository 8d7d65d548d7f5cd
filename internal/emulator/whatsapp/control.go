package whatsapp

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/secureflow/secureflow/internal/emulator/internal/emulate"
)

// Prefix is the path under which Handler serves everything.
const Prefix = "/emulator/whatsapp"

func (e *Emulator) routes() *http.ServeMux {
	mux := http.NewServeMux()
	// The Graph API: the gateway's graph base URL is http://host/emulator/whatsapp/graph.
	mux.HandleFunc("POST "+Prefix+"/graph/{version}/{phoneNumberID}/messages", e.handleSend)
	// The control API (docs/emulators.md).
	mux.HandleFunc("POST "+Prefix+"/customer-messages", e.handleCustomerMessage)
	mux.HandleFunc("POST "+Prefix+"/customer-messages/batch", e.handleCustomerBatch)
	mux.HandleFunc("POST "+Prefix+"/statuses", e.handleStatus)
	mux.HandleFunc("POST "+Prefix+"/handshake", e.handleHandshake)
	mux.HandleFunc("GET "+Prefix+"/sent", e.handleSent)
	mux.HandleFunc("GET "+Prefix+"/read-marks", e.handleReadMarks)
	mux.HandleFunc("GET "+Prefix+"/deliveries", e.handleDeliveries)
	mux.HandleFunc("GET "+Prefix+"/faults", e.handleGetFaults)
	mux.HandleFunc("PUT "+Prefix+"/faults", e.handlePutFaults)
	mux.HandleFunc("GET "+Prefix+"/stats", e.handleStats)
	mux.HandleFunc("POST "+Prefix+"/reset", e.handleReset)
	// WhatsApp Flows (flows.go).
	mux.HandleFunc("GET "+Prefix+"/flows", e.handleFlows)
	mux.HandleFunc("POST "+Prefix+"/flows/submit", e.handleSubmitFlow)
	return mux
}

// customerMessageJSON is the control API's shape of a CustomerMessage.
type customerMessageJSON struct {
	From        string `json:"from"`
	Name        string `json:"name"`
	Text        string `json:"text"`
	ButtonReply *Reply `json:"button_reply"`
	ListReply   *Reply `json:"list_reply"`
	Timestamp   int64  `json:"timestamp"` // Unix seconds; 0 means now
	ContextID   string `json:"context_id"`
}

func (c customerMessageJSON) message() CustomerMessage {
	m := CustomerMessage{From: c.From, Name: c.Name, Text: c.Text, ButtonReply: c.ButtonReply,
		ListReply: c.ListReply, ContextID: c.ContextID}
	if c.Timestamp != 0 {
		m.Timestamp = time.Unix(c.Timestamp, 0)
	}
	return m
}

func (e *Emulator) handleCustomerMessage(w http.ResponseWriter, r *http.Request) {
	var in customerMessageJSON
	if !emulate.DecodeJSON(w, r, &in) {
		return
	}
	id, err := e.SendCustomerMessage(r.Context(), in.message())
	if err != nil {
		writeControlError(w, err)
		return
	}
	emulate.WriteJSON(w, http.StatusOK, map[string]string{"id": id})
}

func (e *Emulator) handleCustomerBatch(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Messages []customerMessageJSON `json:"messages"`
	}
	if !emulate.DecodeJSON(w, r, &in) {
		return
	}
	msgs := make([]CustomerMessage, len(in.Messages))
	for i, m := range in.Messages {
		msgs[i] = m.message()
	}
	ids, err := e.SendBatch(r.Context(), msgs)
	if err != nil {
		writeControlError(w, err)
		return
	}
	emulate.WriteJSON(w, http.StatusOK, map[string][]string{"ids": ids})
}

func (e *Emulator) handleStatus(w http.ResponseWriter, r *http.Request) {
	var in struct {
		MessageID   string `json:"message_id"`
		Status      string `json:"status"`
		RecipientID string `json:"recipient_id"`
		Timestamp   int64  `json:"timestamp"`
		Error       *struct {
			Code    int    `json:"code"`
			Title   string `json:"title"`
			Details string `json:"details"`
		} `json:"error"`
	}
	if !emulate.DecodeJSON(w, r, &in) {
		return
	}
	s := StatusUpdate{MessageID: in.MessageID, Status: in.Status, RecipientID: in.RecipientID}
	if in.Timestamp != 0 {
		s.Timestamp = time.Unix(in.Timestamp, 0)
	}
	if in.Error != nil {
		s.Error = &StatusError{Code: in.Error.Code, Title: in.Error.Title, Details: in.Error.Details}
	}
	if err := e.SendStatus(r.Context(), s); err != nil {
		writeControlError(w, err)
		return
	}
	emulate.WriteJSON(w, http.StatusOK, map[string]bool{"queued": true})
}

func (e *Emulator) handleHandshake(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Challenge string `json:"challenge"`
	}
	if r.ContentLength != 0 && !emulate.DecodeJSON(w, r, &in) {
		return
	}
	if err := e.Handshake(r.Context(), in.Challenge); err != nil {
		emulate.WriteJSON(w, http.StatusBadGateway, map[string]any{"ok": false, "error": err.Error()})
		return
	}
	emulate.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (e *Emulator) handleSent(w http.ResponseWriter, r *http.Request) {
	after, limit, ok := emulate.PageParams(w, r)
	if !ok {
		return
	}
	msgs := emulate.Page(e.SentTo(r.URL.Query().Get("to")), func(m SentMessage) uint64 { return m.Seq }, after, limit)
	emulate.WriteJSON(w, http.StatusOK, map[string]any{"messages": msgs})
}

func (e *Emulator) handleReadMarks(w http.ResponseWriter, r *http.Request) {
	emulate.WriteJSON(w, http.StatusOK, map[string]any{"read_marks": e.ReadMarks()})
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
	if errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		status = http.StatusServiceUnavailable
	}
	emulate.WriteJSON(w, status, map[string]string{"error": err.Error()})
}
