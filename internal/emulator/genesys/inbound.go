package genesys

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/secureflow/secureflow/internal/emulator/internal/emulate"
)

// ReceivedMessage is one customer message the contact centre received
// through the inbound API (a text/content message or a structured response):
// what the agent sees.
type ReceivedMessage struct {
	// Seq orders received and agent messages on one sequence starting at 1,
	// so both sides of a conversation can be merged; use it with ?after=.
	Seq uint64 `json:"seq"`
	// ID is the message id Genesys generated.
	ID string `json:"id"`
	// ConversationID is the conversation the message joined.
	ConversationID string `json:"conversationId"`
	// MessageID is channel.messageId, the provider's id: the gateway's
	// idempotency key.
	MessageID string `json:"messageId"`
	// FromID, IDType, Nickname, FirstName and LastName come from channel.from.
	FromID    string `json:"fromId"`
	IDType    string `json:"idType"`
	Nickname  string `json:"nickname,omitempty"`
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
	// Text is the message text (or the structured response's text).
	Text string `json:"text,omitempty"`
	// Content is the content array as sent (attachments).
	Content json.RawMessage `json:"content,omitempty"`
	// ButtonResponse is set for structured responses.
	ButtonResponse *ButtonResponse `json:"buttonResponse,omitempty"`
	// OriginatingMessageID is the structured message a response answers.
	OriginatingMessageID string `json:"originatingMessageId,omitempty"`
	// Time is channel.time.
	Time time.Time `json:"time"`
	// CustomAttributes are channel.metadata.customAttributes (participant
	// data, genesys.md §1.2); non-string values are kept as their JSON text.
	CustomAttributes map[string]string `json:"customAttributes,omitempty"`
	// Metadata is the top-level metadata map.
	Metadata map[string]string `json:"metadata,omitempty"`
	// ReceivedAt is when the emulator accepted it.
	ReceivedAt time.Time `json:"receivedAt"`
}

// ButtonResponse is a customer's answer to a structured message
// (genesys.md §1.4).
type ButtonResponse struct {
	// Type is Button, QuickReply or DatePicker.
	Type string `json:"type"`
	// Text is what the customer chose, as shown.
	Text string `json:"text"`
	// Payload is the chosen option's payload.
	Payload string `json:"payload"`
}

// Receipt is a delivery receipt the gateway sent for an agent message
// (genesys.md §1.5).
type Receipt struct {
	// MessageID is the id of the outbound (agent) message acknowledged.
	MessageID string `json:"messageId"`
	// ConversationID is that message's conversation, when Known.
	ConversationID string `json:"conversationId,omitempty"`
	// Known is set when MessageID is an agent message this emulator sent.
	Known bool `json:"known"`
	// Status is Delivered or Failed.
	Status string `json:"status"`
	// Reasons explain a failure.
	Reasons []Reason `json:"reasons,omitempty"`
	// IsFinalReceipt is as sent.
	IsFinalReceipt bool `json:"isFinalReceipt"`
	// ToID is channel.to.id.
	ToID string `json:"toId"`
	// Time is channel.time.
	Time time.Time `json:"time"`
	// ReceivedAt is when the emulator accepted it.
	ReceivedAt time.Time `json:"receivedAt"`
}

// Reason is one reason of a failed receipt.
type Reason struct {
	// Code is one of the reason codes of genesys.md §1.5.
	Code string `json:"code"`
	// Message describes it.
	Message string `json:"message"`
}

// Conversation is one customer's message conversation: one per customer id,
// kept until it is disconnected; the customer's next message opens a new one.
type Conversation struct {
	// ID is the conversationId (a UUID).
	ID string `json:"conversationId"`
	// CustomerID is the customer's channel.from.id.
	CustomerID string `json:"customerId"`
	// IDType is the customer's idType, in its canonical case.
	IDType string `json:"idType"`
	// Nickname is the customer's nickname at the first message.
	Nickname string `json:"nickname,omitempty"`
	// State is "connected" or "disconnected".
	State string `json:"state"`
	// Messages counts customer messages received in it.
	Messages int `json:"messages"`
	// StartedAt is when the first message arrived.
	StartedAt time.Time `json:"startedAt"`
	// EndedAt is when it was disconnected.
	EndedAt time.Time `json:"endedAt,omitzero"`
	// Participants are the customer, acd and agent participants, in the
	// order they joined, disconnected ones included.
	Participants []Participant `json:"participants"`
}

