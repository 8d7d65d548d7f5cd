package genesys

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/secureflow/secureflow/internal/retry"
)

// Client calls the Open Messaging inbound API. It is safe for concurrent
// use.
type Client struct {
	base   string // the inbound API: {api}/api/v2/conversations/messages/{integrationId}/inbound/open
	api    string // https://api.<region>, without a trailing slash
	tokens *TokenSource
	hc     *http.Client
}

// NewClient returns a Client for apiURL (https://api.<region>) and one
// integration.
func NewClient(apiURL, integrationID string, tokens *TokenSource, hc *http.Client) *Client {
	return &Client{
		// genesys.md §1.1: /api/v2/conversations/messages/{integrationId}/inbound/open/...
		base:   strings.TrimRight(apiURL, "/") + "/api/v2/conversations/messages/" + integrationID + "/inbound/open",
		api:    strings.TrimRight(apiURL, "/"),
		tokens: tokens,
		hc:     hc,
	}
}

// Customer identifies the customer on the channel (genesys.md §1.2,
// channel.from).
type Customer struct {
	// ID is the customer's channel id (the WhatsApp wa_id).
	ID string
	// IDType is Phone, Email or Opaque.
	IDType string
	// Nickname is the display name (WhatsApp profile name).
	Nickname string
}

// InboundMessage is a customer message for the contact centre.
type InboundMessage struct {
	// MessageID is the gateway's own stable id for this message
	// (channel.messageId): the same message always carries the same id, so
	// a resend after a crash is recognizable.
	MessageID string
	From      Customer
	Time      time.Time
	Text      string
	// CustomAttributes become participant data (channel.metadata
	// .customAttributes, genesys.md §1.2).
	CustomAttributes map[string]string
}

// Posted is what the inbound API answered.
type Posted struct {
	// ID is Genesys' id for the message.
	ID string
	// ConversationID is Genesys' conversation, when returned.
	ConversationID string
}

type fromBody struct {
	ID       string `json:"id"`
	IDType   string `json:"idType"`
	Nickname string `json:"nickname,omitempty"`
}

type channelBody struct {
	MessageID string          `json:"messageId,omitempty"`
	Time      string          `json:"time"`
	From      *fromBody       `json:"from,omitempty"`
	To        *fromBody       `json:"to,omitempty"`
	Metadata  *channelMetaOut `json:"metadata,omitempty"`
}

type channelMetaOut struct {
	CustomAttributes map[string]string `json:"customAttributes,omitempty"`
}

// SendMessage posts a customer message (genesys.md §1.2, §1.3).
func (c *Client) SendMessage(ctx context.Context, m InboundMessage) (Posted, error) {
	ch := channelBody{
		MessageID: m.MessageID,
		Time:      m.Time.UTC().Format("2006-01-02T15:04:05.000Z"),
		From:      &fromBody{ID: m.From.ID, IDType: m.From.IDType, Nickname: m.From.Nickname},
	}
	if len(m.CustomAttributes) > 0 {
		ch.Metadata = &channelMetaOut{CustomAttributes: m.CustomAttributes}
	}
	body := struct {
		Channel channelBody `json:"channel"`
		Text    string      `json:"text"`
	}{ch, m.Text}
	var resp struct {
		ID             string `json:"id"`
		ConversationID string `json:"conversationId"`
	}
	// prefetchConversationId=true makes the answer carry the conversation's
	// id (genesys.md §1.3), which transfers, disconnects and the agent's
	// user.end subscription need (§3).
	if err := c.post(ctx, "message", "/message?prefetchConversationId=true", body, &resp); err != nil {
		return Posted{}, err
	}
	return Posted{ID: resp.ID, ConversationID: resp.ConversationID}, nil
}

// Receipt reports the fate of an agent message on the channel (genesys.md
// §1.5: only Delivered and Failed are accepted).
type Receipt struct {
	// MessageID is Genesys' id of the outbound message.
	MessageID string
	// To is the customer.
	To Customer
	// Status is "Delivered" or "Failed".
	Status string
	// Reasons are failure reason codes (e.g. GeneralError,
	// RecipientOptedOut).
	Reasons []string
	Time    time.Time
}

