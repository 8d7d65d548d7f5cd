package genesys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/secureflow/secureflow/internal/emulator/internal/emulate"
	"github.com/secureflow/secureflow/internal/hubsig"
)

// AgentMessage is one agent message the emulator sent to the gateway as an
// outbound webhook.
type AgentMessage struct {
	// Seq orders received and agent messages on one sequence starting at 1.
	Seq uint64 `json:"seq"`
	// ID is the Genesys message id (also channel.messageId).
	ID string `json:"id"`
	// ConversationID is the conversation it belongs to.
	ConversationID string `json:"conversationId"`
	// ToID is the customer id it is addressed to.
	ToID string `json:"toId"`
	// Text is what the agent typed.
	Text string `json:"text"`
	// Time is when the agent sent it.
	Time time.Time `json:"time"`
	// Body is the webhook body exactly as signed and delivered.
	Body json.RawMessage `json:"body"`
}

// outboundBody is the "Outbound Open NormalizedMessage" of genesys.md §1.6,
// laid out like specs/genesys-samples/openmessaging-outbound-text.json and
// the real payload quoted in §1.6.
type outboundBody struct {
	ID                string  `json:"id"`
	Channel           channel `json:"channel"`
	Type              string  `json:"type"`
	Text              string  `json:"text,omitempty"`
	Status            string  `json:"status,omitempty"`
	IsFinalReceipt    *bool   `json:"isFinalReceipt,omitempty"`
	OriginatingEntity string  `json:"originatingEntity,omitempty"`
	Direction         string  `json:"direction"`
	ConversationID    string  `json:"conversationId"`
}

// timeLayout is the millisecond UTC form of the samples ("2026-03-25T13:20:05.493Z").
const timeLayout = "2006-01-02T15:04:05.000Z"

// outboundChannel is channel as Genesys fills it in webhooks (genesys.md
// §1.6): id = integration id, platform Open, type Private, to = customer,
// from = the integration (nickname = its name, idType Opaque), time,
// metadata.subType None.
func (e *Emulator) outboundChannel(messageID string, to recipient, at time.Time) channel {
	return channel{
		ID: e.cfg.IntegrationID, Platform: "Open", Type: "Private", MessageID: messageID,
		To:       &to,
		From:     &recipient{Nickname: e.cfg.IntegrationName, ID: e.cfg.IntegrationID, IDType: "Opaque"},
		Time:     at.UTC().Format(timeLayout),
		Metadata: json.RawMessage(`{"subType":"None"}`),
	}
}

// SendAgentMessage makes the agent of a conversation send text: it builds
// the outbound webhook of genesys.md §1.6 (type Text, direction Outbound,
// originatingEntity Human), signs it sha256=<base64> (§1.7) and queues it
// for delivery with Genesys's retry policy. It returns the Genesys message
// id once queued. It blocks while the delivery queue is full, until ctx ends.
func (e *Emulator) SendAgentMessage(ctx context.Context, conversationID, text string) (string, error) {
	if e.closed() {
		return "", ErrClosed
	}
	if text == "" {
		return "", errors.New("text is required")
	}
	if n := utf8.RuneCountInString(text); n > MaxAgentText {
		return "", fmt.Errorf("text is %d characters; Open Messaging agents can type at most %d (genesys.md §1.9)", n, MaxAgentText)
	}
	now := e.cfg.Now()
	e.mu.Lock()
	c, ok := e.conversations.Get(conversationID)
	var to recipient
	if ok {
		// The customer is addressed with the id and idType it wrote from.
		to = recipient{ID: c.CustomerID, IDType: c.IDType}
	}
	e.mu.Unlock()
	switch {
	case !ok:
		return "", ErrUnknownConversation
	case c.State == StateDisconnected:
		return "", ErrDisconnected
	}
	id := newMessageID()
	body, ae := marshal(outboundBody{
		ID: id, Channel: e.outboundChannel(id, to, now), Type: "Text", Text: text,
		OriginatingEntity: "Human", Direction: "Outbound", ConversationID: conversationID,
	})
	if ae != nil {
		return "", errors.New(ae.message)
	}
	if err := e.enqueue(ctx, "message", id, body); err != nil {
		return "", err
	}
	e.mu.Lock()
	e.outbound.Put(id, conversationID)
	e.seq++
	e.agentMessages.Push(AgentMessage{Seq: e.seq, ID: id, ConversationID: conversationID, ToID: to.ID,
		Text: text, Time: now, Body: body})
	e.stats.AgentMessages++
	e.mu.Unlock()
	return id, nil
}

// AgentMessages returns the agent messages sent, oldest first; a non-empty
// conversationID keeps only that conversation's.
func (e *Emulator) AgentMessages(conversationID string) []AgentMessage {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.agentMessages.Filter(func(m AgentMessage) bool { return conversationID == "" || m.ConversationID == conversationID })
}

// sendReceipt queues the receipt webhook Genesys emits for an inbound
// message when AutoReceipts is set: type "Receipt", status "Published",
// direction "Inbound". genesys.md §1.6 lists Published among receipt
// statuses and go-gcloudcx comments it as the inbound-side status; the exact
// shape of such receipts is an inference.
func (e *Emulator) sendReceipt(ctx context.Context, m ReceivedMessage, conversationID string, customer recipient) {
	final := true
	body, ae := marshal(outboundBody{
		ID: m.ID, Channel: e.outboundChannel(m.MessageID, customer, e.cfg.Now()), Type: "Receipt",
		Status: "Published", IsFinalReceipt: &final, Direction: "Inbound", ConversationID: conversationID,
	})
	if ae != nil {
		return
	}
	if err := e.enqueue(ctx, "receipt", m.ID, body); err != nil {
		e.log.Warn("receipt webhook not queued", "message", m.ID, "error", err)
	}
}

// enqueue signs and queues one webhook body, with a duplicate copy when the
// DuplicateRate fault says so.
func (e *Emulator) enqueue(ctx context.Context, kind, id string, body []byte) error {
	j := &emulate.Job{
		ID: e.deliveryID.Add(1), Kind: kind, IDs: []string{id}, Body: body,
		// genesys.md §1.7: sha256=<base64(HMAC-SHA256(secret, body))>.
		Signature: hubsig.Sign(hubsig.Base64, e.cfg.WebhookSecret, body),
	}
	jobs := []*emulate.Job{j}
	if e.faults.Duplicate() {
		dup := *j
		dup.Duplicate = true
		jobs = append(jobs, &dup)
	}
	return e.disp.Submit(ctx, jobs...)
}