// Conversation states.
const (
	StateConnected    = "connected"
	StateDisconnected = "disconnected"
)

// Received returns the messages the contact centre received, oldest first.
func (e *Emulator) Received() []ReceivedMessage { return e.ReceivedIn("") }

// ReceivedIn returns the messages received in one conversation, oldest
// first; an empty id returns them all.
func (e *Emulator) ReceivedIn(conversationID string) []ReceivedMessage {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.received.Filter(func(m ReceivedMessage) bool { return conversationID == "" || m.ConversationID == conversationID })
}

// Receipts returns the receipts the gateway sent, oldest first.
func (e *Emulator) Receipts() []Receipt {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.receipts.All()
}

// RawBodies returns every request body the inbound API and the
// conversation API received, byte for byte and oldest first, including
// rejected ones: leak tests search them for secrets.
func (e *Emulator) RawBodies() [][]byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rawBodies.All()
}

// Conversations returns the known conversations, oldest first.
func (e *Emulator) Conversations() []Conversation {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Conversation
	e.conversations.Each(func(_ string, c *Conversation) bool {
		cp := *c
		cp.Participants = slices.Clone(c.Participants)
		out = append(out, cp)
		return true
	})
	return out
}

// ConversationFor returns the connected conversation of a customer id.
func (e *Emulator) ConversationFor(customerID string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.connectedLocked(customerID); c != nil {
		return c.ID, true
	}
	return "", false
}

func (e *Emulator) connectedLocked(customerID string) *Conversation {
	id, ok := e.active.Get(customerID)
	if !ok {
		return nil
	}
	if c, ok := e.conversations.Get(id); ok && c.State == StateConnected {
		return c
	}
	return nil
}

// Disconnect ends a conversation, as an agent disconnecting does: every
// connected participant is disconnected with disconnectType CLIENT, and a
// connected agent's user.end is published (genesys.md §3.3). The
// customer's next message opens a new conversation. Disconnecting twice is
// not an error.
func (e *Emulator) Disconnect(conversationID string) error {
	return e.disconnect(conversationID, DisconnectClient)
}

// apiError is an answer in Genesys's error body: the SDKs' ErrorBody
// (message, code, status, contextId, details, errors). The exact code
// strings Genesys uses for each case are not in the fact sheet.
type apiError struct {
	status  int
	code    string
	message string
}

func badRequest(format string, a ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "bad.request", message: fmt.Sprintf(format, a...)}
}

func (e *Emulator) writeAPIError(w http.ResponseWriter, ae *apiError) {
	e.mu.Lock()
	e.stats.Rejected++
	e.mu.Unlock()
	emulate.WriteJSON(w, ae.status, map[string]any{
		"message": ae.message, "code": ae.code, "status": ae.status,
		"contextId": newUUID(), "details": []any{}, "errors": []any{},
	})
}

// recipient is channel.from / channel.to (genesys.md §1.2, §1.6).
// encoding/json matches keys case-insensitively, so the "nickName" spelling
// of some samples is accepted too.
type recipient struct {
	Nickname  string `json:"nickname,omitempty"`
	ID        string `json:"id"`
	IDType    string `json:"idType,omitempty"`
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
	Image     string `json:"image,omitempty"`
	Email     string `json:"email,omitempty"`
}

