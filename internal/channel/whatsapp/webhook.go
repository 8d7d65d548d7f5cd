package whatsapp

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/secureflow/secureflow/internal/event"
	"github.com/secureflow/secureflow/internal/hubsig"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/webhook"
)

// notification is the POST envelope (whatsapp.md §1.2).
type notification struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string `json:"field"`
			Value struct {
				MessagingProduct string `json:"messaging_product"`
				Metadata         struct {
					DisplayPhoneNumber string `json:"display_phone_number"`
					PhoneNumberID      string `json:"phone_number_id"`
				} `json:"metadata"`
				Contacts []struct {
					Profile struct {
						Name string `json:"name"`
					} `json:"profile"`
					WaID   string `json:"wa_id"`
					UserID string `json:"user_id"`
				} `json:"contacts"`
				Messages []inMessage `json:"messages"`
				Statuses []inStatus  `json:"statuses"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type inMessage struct {
	From      string `json:"from"`
	FromUser  string `json:"from_user_id"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Text      *struct {
		Body string `json:"body"`
	} `json:"text"`
	Context *struct {
		ID string `json:"id"`
	} `json:"context"`
	Interactive *struct {
		Type        string      `json:"type"`
		ButtonReply *replyField `json:"button_reply"`
		ListReply   *replyField `json:"list_reply"`
		NfmReply    *nfmReply   `json:"nfm_reply"`
	} `json:"interactive"`
	Button *struct {
		Text    string `json:"text"`
		Payload string `json:"payload"`
	} `json:"button"`
}

// nfmReply is a Flow completion (whatsapp.md §1.4). ResponseJSON is
// decoded by flowToken, which keeps the flow_token alone: the rest of the
// string is never copied anywhere.
type nfmReply struct {
	Name         string          `json:"name"`
	ResponseJSON json.RawMessage `json:"response_json"`
}

// maxFlowTokenLen bounds a flow token kept from an nfm_reply; the
// gateway's tokens are 43 characters.
const maxFlowTokenLen = 128

// flowToken returns the flow_token of an nfm_reply's response_json (a JSON
// document inside a JSON string, §1.4), or "" when there is none or it
// does not look like a token: only [A-Za-z0-9_.-] characters are kept, so
// a Flow that put form data there does not leak it through the token.
func (n *nfmReply) flowToken() string {
	var doc string
	if err := json.Unmarshal(n.ResponseJSON, &doc); err != nil {
		return ""
	}
	var params struct {
		FlowToken string `json:"flow_token"`
	}
	if err := json.Unmarshal([]byte(doc), &params); err != nil {
		return ""
	}
	t := params.FlowToken
	if t == "" || len(t) > maxFlowTokenLen {
		return ""
	}
	for _, r := range t {
		if !(r == '_' || r == '-' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return ""
		}
	}
	return t
}

type replyField struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

type inStatus struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Timestamp   string `json:"timestamp"`
	RecipientID string `json:"recipient_id"`
	// BizOpaque echoes the send's biz_opaque_callback_data (§1.5).
	BizOpaque string `json:"biz_opaque_callback_data"`
	Errors    []struct {
		Code int `json:"code"`
	} `json:"errors"`
}

