package whatsapp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/secureflow/secureflow/internal/emulator/internal/emulate"
	"github.com/secureflow/secureflow/internal/hubsig"
)

// The webhook envelope of whatsapp.md §1.2, with the message shapes of §1.2
// and §1.3 and the status shape of §1.5.
type envelope struct {
	Object string  `json:"object"`
	Entry  []entry `json:"entry"`
}

type entry struct {
	ID      string   `json:"id"`
	Changes []change `json:"changes"`
}

type change struct {
	Value value  `json:"value"`
	Field string `json:"field"`
}

type value struct {
	MessagingProduct string          `json:"messaging_product"`
	Metadata         webhookMetadata `json:"metadata"`
	Contacts         []contact       `json:"contacts,omitempty"`
	Messages         []inMessage     `json:"messages,omitempty"`
	Statuses         []statusObject  `json:"statuses,omitempty"`
}

type webhookMetadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

type contact struct {
	Profile profile `json:"profile"`
	WaID    string  `json:"wa_id"`
}

type profile struct {
	Name string `json:"name"`
}

type inMessage struct {
	Context     *msgContext    `json:"context,omitempty"`
	From        string         `json:"from"`
	ID          string         `json:"id"`
	Timestamp   string         `json:"timestamp"`
	Type        string         `json:"type"`
	Text        *textBody      `json:"text,omitempty"`
	Interactive *inInteractive `json:"interactive,omitempty"`
}

type msgContext struct {
	From string `json:"from"`
	ID   string `json:"id"`
}

type textBody struct {
	Body string `json:"body"`
}

type inInteractive struct {
	Type        string `json:"type"`
	ButtonReply *Reply `json:"button_reply,omitempty"`
	ListReply   *Reply `json:"list_reply,omitempty"`
	// NfmReply is a completed Flow (whatsapp.md §1.4, see flows.go).
	NfmReply *nfmReply `json:"nfm_reply,omitempty"`
}

type statusObject struct {
	ID                    string        `json:"id"`
	Status                string        `json:"status"`
	Timestamp             string        `json:"timestamp"`
	RecipientID           string        `json:"recipient_id"`
	BizOpaqueCallbackData string        `json:"biz_opaque_callback_data,omitempty"`
	Errors                []statusError `json:"errors,omitempty"`
}

type statusError struct {
	Code      int             `json:"code"`
	Title     string          `json:"title"`
	Message   string          `json:"message"`
	ErrorData statusErrorData `json:"error_data"`
	Href      string          `json:"href"`
}

type statusErrorData struct {
	Details string `json:"details"`
}

// Reply is the button or list row a customer tapped (whatsapp.md §1.3).
type Reply struct {
	// ID is the id the business gave the button or row.
	ID string `json:"id"`
	// Title is the text shown on it.
	Title string `json:"title"`
	// Description is the list row's description; buttons have none.
	Description string `json:"description,omitempty"`
}

// CustomerMessage is what a customer sends. Exactly one of Text,
// ButtonReply and ListReply is set.
type CustomerMessage struct {
	// From is the customer's wa_id (digits only, country code first).
	From string
	// Name is the customer's WhatsApp profile name.
	Name string
	// Text is a text message's body.
	Text string
	// ButtonReply is a tapped reply button (interactive button_reply).
	ButtonReply *Reply
	// ListReply is a chosen list row (interactive list_reply).
	ListReply *Reply
	// Timestamp is when the customer sent it; zero means now.
	Timestamp time.Time
	// ContextID is the wamid of the business message replied to. For button
	// and list replies it defaults to the last interactive message sent to
	// this customer, since Meta always quotes it (whatsapp.md §1.3).
	ContextID string
}

func (m CustomerMessage) validate() error {
	if m.From == "" {
		return errors.New("from (the customer's wa_id) is required")
	}
	for _, r := range m.From {
		if r < '0' || r > '9' {
			return fmt.Errorf("from %q must be a wa_id: digits only", m.From)
		}
	}
	n := 0
	if m.Text != "" {
		n++
	}
	for _, r := range []*Reply{m.ButtonReply, m.ListReply} {
		if r != nil {
			n++
			if r.ID == "" || r.Title == "" {
				return errors.New("a reply needs an id and a title")
			}
		}
	}
	if n != 1 {
		return errors.New("exactly one of text, button_reply and list_reply is required")
	}
	return nil
}