// channel is the channel object of requests, responses and webhooks.
type channel struct {
	ID        string          `json:"id,omitempty"`
	Platform  string          `json:"platform,omitempty"`
	Type      string          `json:"type,omitempty"`
	MessageID string          `json:"messageId,omitempty"`
	To        *recipient      `json:"to,omitempty"`
	From      *recipient      `json:"from,omitempty"`
	Time      string          `json:"time,omitempty"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
}

// inboundBody is the union of OpenInboundNormalizedMessage,
// OpenInboundStructuredResponseMessage, OpenInboundNormalizedEvent and
// OpenInboundNormalizedReceipt (genesys.md §1.2–§1.5). Extra fields, such as
// the platform/type/to/direction of older payloads, are tolerated.
type inboundBody struct {
	ID                   string            `json:"id"`
	Channel              *channel          `json:"channel"`
	Text                 string            `json:"text"`
	Content              json.RawMessage   `json:"content"`
	Metadata             map[string]string `json:"metadata"`
	ButtonResponse       *ButtonResponse   `json:"buttonResponse"`
	OriginatingMessageID string            `json:"originatingMessageId"`
	Events               []struct {
		EventType string `json:"eventType"`
	} `json:"events"`
	Status         string   `json:"status"`
	Reasons        []Reason `json:"reasons"`
	IsFinalReceipt bool     `json:"isFinalReceipt"`
}

// normalized is the response body: OpenMessageNormalizedMessage,
// OpenStructuredResponseNormalizedMessage, OpenEventNormalizedMessage or
// OpenReceiptNormalizedMessage (genesys.md §1.3).
type normalized struct {
	ID                   string            `json:"id"`
	Channel              channel           `json:"channel"`
	Type                 string            `json:"type"`
	Text                 string            `json:"text,omitempty"`
	Content              json.RawMessage   `json:"content,omitempty"`
	ButtonResponse       *ButtonResponse   `json:"buttonResponse,omitempty"`
	OriginatingMessageID string            `json:"originatingMessageId,omitempty"`
	Events               any               `json:"events,omitempty"`
	Status               string            `json:"status,omitempty"`
	Reasons              []Reason          `json:"reasons,omitempty"`
	IsFinalReceipt       *bool             `json:"isFinalReceipt,omitempty"`
	Metadata             map[string]string `json:"metadata,omitempty"`
	ConversationID       string            `json:"conversationId,omitempty"`
}

type inboundKind int

const (
	kindMessage inboundKind = iota
	kindStructured
	kindEvent
	kindReceipt
)

// maxInboundBody bounds an inbound API request body.
const maxInboundBody = 1 << 20

// inbound serves one of the four inbound endpoints (genesys.md §1.1).
func (e *Emulator) inbound(kind inboundKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Read the whole body first: net/http notices a caller that gives
		// up only once the body is consumed, and the Timeout fault relies
		// on it. Every byte received is kept for leak tests.
		raw, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInboundBody))
		e.keepRaw(raw)
		if ae := e.authenticate(r); ae != nil {
			e.writeAPIError(w, ae)
			return
		}
		fault, f := e.faults.Before()
		if f.Latency > 0 && !e.wait(r.Context(), f.Latency) {
			return
		}
		switch fault {
		case emulate.Call429:
			secs := max(int((f.RetryAfter+time.Second-1)/time.Second), 1)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			e.writeAPIError(w, &apiError{status: http.StatusTooManyRequests, code: "too.many.requests",
				message: fmt.Sprintf("Rate limit exceeded the maximum. Retry the request in [%d] seconds", secs)})
			return
		case emulate.Call500:
			e.writeAPIError(w, &apiError{status: http.StatusInternalServerError, code: "internal.server.error",
				message: "The server encountered an unexpected condition which prevented it from fulfilling the request."})
			return
		case emulate.CallTimeout:
			e.hang(w, r)
			return
		}
		if readErr != nil {
			e.writeAPIError(w, &apiError{status: http.StatusRequestEntityTooLarge, code: "request.entity.too.large",
				message: "Request body unreadable or larger than 1 MiB."})
			return
		}
		if id := r.PathValue("integrationId"); id != e.cfg.IntegrationID {
			e.writeAPIError(w, &apiError{status: http.StatusNotFound, code: "not.found",
				message: fmt.Sprintf("Open Messaging integration %q not found.", id)})
			return
		}
		var body inboundBody
		if err := json.Unmarshal(raw, &body); err != nil {
			e.writeAPIError(w, badRequest("The request body is not valid JSON of the expected shape: %v", err))
			return
		}
		var (
			resp []byte
			ae   *apiError
		)
		switch kind {
		case kindMessage, kindStructured:
			// genesys.md §1.3: conversationId is "the conversationId context
			// for the message", populated when prefetchConversationId=true
			// (inference from the parameter's name).
			prefetch := r.URL.Query().Get("prefetchConversationId") == "true"
			resp, ae = e.acceptMessage(r.Context(), kind, &body, prefetch)
		case kindEvent:
			resp, ae = e.acceptEvent(&body)
		case kindReceipt:
			resp, ae = e.acceptReceipt(&body)
		}
		if ae != nil {
			e.writeAPIError(w, ae)
			return
		}
		if e.faults.AcceptThenTimeout() {
			e.hang(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(resp)
	}
}

func (e *Emulator) keepRaw(raw []byte) {
	if len(raw) == 0 {
		return
	}
	e.mu.Lock()
	e.rawBodies.Push(raw)
	e.mu.Unlock()
}

// wait sleeps for d unless the request or the emulator ends first.
func (e *Emulator) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-e.done:
		return false
	}
}

// hang holds a request until its caller gives up; if the emulator closes
// first, it answers 503.
func (e *Emulator) hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-e.done:
		e.writeAPIError(w, &apiError{status: http.StatusServiceUnavailable, code: "service.unavailable",
			message: "Service unavailable."})
	}
}

// idTypes are the idType values of genesys.md §1.2, matched
// case-insensitively as the Python SDK does.
var idTypes = []string{"Email", "Phone", "Opaque"}

func canonicalIDType(s string) (string, bool) {
	for _, t := range idTypes {
		if strings.EqualFold(s, t) {
			return t, true
		}
	}
	return "", false
}

func parseTime(field, s string) (time.Time, *apiError) {
	if s == "" {
		return time.Time{}, badRequest("%s is required.", field)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, badRequest("%s must be an ISO-8601 date-time, got %q.", field, s)
	}
	return t, nil
}

// validateFrom checks channel.from of messages, structured responses and events.
func validateFrom(c *channel) (*recipient, time.Time, *apiError) {
	if c == nil {
		return nil, time.Time{}, badRequest("channel is required.")
	}
	if c.From == nil || c.From.ID == "" {
		return nil, time.Time{}, badRequest("channel.from.id is required.")
	}
	if c.From.IDType == "" {
		return nil, time.Time{}, badRequest("channel.from.idType is required.")
	}
	t, ok := canonicalIDType(c.From.IDType)
	if !ok {
		return nil, time.Time{}, badRequest("channel.from.idType must be one of Email, Phone, Opaque; got %q.", c.From.IDType)
	}
	from := *c.From
	from.IDType = t
	at, ae := parseTime("channel.time", c.Time)
	if ae != nil {
		return nil, time.Time{}, ae
	}
	return &from, at, nil
}

// customAttributes reads channel.metadata.customAttributes (genesys.md §1.2).
func customAttributes(meta json.RawMessage) (map[string]string, *apiError) {
	if len(meta) == 0 || string(meta) == "null" {
		return nil, nil
	}
	var m struct {
		CustomAttributes map[string]json.RawMessage `json:"customAttributes"`
	}
	if err := json.Unmarshal(meta, &m); err != nil {
		return nil, badRequest("channel.metadata must be an object.")
	}
	if len(m.CustomAttributes) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(m.CustomAttributes))
	for k, v := range m.CustomAttributes {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out, nil
}

var buttonTypes = map[string]bool{"Button": true, "QuickReply": true, "DatePicker": true}

// acceptMessage handles /inbound/open/message and
// /inbound/open/structured/response: validation, idempotency on
// channel.messageId, conversation lookup, transcript.
func (e *Emulator) acceptMessage(ctx context.Context, kind inboundKind, b *inboundBody, prefetch bool) ([]byte, *apiError) {
	from, at, ae := validateFrom(b.Channel)
	if ae != nil {
		return nil, ae
	}
	if b.Channel.MessageID == "" {
		return nil, badRequest("channel.messageId is required.")
	}
	attrs, ae := customAttributes(b.Channel.Metadata)
	if ae != nil {
		return nil, ae
	}
	content := b.Content
	if len(content) > 0 {
		var items []json.RawMessage
		if err := json.Unmarshal(content, &items); err != nil {
			return nil, badRequest("content must be an array.")
		}
		if len(items) == 0 {
			content = nil
		}
	}
	typ, text := "Text", b.Text
	switch kind {
	case kindMessage:
		if text == "" && len(content) == 0 {
			return nil, badRequest("A message needs text or content.")
		}
	case kindStructured:
		if b.ButtonResponse == nil {
			return nil, badRequest("buttonResponse is required.")
		}
		if !buttonTypes[b.ButtonResponse.Type] {
			return nil, badRequest("buttonResponse.type must be one of Button, QuickReply, DatePicker; got %q.", b.ButtonResponse.Type)
		}
		typ = "Structured"
		if text == "" {
			text = b.ButtonResponse.Text
		}
	}

	now := e.cfg.Now()
	e.mu.Lock()
	// Idempotency: a known channel.messageId gets the first answer again and
	// is not added to the transcript twice.
	if resp, ok := e.seen.Get(b.Channel.MessageID); ok {
		e.stats.Resends++
		e.mu.Unlock()
		return resp, nil
	}
	conv := e.connectedLocked(from.ID)
	if conv == nil {
		conv = &Conversation{ID: newUUID(), CustomerID: from.ID, IDType: from.IDType, Nickname: from.Nickname,
			State: StateConnected, StartedAt: now}
		e.addInitialParticipantsLocked(conv, now)
		e.conversations.Put(conv.ID, conv)
		e.active.Put(from.ID, conv.ID)
	}
	conv.Messages++
	e.seq++
	m := ReceivedMessage{
		Seq: e.seq, ID: newMessageID(), ConversationID: conv.ID, MessageID: b.Channel.MessageID,
		FromID: from.ID, IDType: from.IDType, Nickname: from.Nickname, FirstName: from.FirstName, LastName: from.LastName,
		Text: text, Content: content, ButtonResponse: b.ButtonResponse, OriginatingMessageID: b.OriginatingMessageID,
		Time: at, CustomAttributes: attrs, Metadata: b.Metadata, ReceivedAt: now,
	}
	e.received.Push(m)
	e.stats.Received++
	// genesys.md §1.3: id, channel {id, platform "Open", type "Private",
	// messageId, to, from, time, metadata}, type, text, content, metadata,
	// conversationId.
	r := normalized{
		ID: m.ID,
		Channel: channel{ID: e.cfg.IntegrationID, Platform: "Open", Type: "Private", MessageID: m.MessageID,
			To: &recipient{ID: e.cfg.IntegrationID}, From: from, Time: b.Channel.Time, Metadata: b.Channel.Metadata},
		Type: typ, Text: text, Content: content, ButtonResponse: b.ButtonResponse,
		OriginatingMessageID: b.OriginatingMessageID, Metadata: b.Metadata,
	}
	if prefetch {
		r.ConversationID = conv.ID
	}
	resp, err := marshal(r)
	if err != nil {
		e.mu.Unlock()
		return nil, &apiError{status: 500, code: "internal.server.error", message: "encoding failed"}
	}
	e.seen.Put(m.MessageID, resp)
	convID, customer := conv.ID, recipient{ID: conv.CustomerID, IDType: conv.IDType}
	e.mu.Unlock()

	if e.cfg.AutoReceipts {
		e.sendReceipt(ctx, m, convID, customer)
	}
	return resp, nil
}

// acceptEvent handles /inbound/open/event (genesys.md §1.4): only Typing.
func (e *Emulator) acceptEvent(b *inboundBody) ([]byte, *apiError) {
	from, _, ae := validateFrom(b.Channel)
	if ae != nil {
		return nil, ae
	}
	if len(b.Events) == 0 {
		return nil, badRequest("events is required.")
	}
	for i, ev := range b.Events {
		if ev.EventType != "Typing" {
			return nil, badRequest("events[%d].eventType must be Typing; got %q.", i, ev.EventType)
		}
	}
	e.mu.Lock()
	e.stats.Events++
	e.mu.Unlock()
	return marshal(normalized{
		ID:      newMessageID(),
		Channel: channel{ID: e.cfg.IntegrationID, Platform: "Open", Type: "Private", From: from, Time: b.Channel.Time},
		Type:    "Event", Events: b.Events,
	})
}

// reasonCodes are the receipt reason codes of genesys.md §1.5.
var reasonCodes = map[string]bool{
	"MessageExpired": true, "RateLimited": true, "MessageNotAllowed": true, "GeneralError": true,
	"UnsupportedMessage": true, "UnknownMessage": true, "InvalidMessageStructure": true, "InvalidDestination": true,
	"ServerError": true, "MediaTypeNotAllowed": true, "InvalidMediaContentLength": true, "RecipientOptedOut": true,
	"DataFiltered": true,
}

// acceptReceipt handles /inbound/open/receipt (genesys.md §1.5): only
// Delivered and Failed are accepted, recorded against the outbound id.
func (e *Emulator) acceptReceipt(b *inboundBody) ([]byte, *apiError) {
	if b.ID == "" {
		return nil, badRequest("id (the outbound message id) is required.")
	}
	if b.Status != "Delivered" && b.Status != "Failed" {
		return nil, badRequest("status must be Delivered or Failed; got %q.", b.Status)
	}
	if b.Channel == nil || b.Channel.To == nil || b.Channel.To.ID == "" {
		return nil, badRequest("channel.to.id is required.")
	}
	at, ae := parseTime("channel.time", b.Channel.Time)
	if ae != nil {
		return nil, ae
	}
	for i, r := range b.Reasons {
		if !reasonCodes[r.Code] {
			return nil, badRequest("reasons[%d].code %q is not a known reason code.", i, r.Code)
		}
	}
	rec := Receipt{MessageID: b.ID, Status: b.Status, Reasons: b.Reasons, IsFinalReceipt: b.IsFinalReceipt,
		ToID: b.Channel.To.ID, Time: at, ReceivedAt: e.cfg.Now()}
	e.mu.Lock()
	rec.ConversationID, rec.Known = e.outbound.Get(b.ID)
	e.receipts.Push(rec)
	e.stats.Receipts++
	e.mu.Unlock()
	final := b.IsFinalReceipt
	return marshal(normalized{
		ID:      b.ID,
		Channel: channel{ID: e.cfg.IntegrationID, Platform: "Open", Type: "Private", To: b.Channel.To, Time: b.Channel.Time},
		Type:    "Receipt", Status: b.Status, Reasons: b.Reasons, IsFinalReceipt: &final,
	})
}

// handleDisconnect is PATCH /api/v2/conversations/messages/{conversationId}
// with {"state":"disconnected"} (genesys.md §3.2: "No other values are
// valid"). The response body is minimal; the real API returns the
// conversation.
func (e *Emulator) handleDisconnect(w http.ResponseWriter, r *http.Request) {
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
	id := r.PathValue("conversationId")
	// Ended through the API, the participants' disconnectType is SYSTEM
	// (inference: the fact sheet does not say what Genesys records).
	if err := e.disconnect(id, DisconnectSystem); err != nil {
		e.writeAPIError(w, &apiError{status: http.StatusNotFound, code: "not.found", message: "Conversation not found."})
		return
	}
	emulate.WriteJSON(w, http.StatusOK, map[string]string{"id": id, "state": StateDisconnected})
}

// marshal encodes like a Java service does: no HTML escaping, UTF-8 as is.
func marshal(v any) ([]byte, *apiError) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, &apiError{status: 500, code: "internal.server.error", message: "encoding failed"}
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// newMessageID returns a Genesys-style message id: 32 hex digits
// (genesys.md §1.6 sample "8085cbb3f778c34de0bd14c5318ec44c").
func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