// SendReceipt posts a receipt.
func (c *Client) SendReceipt(ctx context.Context, r Receipt) error {
	type reason struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	body := struct {
		ID             string      `json:"id"`
		Channel        channelBody `json:"channel"`
		Status         string      `json:"status"`
		Direction      string      `json:"direction"`
		Reasons        []reason    `json:"reasons,omitempty"`
		IsFinalReceipt bool        `json:"isFinalReceipt"`
	}{
		ID:             r.MessageID,
		Channel:        channelBody{Time: r.Time.UTC().Format("2006-01-02T15:04:05.000Z"), To: &fromBody{ID: r.To.ID, IDType: r.To.IDType}},
		Status:         r.Status,
		Direction:      "Outbound",
		IsFinalReceipt: true,
	}
	for _, code := range r.Reasons {
		body.Reasons = append(body.Reasons, reason{Code: code})
	}
	return c.post(ctx, "receipt", "/receipt", body, nil)
}

func (c *Client) post(ctx context.Context, op, path string, body, out any) error {
	return c.do(ctx, op, http.MethodPost, c.base+path, body, out)
}

// do sends one authenticated API call to target; body nil sends no body. A
// 2xx answer is decoded into out (when out is non-nil and the answer is not
// empty); anything else becomes an *APIError.
func (c *Client) do(ctx context.Context, op, method, target string, body, out any) error {
	return doJSON(ctx, c.hc, c.tokens, op, method, target, body, out)
}

// doJSON is do without a Client, shared with Notifications.
func doJSON(ctx context.Context, hc *http.Client, tokens *TokenSource, op, method, target string, body, out any) error {
	var buf []byte
	if body != nil {
		var err error
		if buf, err = json.Marshal(body); err != nil {
			return fmt.Errorf("genesys: encode %s: %w", op, err)
		}
	}
	// One retry on 401 with a fresh token: the cached one may have been
	// revoked before its expiry.
	for attempt := 0; ; attempt++ {
		tok, err := tokens.Token(ctx)
		if err != nil {
			return err
		}
		var rd io.Reader
		if buf != nil {
			rd = bytes.NewReader(buf)
		}
		req, err := http.NewRequestWithContext(ctx, method, target, rd)
		if err != nil {
			return fmt.Errorf("genesys: %s: %w", op, err)
		}
		if buf != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hc.Do(req)
		if err != nil {
			// Drop the *url.Error wrapper: its text quotes the URL, which for
			// notification subscriptions carries the channel id.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return &APIError{Op: op, Err: err}
		}
		data, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			tokens.Invalidate(tok)
			continue
		}
		if resp.StatusCode/100 != 2 {
			return newAPIError(op, resp)
		}
		if rerr != nil {
			return &APIError{Op: op, Status: resp.StatusCode, Err: rerr}
		}
		if out != nil && len(data) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				return &APIError{Op: op, Status: resp.StatusCode, Detail: "response is not JSON"}
			}
		}
		return nil
	}
}

// APIError is a failed call. Its message carries the operation and status,
// never request content.
type APIError struct {
	Op     string
	Status int // 0 when no response arrived
	Detail string
	// RetryAfterHint is the delay the server asked for (429 Retry-After).
	RetryAfterHint time.Duration
	Err            error
}

func newAPIError(op string, resp *http.Response) *APIError {
	return &APIError{Op: op, Status: resp.StatusCode, Detail: http.StatusText(resp.StatusCode),
		RetryAfterHint: retry.ParseAfter(resp.Header.Get("Retry-After"), time.Now())}
}

// Error implements error: the operation, HTTP status and detail.
func (e *APIError) Error() string {
	s := "genesys: " + e.Op
	if e.Status != 0 {
		s += fmt.Sprintf(": http %d", e.Status)
	}
	if e.Detail != "" {
		s += " " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying transport error, if any.
func (e *APIError) Unwrap() error { return e.Err }

// Retryable reports whether trying again later can succeed: network errors,
// 408, 429 and 5xx (genesys.md §1.9: 429 with Retry-After), and 401/403,
// which an operator fixes by correcting credentials rather than by changing
// the message.
func (e *APIError) Retryable() bool {
	switch {
	case e.Status == 0, e.Status == http.StatusRequestTimeout, e.Status == http.StatusTooManyRequests, e.Status >= 500:
		return true
	case e.Status == http.StatusUnauthorized, e.Status == http.StatusForbidden:
		return true
	}
	return false
}

// RetryAfter is the delay the server asked for, or zero.
func (e *APIError) RetryAfter() time.Duration { return e.RetryAfterHint }

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
