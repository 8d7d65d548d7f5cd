package whatsapp

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/secureflow/secureflow/internal/emulator/internal/emulate"
)

// SentMessage is one message the gateway sent to a customer through the
// Graph API, as accepted.
type SentMessage struct {
	// Seq numbers accepted sends from 1; use it with GET /sent?after=.
	Seq uint64 `json:"seq"`
	// ID is the wamid the Graph API answered with.
	ID string `json:"id"`
	// To is the recipient as the gateway wrote it.
	To string `json:"to"`
	// WaID is the recipient's wa_id (the digits of To).
	WaID string `json:"wa_id"`
	// Type is "text" or "interactive".
	Type string `json:"type"`
	// Text is the text body, or the interactive message's body text: what
	// the customer reads.
	Text string `json:"text,omitempty"`
	// InteractiveType is button, list, cta_url or flow.
	InteractiveType string `json:"interactive_type,omitempty"`
	// Interactive is the interactive object as sent.
	Interactive json.RawMessage `json:"interactive,omitempty"`
	// BizOpaqueCallbackData is the gateway's opaque data (its outbox id).
	BizOpaqueCallbackData string `json:"biz_opaque_callback_data,omitempty"`
	// ContextMessageID is the wamid quoted with context.message_id.
	ContextMessageID string `json:"context_message_id,omitempty"`
	// Resend is set when BizOpaqueCallbackData had been seen before.
	Resend bool `json:"resend"`
	// Time is when the send was accepted.
	Time time.Time `json:"time"`
	// Raw is the request body exactly as received.
	Raw json.RawMessage `json:"raw"`
}

// ReadMark is one accepted mark-as-read call (whatsapp.md §2.8).
type ReadMark struct {
	// MessageID is the customer message marked as read.
	MessageID string `json:"message_id"`
	// Typing is set when a typing indicator was requested with it.
	Typing bool `json:"typing"`
	// Time is when the call was accepted.
	Time time.Time `json:"time"`
}

// Sent returns the accepted sends, oldest first.
func (e *Emulator) Sent() []SentMessage { return e.SentTo("") }

// SentTo returns the accepted sends to one customer, oldest first; to is
// matched by its digits against the wa_id, so "+1 650-555-1234" and
// "16505551234" are the same recipient. An empty to returns every send.
func (e *Emulator) SentTo(to string) []SentMessage {
	want := digits(to)
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sent.Filter(func(m SentMessage) bool { return want == "" || m.WaID == want })
}

// ReadMarks returns the accepted mark-as-read calls, oldest first.
func (e *Emulator) ReadMarks() []ReadMark {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.readMarks.All()
}

// sendRequest is the union of the send bodies of whatsapp.md §2.1–§2.5 and
// the mark-as-read body of §2.8.
type sendRequest struct {
	MessagingProduct string `json:"messaging_product"`
	RecipientType    string `json:"recipient_type"`
	To               string `json:"to"`
	Type             string `json:"type"`
	Context          *struct {
		MessageID string `json:"message_id"`
	} `json:"context"`
	Text *struct {
		Body       string `json:"body"`
		PreviewURL bool   `json:"preview_url"`
	} `json:"text"`
	Interactive           json.RawMessage `json:"interactive"`
	BizOpaqueCallbackData string          `json:"biz_opaque_callback_data"`

	Status          string `json:"status"`
	MessageID       string `json:"message_id"`
	TypingIndicator *struct {
		Type string `json:"type"`
	} `json:"typing_indicator"`
}

type interactiveObject struct {
	Type   string `json:"type"`
	Header *struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"header"`
	Body *struct {
		Text string `json:"text"`
	} `json:"body"`
	Footer *struct {
		Text string `json:"text"`
	} `json:"footer"`
	Action *struct {
		Buttons []struct {
			Type  string `json:"type"`
			Reply struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"reply"`
		} `json:"buttons"`
		Button   string `json:"button"`
		Sections []struct {
			Title string `json:"title"`
			Rows  []struct {
				ID          string `json:"id"`
				Title       string `json:"title"`
				Description string `json:"description"`
			} `json:"rows"`
		} `json:"sections"`
		Name       string          `json:"name"`
		Parameters json.RawMessage `json:"parameters"`
	} `json:"action"`
}

