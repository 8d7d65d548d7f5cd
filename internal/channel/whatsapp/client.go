package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/secureflow/secureflow/internal/retry"
	"github.com/secureflow/secureflow/internal/secret"
)

// ClientConfig configures the Graph API client.
type ClientConfig struct {
	// GraphURL is the Graph API base, https://graph.facebook.com in
	// production.
	GraphURL string
	// APIVersion is the version path segment, e.g. "v24.0".
	APIVersion string
	// PhoneNumberID is the business number messages are sent from.
	PhoneNumberID string
	// AccessToken is the system-user token.
	AccessToken secret.Value
	// HTTPClient performs requests; its Timeout bounds each call.
	HTTPClient *http.Client
}

// Client sends messages through the Cloud API. It is safe for concurrent
// use.
type Client struct {
	url   string
	token string
	hc    *http.Client
}

// NewClient returns a Client.
func NewClient(cfg ClientConfig) *Client {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	return &Client{
		// whatsapp.md §2: POST https://graph.facebook.com/{version}/{PHONE_NUMBER_ID}/messages
		url:   strings.TrimRight(cfg.GraphURL, "/") + "/" + cfg.APIVersion + "/" + cfg.PhoneNumberID + "/messages",
		token: "Bearer " + string(cfg.AccessToken.Reveal()),
		hc:    hc,
	}
}

// Message is a message to a customer.
type Message struct {
	// To is the customer's wa_id.
	To string
	// Text is the body (at most 4096 characters, §2.1).
	Text string
	// Buttons, when set (at most 3, §2.2), make it an interactive reply
	// button message with Text as its body.
	Buttons []Button
	// Flow, when set, makes it an interactive Flow message (§2.5) with
	// Text as its body; Buttons must then be empty.
	Flow *Flow
	// CallbackData is echoed by Meta in status webhooks as
	// biz_opaque_callback_data (§1.5). The gateway puts its idempotency key
	// there: the Cloud API has no idempotency key of its own, so this is
	// what lets a receiver recognize a resend.
	CallbackData string
}

// Flow is the action of an interactive Flow message (whatsapp.md §2.5).
type Flow struct {
	// ID is the published Flow's id; Name may be given instead.
	ID   string
	Name string
	// Token is the flow_token: for the gateway's Flows, the token
	// waflows.Service.Issue returned. It is a credential for the data
	// endpoint: never log it.
	Token string
	// CTA is the button text (at most 20 characters, no emoji).
	CTA string
	// Screen, when set, opens the Flow on that screen (flow_action
	// navigate). Empty means flow_action data_exchange: the client asks
	// the data endpoint for the first screen with an INIT request, which is
	// what the gateway's Flows use.
	Screen string
	// Header and Footer are optional texts (at most 60 characters each).
	Header, Footer string
	// Draft sends an unpublished Flow (mode draft), for testing.
	Draft bool
}

// ErrInvalidFlow is wrapped by Send when a Flow message breaks a limit of
// whatsapp.md §2.5; nothing is sent.
var ErrInvalidFlow = errors.New("whatsapp: invalid flow message")

// validate checks the limits of whatsapp.md §2.5. Its errors wrap
// ErrInvalidFlow and ErrNotRetryable: sending again cannot succeed.
func (f *Flow) validate(body string, buttons int) error {
	if err := f.check(body, buttons); err != nil {
		return fmt.Errorf("%w: %w", err, ErrNotRetryable)
	}
	return nil
}

func (f *Flow) check(body string, buttons int) error {
	switch {
	case buttons > 0:
		return fmt.Errorf("%w: a flow message has no reply buttons", ErrInvalidFlow)
	case body == "":
		return fmt.Errorf("%w: body text is required", ErrInvalidFlow)
	case f.Token == "":
		return fmt.Errorf("%w: flow token is required", ErrInvalidFlow)
	case f.ID == "" && f.Name == "":
		return fmt.Errorf("%w: flow id or name is required", ErrInvalidFlow)
	case f.CTA == "" || utf8.RuneCountInString(f.CTA) > 20:
		return fmt.Errorf("%w: CTA must be 1 to 20 characters", ErrInvalidFlow)
	case utf8.RuneCountInString(f.Header) > 60 || utf8.RuneCountInString(f.Footer) > 60:
		return fmt.Errorf("%w: header and footer are at most 60 characters", ErrInvalidFlow)
	}
	return nil
}