// SendCustomerMessage makes a customer send m: it builds the webhook of
// whatsapp.md §1.2/§1.3, signs it and queues it for delivery to the gateway.
// It returns the message's wamid once queued; delivery (and its retries)
// happen in the background. It blocks while the delivery queue is full,
// until ctx ends.
func (e *Emulator) SendCustomerMessage(ctx context.Context, m CustomerMessage) (string, error) {
	ids, err := e.SendBatch(ctx, []CustomerMessage{m})
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// SendBatch delivers several customer messages in one webhook, as Meta may
// batch them (whatsapp.md §1.2, up to 1000 updates per POST): one entry,
// one change per customer (in order of first appearance), each with that
// customer's contact and messages. It returns the wamids in input order.
func (e *Emulator) SendBatch(ctx context.Context, msgs []CustomerMessage) ([]string, error) {
	if e.closed() {
		return nil, ErrClosed
	}
	if len(msgs) == 0 || len(msgs) > 1000 {
		return nil, errors.New("a batch holds 1 to 1000 messages")
	}
	now := e.cfg.Now()
	ids := make([]string, len(msgs))
	byFrom := map[string]int{} // wa_id → index in changes
	var changes []change
	for i, m := range msgs {
		if err := m.validate(); err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		ids[i] = newWAMID()
		ts := m.Timestamp
		if ts.IsZero() {
			ts = now
		}
		msg := inMessage{
			From: m.From,
			ID:   ids[i],
			// whatsapp.md §1.2: timestamp is Unix seconds as a string.
			Timestamp: strconv.FormatInt(ts.Unix(), 10),
		}
		switch {
		case m.Text != "":
			msg.Type, msg.Text = "text", &textBody{Body: m.Text}
		case m.ButtonReply != nil:
			r := *m.ButtonReply
			r.Description = "" // buttons carry only id and title (§1.3)
			msg.Type, msg.Interactive = "interactive", &inInteractive{Type: "button_reply", ButtonReply: &r}
		default:
			msg.Type, msg.Interactive = "interactive", &inInteractive{Type: "list_reply", ListReply: m.ListReply}
		}
		ctxID := m.ContextID
		if ctxID == "" && msg.Interactive != nil {
			e.mu.Lock()
			ctxID, _ = e.lastInter.Get(m.From)
			e.mu.Unlock()
		}
		if ctxID != "" {
			// whatsapp.md §1.2: context.from is the business number.
			msg.Context = &msgContext{From: e.cfg.DisplayPhoneNumber, ID: ctxID}
		}
		k, ok := byFrom[m.From]
		if !ok {
			k = len(changes)
			byFrom[m.From] = k
			changes = append(changes, change{Field: "messages", Value: value{
				MessagingProduct: "whatsapp",
				Metadata:         e.metadata(),
				Contacts:         []contact{{Profile: profile{Name: m.Name}, WaID: m.From}},
			}})
		}
		changes[k].Value.Messages = append(changes[k].Value.Messages, msg)
	}
	env := envelope{Object: "whatsapp_business_account", Entry: []entry{{ID: e.cfg.WABAID, Changes: changes}}}
	if err := e.enqueue(ctx, "messages", ids, env); err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.stats.CustomerMessages += int64(len(msgs))
	e.mu.Unlock()
	return ids, nil
}

func (e *Emulator) metadata() webhookMetadata {
	return webhookMetadata{DisplayPhoneNumber: e.cfg.DisplayPhoneNumber, PhoneNumberID: e.cfg.PhoneNumberID}
}

// StatusUpdate is a status webhook for a message the gateway sent
// (whatsapp.md §1.5).
type StatusUpdate struct {
	// MessageID is the wamid the Graph API returned for the send.
	MessageID string
	// Status is sent, delivered, read, failed, played or deleted.
	Status string
	// RecipientID is the customer's wa_id; empty means the one the message
	// was sent to, if the emulator still remembers it.
	RecipientID string
	// Timestamp is when the status happened; zero means now.
	Timestamp time.Time
	// Error, for a failed status, is the reason (e.g. code 131049).
	Error *StatusError
}

// StatusError is the reason carried by a failed status.
type StatusError struct {
	// Code is Meta's error code (whatsapp.md §2.7).
	Code int
	// Title is its title; it is also used as the message.
	Title string
	// Details goes to error_data.details.
	Details string
}

var validStatuses = map[string]bool{"sent": true, "delivered": true, "read": true, "failed": true, "played": true, "deleted": true}

// SendStatus delivers one status webhook. With AutoStatuses the emulator
// sends sent, delivered and read by itself; SendStatus covers the rest, such
// as failures.
func (e *Emulator) SendStatus(ctx context.Context, s StatusUpdate) error {
	if e.closed() {
		return ErrClosed
	}
	if s.MessageID == "" || !validStatuses[s.Status] {
		return errors.New("a status needs a message id and one of sent, delivered, read, failed, played, deleted")
	}
	e.mu.Lock()
	ref, _ := e.byWAMID.Get(s.MessageID)
	e.mu.Unlock()
	if s.RecipientID != "" {
		ref.waID = s.RecipientID
	}
	if ref.waID == "" {
		return fmt.Errorf("unknown message %q: give its recipient id", s.MessageID)
	}
	ts := s.Timestamp
	if ts.IsZero() {
		ts = e.cfg.Now()
	}
	st := e.status(s.MessageID, s.Status, ts, ref)
	if s.Error != nil {
		st.Errors = []statusError{{
			Code: s.Error.Code, Title: s.Error.Title, Message: s.Error.Title,
			ErrorData: statusErrorData{Details: s.Error.Details},
			Href:      "https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes",
		}}
	}
	return e.enqueueStatus(ctx, st)
}

func (e *Emulator) status(wamid, status string, ts time.Time, ref sentRef) statusObject {
	return statusObject{
		ID: wamid, Status: status,
		// whatsapp.md §1.5: timestamp and recipient_id are strings.
		Timestamp:   strconv.FormatInt(ts.Unix(), 10),
		RecipientID: ref.waID,
		// whatsapp.md §1.5: biz_opaque_callback_data is echoed in statuses.
		BizOpaqueCallbackData: ref.biz,
	}
}

func (e *Emulator) enqueueStatus(ctx context.Context, st statusObject) error {
	env := envelope{Object: "whatsapp_business_account", Entry: []entry{{ID: e.cfg.WABAID, Changes: []change{{
		Field: "messages", // whatsapp.md §1.2/§1.5: statuses arrive on the messages field
		Value: value{MessagingProduct: "whatsapp", Metadata: e.metadata(), Statuses: []statusObject{st}},
	}}}}}
	return e.enqueue(ctx, "statuses", []string{st.ID}, env)
}

// autoStatuses queues sent, delivered and read for an accepted send, each in
// its own delivery; with several workers they may arrive in any order, as
// Meta's do (whatsapp.md §1.5: no guaranteed sequence).
func (e *Emulator) autoStatuses(ctx context.Context, wamid string, ref sentRef) {
	now := e.cfg.Now()
	for _, s := range []string{"sent", "delivered", "read"} {
		if err := e.enqueueStatus(ctx, e.status(wamid, s, now, ref)); err != nil {
			e.log.Warn("status webhook not queued", "wamid", wamid, "status", s, "error", err)
			return
		}
	}
}

// enqueue marshals, signs and queues one webhook body, with a duplicate copy
// when the DuplicateRate fault says so.
func (e *Emulator) enqueue(ctx context.Context, kind string, ids []string, env envelope) error {
	body, err := marshalMeta(env)
	if err != nil {
		return err
	}
	// whatsapp.md §1.6: sha256=<lowercase hex HMAC-SHA256(app secret, body)>.
	j := &emulate.Job{
		ID: e.deliveryID.Add(1), Kind: kind, IDs: ids, Body: body,
		Signature: hubsig.Sign(hubsig.Hex, e.cfg.AppSecret, body),
	}
	jobs := []*emulate.Job{j}
	if e.faults.Duplicate() {
		dup := *j
		dup.Duplicate = true
		jobs = append(jobs, &dup)
	}
	return e.disp.Submit(ctx, jobs...)
}

// marshalMeta encodes v the way Meta's webhook bodies are written: non-ASCII
// characters as \uXXXX escapes with lowercase hex. whatsapp.md §1.6: the
// signature is computed over this escaped form, so a receiver that
// re-serializes the body before checking the HMAC fails exactly when such
// characters occur; the emulator makes that mistake visible.
func marshalMeta(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	raw := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	out := make([]byte, 0, len(raw)+len(raw)/8)
	const hexdigits = "0123456789abcdef"
	esc := func(r rune) {
		out = append(out, '\\', 'u', hexdigits[r>>12&0xf], hexdigits[r>>8&0xf], hexdigits[r>>4&0xf], hexdigits[r&0xf])
	}
	for i := 0; i < len(raw); {
		c := raw[i]
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(raw[i:])
		i += size
		if r > 0xffff {
			r -= 0x10000
			esc(0xd800 + (r>>10)&0x3ff)
			esc(0xdc00 + r&0x3ff)
			continue
		}
		esc(r)
	}
	return out, nil
}

// newWAMID returns a fresh message id shaped like Meta's: "wamid." and a
// base64 string (whatsapp.md §1.2).
func newWAMID() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "wamid.HBgL" + base64.StdEncoding.EncodeToString(b[:])
}

// Handshake performs the GET verification Meta runs when the callback URL is
// set (whatsapp.md §1.1) against WebhookURL, and checks that the gateway
// answers 200 with the challenge echoed verbatim. An empty challenge is
// replaced by a random one.
func (e *Emulator) Handshake(ctx context.Context, challenge string) error {
	target := *e.webhookURL.Load()
	if target == "" {
		return emulate.ErrNoWebhookURL
	}
	if challenge == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		challenge = strconv.FormatUint(binary.BigEndian.Uint64(b[:]), 10)
	}
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("handshake: webhook URL: %w", err)
	}
	q := u.Query()
	q.Set("hub.mode", "subscribe")
	q.Set("hub.challenge", challenge)
	q.Set("hub.verify_token", e.cfg.VerifyToken)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	// whatsapp.md §1.1: the GET carries no body and no signature header.
	resp, err := e.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("handshake: reading answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("handshake: gateway answered HTTP %d", resp.StatusCode)
	}
	if string(body) != challenge {
		return fmt.Errorf("handshake: challenge not echoed verbatim: got %q, want %q", body, challenge)
	}
	return nil
}