type ctaParameters struct {
	DisplayText string `json:"display_text"`
	URL         string `json:"url"`
}

type flowParameters struct {
	FlowMessageVersion string `json:"flow_message_version"`
	FlowToken          string `json:"flow_token"`
	FlowID             string `json:"flow_id"`
	FlowName           string `json:"flow_name"`
	FlowCTA            string `json:"flow_cta"`
	FlowAction         string `json:"flow_action"`
	FlowActionPayload  *struct {
		Screen string          `json:"screen"`
		Data   json.RawMessage `json:"data"`
	} `json:"flow_action_payload"`
	Mode string `json:"mode"`
}

// sendResponse is the success answer of whatsapp.md §2.6, in Meta's field order.
type sendResponse struct {
	MessagingProduct string          `json:"messaging_product"`
	Contacts         []sendContact   `json:"contacts"`
	Messages         []sendMessageID `json:"messages"`
}

type sendContact struct {
	Input string `json:"input"`
	WaID  string `json:"wa_id"`
}

type sendMessageID struct {
	ID string `json:"id"`
}

// graphError is an answer in Meta's error envelope (whatsapp.md §2.6).
type graphError struct {
	status  int
	code    int
	title   string
	details string
	typ     string
}

// Error codes used by the emulator, with the HTTP statuses Meta documents
// for them (whatsapp.md §2.7).
const (
	codeInvalidParameter = 100    // 400
	codeAccessToken      = 190    // 401
	codeUnknownPath      = 2500   // 400 (not in the fact sheet; Graph's answer to a malformed path)
	codeRateLimit        = 130429 // 400 per Meta; 429 by default here, see Faults.RateLimitStatus
	codeUnknown          = 131000 // 500
	codeMissingParameter = 131008 // 400
	codeInvalidValue     = 131009 // 400
	codeUnsupportedType  = 131051 // 400
	codeUnavailable      = 2      // 503
)

func missing(param string) *graphError {
	return &graphError{status: 400, code: codeMissingParameter, title: "Required parameter is missing",
		details: fmt.Sprintf("The parameter %s is required.", param)}
}

func invalid(format string, a ...any) *graphError {
	return &graphError{status: 400, code: codeInvalidValue, title: "Parameter value is not valid",
		details: fmt.Sprintf(format, a...)}
}

func (e *Emulator) writeGraphError(w http.ResponseWriter, ge *graphError) {
	typ := ge.typ
	if typ == "" {
		typ = "OAuthException"
	}
	var trace [12]byte
	_, _ = rand.Read(trace[:])
	type errorData struct {
		MessagingProduct string `json:"messaging_product"`
		Details          string `json:"details"`
	}
	type body struct {
		Message   string     `json:"message"`
		Type      string     `json:"type"`
		Code      int        `json:"code"`
		ErrorData *errorData `json:"error_data,omitempty"`
		FBTraceID string     `json:"fbtrace_id"`
	}
	// whatsapp.md §2.6: message is "(#code) title"; details in error_data.
	b := body{
		Message: fmt.Sprintf("(#%d) %s", ge.code, ge.title), Type: typ, Code: ge.code,
		FBTraceID: base64.RawURLEncoding.EncodeToString(trace[:]),
	}
	if ge.details != "" {
		b.ErrorData = &errorData{MessagingProduct: "whatsapp", Details: ge.details}
	}
	e.mu.Lock()
	e.stats.Rejected++
	e.mu.Unlock()
	emulate.WriteJSON(w, ge.status, map[string]any{"error": b})
}

var versionPattern = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)