// Button is a reply button (§2.2: id ≤ 256, title ≤ 20 characters).
type Button struct {
	ID    string
	Title string
}

type sendBody struct {
	MessagingProduct string       `json:"messaging_product"`
	RecipientType    string       `json:"recipient_type,omitempty"`
	To               string       `json:"to,omitempty"`
	Type             string       `json:"type,omitempty"`
	Text             *textBody    `json:"text,omitempty"`
	Interactive      *interactive `json:"interactive,omitempty"`
	BizOpaque        string       `json:"biz_opaque_callback_data,omitempty"`
	Status           string       `json:"status,omitempty"`
	MessageID        string       `json:"message_id,omitempty"`
}

type textBody struct {
	PreviewURL bool   `json:"preview_url"`
	Body       string `json:"body"`
}

type interactive struct {
	Type   string    `json:"type"`
	Header *textPart `json:"header,omitempty"`
	Body   struct {
		Text string `json:"text"`
	} `json:"body"`
	Footer *textPart `json:"footer,omitempty"`
	Action struct {
		Buttons    []replyButton `json:"buttons,omitempty"`
		Name       string        `json:"name,omitempty"`
		Parameters *flowParams   `json:"parameters,omitempty"`
	} `json:"action"`
}

type textPart struct {
	Type string `json:"type,omitempty"`
	Text string `json:"text"`
}

// flowParams are the action parameters of whatsapp.md §2.5.
type flowParams struct {
	FlowMessageVersion string         `json:"flow_message_version"`
	FlowToken          string         `json:"flow_token"`
	FlowID             string         `json:"flow_id,omitempty"`
	FlowName           string         `json:"flow_name,omitempty"`
	FlowCTA            string         `json:"flow_cta"`
	FlowAction         string         `json:"flow_action"`
	FlowActionPayload  *flowActionPld `json:"flow_action_payload,omitempty"`
	Mode               string         `json:"mode,omitempty"`
}

type flowActionPld struct {
	Screen string `json:"screen"`
}

// flowInteractive builds the interactive object of a Flow message.
func flowInteractive(text string, f *Flow) *interactive {
	in := &interactive{Type: "flow"}
	in.Body.Text = text
	if f.Header != "" {
		in.Header = &textPart{Type: "text", Text: f.Header}
	}
	if f.Footer != "" {
		in.Footer = &textPart{Text: f.Footer}
	}
	// whatsapp.md §2.5: flow_message_version must be "3"; flow_id or
	// flow_name; navigate needs flow_action_payload.screen, data_exchange
	// fetches the first screen from the endpoint (INIT).
	p := &flowParams{FlowMessageVersion: "3", FlowToken: f.Token, FlowID: f.ID, FlowCTA: f.CTA, FlowAction: "data_exchange"}
	if f.ID == "" {
		p.FlowName = f.Name
	}
	if f.Screen != "" {
		p.FlowAction, p.FlowActionPayload = "navigate", &flowActionPld{Screen: f.Screen}
	}
	if f.Draft {
		p.Mode = "draft"
	}
	in.Action.Name, in.Action.Parameters = "flow", p
	return in
}

type replyButton struct {
	Type  string `json:"type"`
	Reply struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	} `json:"reply"`
}

// Send sends m and returns the wamid Meta assigned. Acceptance is not
// delivery: delivery is reported later by status webhooks (§2.6).
func (c *Client) Send(ctx context.Context, m Message) (string, error) {
	b := sendBody{MessagingProduct: "whatsapp", RecipientType: "individual", To: m.To, BizOpaque: m.CallbackData}
	if m.Flow != nil {
		if err := m.Flow.validate(m.Text, len(m.Buttons)); err != nil {
			return "", err
		}
		b.Type, b.Interactive = "interactive", flowInteractive(m.Text, m.Flow)
	} else if len(m.Buttons) > 0 {
		in := &interactive{Type: "button"}
		in.Body.Text = m.Text
		for _, bt := range m.Buttons {
			rb := replyButton{Type: "reply"}
			rb.Reply.ID, rb.Reply.Title = bt.ID, bt.Title
			in.Action.Buttons = append(in.Action.Buttons, rb)
		}
		b.Type, b.Interactive = "interactive", in
	} else {
		b.Type, b.Text = "text", &textBody{Body: m.Text}
	}
	var resp struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if err := c.post(ctx, b, &resp); err != nil {
		return "", err
	}
	if len(resp.Messages) == 0 || resp.Messages[0].ID == "" {
		return "", &APIError{HTTPStatus: http.StatusOK, Detail: "response without a message id"}
	}
	return resp.Messages[0].ID, nil
}