// Parse turns a verified notification body into events. A body may carry
// many messages and statuses, across entries and changes: every one is
// returned (whatsapp.md §1.2, "Batching"). Fields other than "messages" are
// ignored. Errors carry JSON paths, never values.
func Parse(body []byte) ([]event.Event, error) {
	var n notification
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, webhook.JSONError(err)
	}
	if n.Object != "whatsapp_business_account" {
		return nil, &webhook.ParseError{Path: "object", Reason: "not whatsapp_business_account"}
	}
	var out []event.Event
	for ei, e := range n.Entry {
		for ci, c := range e.Changes {
			if c.Field != "messages" {
				continue
			}
			v := c.Value
			names := make(map[string]string, len(v.Contacts))
			for _, ct := range v.Contacts {
				names[ct.WaID] = ct.Profile.Name
			}
			for mi, m := range v.Messages {
				path := fmt.Sprintf("entry[%d].changes[%d].value.messages[%d]", ei, ci, mi)
				ev, err := parseMessage(path, m)
				if err != nil {
					return nil, err
				}
				ev.BusinessNumber = v.Metadata.PhoneNumberID
				ev.ProfileName = names[m.From]
				out = append(out, ev)
			}
			for si, s := range v.Statuses {
				path := fmt.Sprintf("entry[%d].changes[%d].value.statuses[%d]", ei, ci, si)
				ev, err := parseStatus(path, s)
				if err != nil {
					return nil, err
				}
				ev.BusinessNumber = v.Metadata.PhoneNumberID
				out = append(out, ev)
			}
		}
	}
	return out, nil
}

func parseTime(path, s string) (time.Time, error) {
	// whatsapp.md §1.2: timestamp is Unix seconds as a string.
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, &webhook.ParseError{Path: path + ".timestamp", Reason: "not Unix seconds"}
	}
	return time.Unix(sec, 0).UTC(), nil
}

func parseMessage(path string, m inMessage) (event.Event, error) {
	if m.ID == "" {
		return event.Event{}, &webhook.ParseError{Path: path + ".id", Reason: "missing"}
	}
	from := m.From
	if from == "" {
		// whatsapp.md §1.2: from 2026 a username user may arrive with only a
		// business-scoped user id.
		from = m.FromUser
	}
	if from == "" {
		return event.Event{}, &webhook.ParseError{Path: path + ".from", Reason: "missing"}
	}
	t, err := parseTime(path, m.Timestamp)
	if err != nil {
		return event.Event{}, err
	}
	ev := event.Event{Kind: event.CustomerMessage, Source: event.SourceWhatsApp, ID: m.ID, Customer: from, Time: t}
	if m.Context != nil {
		ev.RefID = m.Context.ID
	}
	switch m.Type {
	case "text":
		if m.Text == nil {
			return event.Event{}, &webhook.ParseError{Path: path + ".text", Reason: "missing for type text"}
		}
		ev.Text = m.Text.Body
	case "interactive":
		// whatsapp.md §1.3 (button_reply, list_reply) and §1.4 (nfm_reply).
		in := m.Interactive
		if in == nil {
			return event.Event{}, &webhook.ParseError{Path: path + ".interactive", Reason: "missing for type interactive"}
		}
		switch {
		case in.Type == "button_reply" && in.ButtonReply != nil:
			ev.Reply = &event.Reply{Type: in.Type, ID: in.ButtonReply.ID, Title: in.ButtonReply.Title}
		case in.Type == "list_reply" && in.ListReply != nil:
			ev.Reply = &event.Reply{Type: in.Type, ID: in.ListReply.ID, Title: in.ListReply.Title, Description: in.ListReply.Description}
		case in.Type == "nfm_reply":
			// A Flow completion carries the complete payload in clear in
			// response_json (§1.4). Everything but the flow_token is dropped
			// here, before the event exists, so nothing else is ever stored.
			// The event is marked unsupported with no text: the relay tells
			// the contact centre only that a message of type nfm_reply came,
			// and the session engine can match Reply.ID to the Flow it sent
			// (the gateway's endpoint already took the values, whatsapp.md §3).
			ev.Unsupported = "nfm_reply"
			if in.NfmReply != nil {
				if tok := in.NfmReply.flowToken(); tok != "" {
					ev.Reply = &event.Reply{Type: "nfm_reply", ID: tok}
				}
				in.NfmReply.ResponseJSON = nil
			}
		default:
			return event.Event{}, &webhook.ParseError{Path: path + ".interactive.type", Reason: "unknown or missing reply"}
		}
		if ev.Reply != nil && ev.Unsupported == "" {
			ev.Text = ev.Reply.Title
		}
	case "button":
		// Template quick replies arrive as type button (§1.3).
		if m.Button == nil {
			return event.Event{}, &webhook.ParseError{Path: path + ".button", Reason: "missing for type button"}
		}
		ev.Reply = &event.Reply{Type: "button", ID: m.Button.Payload, Title: m.Button.Text}
		ev.Text = m.Button.Text
	case "":
		return event.Event{}, &webhook.ParseError{Path: path + ".type", Reason: "missing"}
	default:
		// image, audio, document, location…: relayed as a notice only.
		ev.Unsupported = m.Type
	}
	return ev, nil
}