// maxGraphBody bounds a send request body.
const maxGraphBody = 1 << 20

func (e *Emulator) handleSend(w http.ResponseWriter, r *http.Request) {
	if !e.authorized(r) {
		e.writeGraphError(w, &graphError{status: http.StatusUnauthorized, code: codeAccessToken,
			title: "Invalid OAuth access token - Cannot parse access token"})
		return
	}
	// Read the whole body first: net/http notices a caller that gives up
	// only once the body is consumed, and the Timeout fault relies on it.
	raw, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxGraphBody))
	fault, f := e.faults.Before()
	if f.Latency > 0 && !e.wait(r.Context(), f.Latency) {
		return
	}
	switch fault {
	case emulate.Call429:
		secs := int((f.RetryAfter + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		e.writeGraphError(w, &graphError{status: orDefaultInt(f.RateLimitStatus, http.StatusTooManyRequests),
			code: codeRateLimit, title: "Rate limit hit", details: "Cloud API message throughput has been reached."})
		return
	case emulate.Call500:
		e.writeGraphError(w, &graphError{status: http.StatusInternalServerError, code: codeUnknown,
			title: "Something went wrong", details: "Something went wrong. Please try again later."})
		return
	case emulate.CallTimeout:
		e.hang(w, r)
		return
	}
	if readErr != nil {
		e.writeGraphError(w, &graphError{status: 400, code: codeInvalidParameter, title: "Invalid parameter",
			details: "Request body unreadable or larger than 1 MiB."})
		return
	}
	if !versionPattern.MatchString(r.PathValue("version")) {
		e.writeGraphError(w, &graphError{status: 400, code: codeUnknownPath, title: "Unknown path components",
			details: fmt.Sprintf("%q is not a Graph API version such as v24.0", r.PathValue("version"))})
		return
	}
	if id := r.PathValue("phoneNumberID"); id != e.cfg.PhoneNumberID {
		e.writeGraphError(w, &graphError{status: 400, code: codeInvalidParameter, typ: "GraphMethodException",
			title: fmt.Sprintf("Unsupported post request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation", id)})
		return
	}
	var req sendRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		e.writeGraphError(w, &graphError{status: 400, code: codeInvalidParameter, title: "Invalid parameter",
			details: "Request body is not a valid JSON object of the expected shape."})
		return
	}
	if req.MessagingProduct != "whatsapp" {
		e.writeGraphError(w, &graphError{status: 400, code: codeInvalidParameter, title: "Invalid parameter",
			details: "The parameter messaging_product is required and must be \"whatsapp\"."})
		return
	}
	if req.Status != "" {
		e.markRead(w, r, &req)
		return
	}
	sent, ge := e.validateSend(&req)
	if ge != nil {
		e.writeGraphError(w, ge)
		return
	}
	sent.Raw = raw
	ref := e.recordSend(&sent)
	if e.faults.AcceptThenTimeout() {
		// The send is accepted (and its statuses follow) but the answer is
		// lost: the gateway must resend with the same biz_opaque_callback_data.
		if e.cfg.AutoStatuses {
			e.autoStatuses(context.WithoutCancel(r.Context()), sent.ID, ref)
		}
		e.hang(w, r)
		return
	}
	// whatsapp.md §2.6: success means accepted, with the recipient's wa_id
	// and the new wamid.
	emulate.WriteJSON(w, http.StatusOK, sendResponse{
		MessagingProduct: "whatsapp",
		Contacts:         []sendContact{{Input: sent.To, WaID: sent.WaID}},
		Messages:         []sendMessageID{{ID: sent.ID}},
	})
	if e.cfg.AutoStatuses {
		e.autoStatuses(r.Context(), sent.ID, ref)
	}
}

func (e *Emulator) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	const p = "Bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(h[len(p):]), []byte(e.cfg.AccessToken)) == 1
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
		e.writeGraphError(w, &graphError{status: http.StatusServiceUnavailable, code: codeUnavailable,
			title: "Service temporarily unavailable"})
	}
}

