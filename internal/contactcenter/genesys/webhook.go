package genesys

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/secureflow/secureflow/internal/event"
	"github.com/secureflow/secureflow/internal/hubsig"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/webhook"
)

// outbound is the body Genesys POSTs to the outbound notification webhook
// (genesys.md §1.6; fixture genesys-samples/openmessaging-outbound-text.json).
type outbound struct {
	ID      string `json:"id"`
	Channel struct {
		ID        string `json:"id"`
		MessageID string `json:"messageId"`
		To        struct {
			ID string `json:"id"`
		} `json:"to"`
		Time string `json:"time"`
	} `json:"channel"`
	Type              string `json:"type"`
	Text              string `json:"text"`
	Status            string `json:"status"`
	Direction         string `json:"direction"`
	OriginatingEntity string `json:"originatingEntity"`
	ConversationID    string `json:"conversationId"`
	Content           []struct {
		ContentType string `json:"contentType"`
		QuickReply  *struct {
			Text    string `json:"text"`
			Payload string `json:"payload"`
		} `json:"quickReply"`
	} `json:"content"`
}

// Parse turns a verified outbound webhook body into events: Text and
// Structured messages become agent messages, Receipts become agent
// receipts, and typing Events are ignored (there is nothing to relay: the
// WhatsApp typing indicator needs a customer message id, §2.8 of
// whatsapp.md). Errors carry field names, never values.
func Parse(body []byte) ([]event.Event, error) {
	var o outbound
	if err := json.Unmarshal(body, &o); err != nil {
		return nil, webhook.JSONError(err)
	}
	if o.ID == "" {
		return nil, &webhook.ParseError{Path: "id", Reason: "missing"}
	}
	if o.Channel.To.ID == "" {
		return nil, &webhook.ParseError{Path: "channel.to.id", Reason: "missing"}
	}
	t := time.Time{}
	if o.Channel.Time != "" {
		var err error
		t, err = time.Parse(time.RFC3339Nano, o.Channel.Time)
		if err != nil {
			return nil, &webhook.ParseError{Path: "channel.time", Reason: "not an ISO-8601 time"}
		}
	}
	ev := event.Event{Source: event.SourceGenesys, ID: o.ID, Customer: o.Channel.To.ID, Time: t.UTC(), PeerConversationID: o.ConversationID}
	switch o.Type {
	case "Text", "Structured":
		ev.Kind = event.AgentMessage
		ev.Text = o.Text
		for _, c := range o.Content {
			if strings.EqualFold(c.ContentType, "QuickReply") && c.QuickReply != nil {
				ev.Buttons = append(ev.Buttons, event.Button{ID: c.QuickReply.Payload, Title: c.QuickReply.Text})
			} else if c.ContentType != "" {
				ev.Unsupported = c.ContentType
			}
		}
		if ev.Text == "" && ev.Unsupported == "" {
			return nil, &webhook.ParseError{Path: "text", Reason: "missing"}
		}
	case "Receipt":
		// genesys.md §1.6: receipts carry Sent, Delivered, Read, Failed,
		// Published or Removed for a message the gateway posted.
		ev.Kind = event.AgentReceipt
		ev.Status = o.Status
		ev.RefID = o.Channel.MessageID
		if ev.RefID == "" {
			ev.RefID = o.ID
		}
		if ev.Status == "" {
			return nil, &webhook.ParseError{Path: "status", Reason: "missing for type Receipt"}
		}
	case "Event":
		return nil, nil
	default:
		return nil, &webhook.ParseError{Path: "type", Reason: "unknown message type"}
	}
	return []event.Event{ev}, nil
}

// WebhookConfig configures the outbound webhook endpoint.
type WebhookConfig struct {
	// Secrets verify X-Hub-Signature-256; the first is current, the rest
	// are accepted during a rotation.
	Secrets  []secret.Value
	MaxBytes int64
	Sink     webhook.Sink
	Metrics  *webhook.Metrics
	Logger   *slog.Logger
}

// NewWebhook returns the handler for /webhooks/genesys.
func NewWebhook(cfg WebhookConfig) http.Handler {
	keys := make([][]byte, 0, len(cfg.Secrets))
	for _, s := range cfg.Secrets {
		if !s.IsZero() {
			keys = append(keys, s.Reveal())
		}
	}
	return &webhook.Handler{
		Source:          event.SourceGenesys,
		MaxBytes:        cfg.MaxBytes,
		SignatureHeader: hubsig.Header,
		// genesys.md §1.7: "sha256=" + base64(HMAC-SHA256(secret, body)).
		Verify:  func(h string, b []byte) error { return hubsig.Verify(hubsig.Base64, h, b, keys...) },
		Parse:   Parse,
		Sink:    cfg.Sink,
		Metrics: cfg.Metrics,
		Logger:  cfg.Logger,
	}
}