// MarkRead marks a customer message as read (§2.8).
func (c *Client) MarkRead(ctx context.Context, wamid string) error {
	return c.post(ctx, sendBody{MessagingProduct: "whatsapp", Status: "read", MessageID: wamid}, nil)
}

func (c *Client) post(ctx context.Context, body sendBody, out any) error {
	buf, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("whatsapp: encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(buf))
	if err != nil {
		return fmt.Errorf("whatsapp: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		// Network errors and timeouts are retryable. The URL in the error
		// carries no secret (the token is in a header).
		return &APIError{Detail: "request failed", Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return &APIError{HTTPStatus: resp.StatusCode, Detail: "reading response", Err: err}
	}
	if resp.StatusCode/100 != 2 {
		return apiError(resp, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return &APIError{HTTPStatus: resp.StatusCode, Detail: "response is not JSON"}
		}
	}
	return nil
}

// APIError is a failed Graph API call. Its message carries the HTTP status
// and Meta's error code, never request content.
type APIError struct {
	// HTTPStatus is 0 when no response arrived.
	HTTPStatus int
	// Code is Meta's error code (§2.6), 0 when absent.
	Code int
	// Detail is a short description.
	Detail string
	// RetryAfterHint is the Retry-After the response asked for, if any.
	RetryAfterHint time.Duration
	// Err is the underlying transport error, if any.
	Err error
}

// Error implements error: the operation's detail, HTTP status and Meta code, never a message body.
func (e *APIError) Error() string {
	s := "whatsapp: " + e.Detail
	if e.HTTPStatus != 0 {
		s += fmt.Sprintf(" (http %d", e.HTTPStatus)
		if e.Code != 0 {
			s += fmt.Sprintf(", code %d", e.Code)
		}
		s += ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying transport error, if any.
func (e *APIError) Unwrap() error { return e.Err }

// retryableCodes are Meta error codes that succeed later (§2.7): throughput
// and rate limits, transient server errors, maintenance.
var retryableCodes = map[int]bool{
	130429: true, 131056: true, 80007: true, 4: true,
	131000: true, 131016: true, 2: true, 131057: true,
	// Token expired or permission problems are fixed by an operator, not
	// by the message: keep the message and retry with backoff.
	190: true, 0: true, 10: true,
}

// Retryable reports whether sending again later can succeed.
func (e *APIError) Retryable() bool {
	switch {
	case e.HTTPStatus == 0, e.HTTPStatus == http.StatusTooManyRequests, e.HTTPStatus >= 500:
		return true
	case e.HTTPStatus == http.StatusUnauthorized, e.HTTPStatus == http.StatusForbidden && e.Code >= 200 && e.Code <= 299:
		return true
	case e.Code != 0:
		return retryableCodes[e.Code]
	}
	return false
}

// RetryAfter is the delay the server asked for, or zero.
func (e *APIError) RetryAfter() time.Duration { return e.RetryAfterHint }

func apiError(resp *http.Response, data []byte) error {
	var env struct {
		Error struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(data, &env)
	e := &APIError{HTTPStatus: resp.StatusCode, Code: env.Error.Code, Detail: "send rejected", RetryAfterHint: retry.ParseAfter(resp.Header.Get("Retry-After"), time.Now())}
	return e
}

// ErrNotRetryable is matched by errors.Is for APIErrors that will never
// succeed; see APIError.Retryable.
var ErrNotRetryable = errors.New("whatsapp: not retryable")

// Is lets errors.Is(err, ErrNotRetryable) classify an APIError.
func (e *APIError) Is(target error) bool { return target == ErrNotRetryable && !e.Retryable() }