func (e *Emulator) markRead(w http.ResponseWriter, r *http.Request, req *sendRequest) {
	// whatsapp.md §2.8: {"messaging_product":"whatsapp","status":"read","message_id":…} → {"success":true}.
	switch {
	case req.Status != "read":
		e.writeGraphError(w, invalid("status must be \"read\"."))
		return
	case req.MessageID == "":
		e.writeGraphError(w, missing("message_id"))
		return
	case req.TypingIndicator != nil && req.TypingIndicator.Type != "text":
		e.writeGraphError(w, invalid("typing_indicator.type must be \"text\"."))
		return
	}
	m := ReadMark{MessageID: req.MessageID, Typing: req.TypingIndicator != nil, Time: e.cfg.Now()}
	e.mu.Lock()
	e.readMarks.Push(m)
	e.stats.ReadMarks++
	e.mu.Unlock()
	emulate.WriteJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// recordSend assigns the wamid and records the send, counting a resend when
// its biz_opaque_callback_data was seen before.
func (e *Emulator) recordSend(m *SentMessage) sentRef {
	m.ID = newWAMID()
	m.Time = e.cfg.Now()
	ref := sentRef{waID: m.WaID, biz: m.BizOpaqueCallbackData}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	m.Seq = e.seq
	if m.BizOpaqueCallbackData != "" {
		if _, seen := e.seenBiz.Get(m.BizOpaqueCallbackData); seen {
			m.Resend = true
			e.stats.Resends++
		} else {
			e.seenBiz.Put(m.BizOpaqueCallbackData, struct{}{})
		}
	}
	e.byWAMID.Put(m.ID, ref)
	if m.Type == "interactive" {
		e.lastInter.Put(m.WaID, m.ID)
	}
	e.stats.Sent++
	e.sent.Push(*m)
	return ref
}

var toPattern = regexp.MustCompile(`^\+?[0-9 ()\-]+$`)

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// validateSend checks a send like the Cloud API does, with the limits of
// whatsapp.md §2.1–§2.5, and returns the record to keep.
func (e *Emulator) validateSend(req *sendRequest) (SentMessage, *graphError) {
	var m SentMessage
	if req.RecipientType != "" && req.RecipientType != "individual" {
		return m, invalid("recipient_type must be \"individual\".")
	}
	if req.To == "" {
		return m, missing("to")
	}
	// whatsapp.md §2: "+", "-", "(", ")" and spaces are accepted around the
	// digits. Meta prefixes the business number's country code when "+" is
	// omitted; the emulator cannot know it and takes the digits as the
	// wa_id (inference).
	if !toPattern.MatchString(req.To) || len(digits(req.To)) < 5 || len(digits(req.To)) > 15 {
		return m, &graphError{status: 400, code: codeInvalidParameter, title: "Invalid parameter",
			details: "The parameter to must be a phone number with country code."}
	}
	m.To, m.WaID, m.Type = req.To, digits(req.To), req.Type
	m.BizOpaqueCallbackData = req.BizOpaqueCallbackData
	if req.Context != nil {
		m.ContextMessageID = req.Context.MessageID
	}
	switch req.Type {
	case "", "text":
		m.Type = "text" // text is the Cloud API's default type
		if req.Text == nil || req.Text.Body == "" {
			return m, missing("text['body']")
		}
		// whatsapp.md §2.1: body at most 4096 characters.
		if n := runes(req.Text.Body); n > 4096 {
			return m, invalid("text['body'] must be at most 4096 characters long, got %d.", n)
		}
		m.Text = req.Text.Body
	case "interactive":
		if len(req.Interactive) == 0 || string(req.Interactive) == "null" {
			return m, missing("interactive")
		}
		var in interactiveObject
		if err := json.Unmarshal(req.Interactive, &in); err != nil {
			return m, &graphError{status: 400, code: codeInvalidParameter, title: "Invalid parameter",
				details: "The parameter interactive is not a valid object."}
		}
		if ge := validateInteractive(&in); ge != nil {
			return m, ge
		}
		m.InteractiveType = in.Type
		m.Interactive = req.Interactive
		m.Text = in.Body.Text
	default:
		return m, &graphError{status: 400, code: codeUnsupportedType, title: "Unsupported message type",
			details: fmt.Sprintf("Message type %q is not supported by the emulator (text and interactive are).", req.Type)}
	}
	return m, nil
}

func validateInteractive(in *interactiveObject) *graphError {
	if in.Type == "" {
		return missing("interactive['type']")
	}
	if in.Body == nil || in.Body.Text == "" {
		return missing("interactive['body']['text']")
	}
	if in.Action == nil {
		return missing("interactive['action']")
	}
	if in.Footer != nil && runes(in.Footer.Text) > 60 {
		return invalid("interactive['footer']['text'] must be at most 60 characters long.")
	}
	if in.Header != nil {
		if in.Header.Type == "" {
			return missing("interactive['header']['type']")
		}
		if in.Header.Type == "text" && runes(in.Header.Text) > 60 {
			return invalid("interactive['header']['text'] must be at most 60 characters long.")
		}
	}
	body := runes(in.Body.Text)
	switch in.Type {
	case "button":
		// whatsapp.md §2.2: at most 3 buttons, title ≤ 20 and unique, id ≤ 256, body ≤ 1024.
		if body > 1024 {
			return invalid("interactive['body']['text'] must be at most 1024 characters long for button messages.")
		}
		if in.Header != nil && !oneOf(in.Header.Type, "text", "image", "video", "document") {
			return invalid("interactive['header']['type'] must be text, image, video or document.")
		}
		n := len(in.Action.Buttons)
		if n == 0 {
			return missing("interactive['action']['buttons']")
		}
		if n > 3 {
			return invalid("interactive['action']['buttons'] must have at most 3 buttons, got %d.", n)
		}
		titles := map[string]bool{}
		for i, b := range in.Action.Buttons {
			switch {
			case b.Type != "reply":
				return invalid("buttons[%d]['type'] must be \"reply\".", i)
			case b.Reply.ID == "":
				return missing(fmt.Sprintf("buttons[%d]['reply']['id']", i))
			case b.Reply.Title == "":
				return missing(fmt.Sprintf("buttons[%d]['reply']['title']", i))
			case runes(b.Reply.ID) > 256:
				return invalid("buttons[%d]['reply']['id'] must be at most 256 characters long.", i)
			case runes(b.Reply.Title) > 20:
				return invalid("buttons[%d]['reply']['title'] must be at most 20 characters long.", i)
			case titles[b.Reply.Title]:
				return invalid("Button titles must be unique: %q is repeated.", b.Reply.Title)
			}
			titles[b.Reply.Title] = true
		}
	case "list":
		// whatsapp.md §2.3: button ≤ 20; ≤ 10 sections and ≤ 10 rows in all;
		// section title ≤ 24; row id ≤ 200, title ≤ 24, description ≤ 72;
		// header text only; body ≤ 4096 (current page; older Postman says 1024).
		if body > 4096 {
			return invalid("interactive['body']['text'] must be at most 4096 characters long.")
		}
		if in.Header != nil && in.Header.Type != "text" {
			return invalid("interactive['header']['type'] must be text for list messages.")
		}
		if in.Action.Button == "" {
			return missing("interactive['action']['button']")
		}
		if runes(in.Action.Button) > 20 {
			return invalid("interactive['action']['button'] must be at most 20 characters long.")
		}
		if len(in.Action.Sections) == 0 {
			return missing("interactive['action']['sections']")
		}
		if len(in.Action.Sections) > 10 {
			return invalid("interactive['action']['sections'] must have at most 10 sections.")
		}
		rows := 0
		for i, s := range in.Action.Sections {
			if runes(s.Title) > 24 {
				return invalid("sections[%d]['title'] must be at most 24 characters long.", i)
			}
			if len(s.Rows) == 0 {
				return missing(fmt.Sprintf("sections[%d]['rows']", i))
			}
			for j, row := range s.Rows {
				rows++
				switch {
				case row.ID == "":
					return missing(fmt.Sprintf("sections[%d]['rows'][%d]['id']", i, j))
				case row.Title == "":
					return missing(fmt.Sprintf("sections[%d]['rows'][%d]['title']", i, j))
				case runes(row.ID) > 200:
					return invalid("sections[%d]['rows'][%d]['id'] must be at most 200 characters long.", i, j)
				case runes(row.Title) > 24:
					return invalid("sections[%d]['rows'][%d]['title'] must be at most 24 characters long.", i, j)
				case runes(row.Description) > 72:
					return invalid("sections[%d]['rows'][%d]['description'] must be at most 72 characters long.", i, j)
				}
			}
		}
		if rows > 10 {
			return invalid("A list message can have at most 10 rows in total, got %d.", rows)
		}
	case "cta_url":
		// whatsapp.md §2.4: display_text ≤ 20; body ≤ 1024.
		if body > 1024 {
			return invalid("interactive['body']['text'] must be at most 1024 characters long for cta_url messages.")
		}
		if in.Action.Name != "cta_url" {
			return invalid("interactive['action']['name'] must be \"cta_url\".")
		}
		var p ctaParameters
		if len(in.Action.Parameters) == 0 || json.Unmarshal(in.Action.Parameters, &p) != nil {
			return missing("interactive['action']['parameters']")
		}
		switch {
		case p.DisplayText == "":
			return missing("parameters['display_text']")
		case runes(p.DisplayText) > 20:
			return invalid("parameters['display_text'] must be at most 20 characters long.")
		case p.URL == "":
			return missing("parameters['url']")
		}
		if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return invalid("parameters['url'] must be an http or https URL.")
		}
	case "flow":
		// whatsapp.md §2.5. The 1024 body limit is assumed from the other
		// interactive types (inference).
		if body > 1024 {
			return invalid("interactive['body']['text'] must be at most 1024 characters long for flow messages.")
		}
		if in.Action.Name != "flow" {
			return invalid("interactive['action']['name'] must be \"flow\".")
		}
		var p flowParameters
		if len(in.Action.Parameters) == 0 || json.Unmarshal(in.Action.Parameters, &p) != nil {
			return missing("interactive['action']['parameters']")
		}
		switch {
		case p.FlowMessageVersion != "3":
			return invalid("parameters['flow_message_version'] must be \"3\".")
		case p.FlowToken == "":
			return missing("parameters['flow_token']")
		case p.FlowID == "" && p.FlowName == "":
			return missing("parameters['flow_id'] or parameters['flow_name']")
		case p.FlowCTA == "":
			return missing("parameters['flow_cta']")
		case runes(p.FlowCTA) > 20:
			return invalid("parameters['flow_cta'] must be at most 20 characters long.")
		case !oneOf(p.FlowAction, "", "navigate", "data_exchange"):
			return invalid("parameters['flow_action'] must be navigate or data_exchange.")
		case (p.FlowAction == "" || p.FlowAction == "navigate") && (p.FlowActionPayload == nil || p.FlowActionPayload.Screen == ""):
			return missing("parameters['flow_action_payload']['screen']")
		case !oneOf(p.Mode, "", "draft", "published"):
			return invalid("parameters['mode'] must be draft or published.")
		}
	default:
		return &graphError{status: 400, code: codeUnsupportedType, title: "Unsupported message type",
			details: fmt.Sprintf("Interactive type %q is not supported by the emulator (button, list, cta_url and flow are).", in.Type)}
	}
	return nil
}

func oneOf(v string, set ...string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}