func parseStatus(path string, s inStatus) (event.Event, error) {
	if s.ID == "" {
		return event.Event{}, &webhook.ParseError{Path: path + ".id", Reason: "missing"}
	}
	switch s.Status {
	case "sent", "delivered", "read", "failed", "played", "deleted": // §1.5
	default:
		return event.Event{}, &webhook.ParseError{Path: path + ".status", Reason: "unknown status"}
	}
	t, err := parseTime(path, s.Timestamp)
	if err != nil {
		return event.Event{}, err
	}
	ev := event.Event{Kind: event.CustomerStatus, Source: event.SourceWhatsApp, RefID: s.ID, Status: s.Status,
		Customer: s.RecipientID, Time: t}
	if len(s.BizOpaque) <= 512 { // the gateway's own keys are short; anything else is not ours
		ev.CallbackData = s.BizOpaque
	}
	for _, e := range s.Errors {
		ev.StatusCodes = append(ev.StatusCodes, strconv.Itoa(e.Code))
	}
	return ev, nil
}

// WebhookConfig configures the webhook endpoint.
type WebhookConfig struct {
	// AppSecrets verify X-Hub-Signature-256; the first is current, the rest
	// are accepted during a rotation.
	AppSecrets []secret.Value
	// VerifyToken is compared in the GET handshake.
	VerifyToken secret.Value
	// MaxBytes caps a notification body (Meta sends up to 3 MB, §1.2).
	MaxBytes int64
	Sink     webhook.Sink
	Metrics  *webhook.Metrics
	Logger   *slog.Logger
}

// NewWebhook returns the handler for /webhooks/whatsapp: GET is the
// verification handshake, POST a signed notification.
func NewWebhook(cfg WebhookConfig) http.Handler {
	keys := make([][]byte, 0, len(cfg.AppSecrets))
	for _, s := range cfg.AppSecrets {
		if !s.IsZero() {
			keys = append(keys, s.Reveal())
		}
	}
	post := &webhook.Handler{
		Source:          event.SourceWhatsApp,
		MaxBytes:        cfg.MaxBytes,
		SignatureHeader: hubsig.Header,
		// whatsapp.md §1.6: lowercase hex HMAC-SHA256 of the raw body.
		Verify:  func(h string, b []byte) error { return hubsig.Verify(hubsig.Hex, h, b, keys...) },
		Parse:   Parse,
		Sink:    cfg.Sink,
		Metrics: cfg.Metrics,
		Logger:  cfg.Logger,
	}
	token := cfg.VerifyToken.Reveal()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			// The handshake carries no body and no signature (§1.1, §6.3):
			// it never reaches the signature check.
			handshake(w, r, token)
			return
		}
		post.ServeHTTP(w, r)
	})
}

// handshake answers Meta's verification GET: 200 with hub.challenge echoed
// verbatim as the body when hub.mode is subscribe and hub.verify_token
// matches, 403 otherwise (whatsapp.md §1.1, §6.4).
func handshake(w http.ResponseWriter, r *http.Request, token []byte) {
	q := r.URL.Query()
	got := []byte(q.Get("hub.verify_token"))
	if len(token) == 0 || q.Get("hub.mode") != "subscribe" || subtle.ConstantTimeCompare(got, token) != 1 {
		http.Error(w, "verification failed", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(q.Get("hub.challenge")))
}
