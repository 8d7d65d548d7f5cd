package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/secureflow/secureflow/internal/emulator/internal/emulate"
)

// FlowMessage is an interactive flow message the gateway sent
// (whatsapp.md §2.5), as the customer's client sees it.
type FlowMessage struct {
	// ID is the message's wamid.
	ID string `json:"id"`
	// WaID is the recipient.
	WaID string `json:"wa_id"`
	// FlowToken, FlowID, FlowName and CTA are the action parameters.
	FlowToken string `json:"flow_token"`
	FlowID    string `json:"flow_id,omitempty"`
	FlowName  string `json:"flow_name,omitempty"`
	CTA       string `json:"flow_cta"`
	// Action is navigate or data_exchange; Screen is the first screen of a
	// navigate Flow.
	Action string `json:"flow_action"`
	Screen string `json:"screen,omitempty"`
	// Mode is draft or published ("" = published).
	Mode string `json:"mode,omitempty"`
	// Body is the message text.
	Body string `json:"body"`
	// Time is when the send was accepted.
	Time time.Time `json:"time"`
}

// FlowMessages returns the flow messages sent to a customer (every
// customer when to is empty), oldest first.
func (e *Emulator) FlowMessages(to string) []FlowMessage {
	var out []FlowMessage
	for _, m := range e.SentTo(to) {
		if m.InteractiveType != "flow" {
			continue
		}
		var in interactiveObject
		if json.Unmarshal(m.Interactive, &in) != nil || in.Action == nil {
			continue
		}
		var p flowParameters
		if json.Unmarshal(in.Action.Parameters, &p) != nil {
			continue
		}
		fm := FlowMessage{ID: m.ID, WaID: m.WaID, FlowToken: p.FlowToken, FlowID: p.FlowID, FlowName: p.FlowName,
			CTA: p.FlowCTA, Action: p.FlowAction, Mode: p.Mode, Body: m.Text, Time: m.Time}
		if fm.Action == "" {
			fm.Action = "navigate" // §2.5: navigate is the default
		}
		if p.FlowActionPayload != nil {
			fm.Screen = p.FlowActionPayload.Screen
		}
		out = append(out, fm)
	}
	return out
}

// ErrNoFlowMessage is returned by SubmitFlow when no flow message with the
// token was sent to the customer.
var ErrNoFlowMessage = errors.New("whatsapp emulator: no flow message with that token was sent to the customer")

// FlowResult is what SubmitFlow did.
type FlowResult struct {
	// Responses are the endpoint's decrypted answers, in order (INIT, then
	// data_exchange).
	Responses []FlowResponse `json:"responses"`
	// Completed is set when the endpoint closed the Flow (screen SUCCESS).
	Completed bool `json:"completed"`
	// ReplyID is the wamid of the nfm_reply webhook queued on completion.
	ReplyID string `json:"reply_id,omitempty"`
}

// SubmitFlow makes the customer to open the flow message carrying
// flowToken and submit data, as WhatsApp's client does against
// Config.FlowsEndpointURL: an INIT request when the message's flow_action
// is data_exchange (whatsapp.md §2.5, §3.4), then a data_exchange request
// from the first screen with data. When the endpoint answers SUCCESS, the
// nfm_reply webhook (§1.4) is queued, its response_json being the answer's
// extension_message_response.params. The responses are returned either
// way; an invalid submission leaves the Flow open (call SubmitFlow again).
func (e *Emulator) SubmitFlow(ctx context.Context, to, flowToken string, data map[string]string) (FlowResult, error) {
	if e.closed() {
		return FlowResult{}, ErrClosed
	}
	if e.cfg.FlowsEndpointURL == "" || e.cfg.FlowsPublicKey == nil {
		return FlowResult{}, errors.New("whatsapp emulator: FlowsEndpointURL and FlowsPublicKey are required to submit flows")
	}
	var fm *FlowMessage
	for _, m := range e.FlowMessages(to) {
		if m.FlowToken == flowToken {
			fm = &m
		}
	}
	if fm == nil {
		return FlowResult{}, ErrNoFlowMessage
	}
	c := &FlowClient{URL: e.cfg.FlowsEndpointURL, PublicKey: e.cfg.FlowsPublicKey, AppSecret: e.cfg.AppSecret, HTTP: e.cfg.Client}
	var res FlowResult
	screen := fm.Screen
	if fm.Action == "data_exchange" {
		r, err := c.Exchange(ctx, FlowRequest{Action: "INIT", FlowToken: flowToken})
		res.Responses = append(res.Responses, r)
		if err != nil {
			return res, err
		}
		if r.Status != http.StatusOK {
			return res, nil
		}
		screen = r.Screen
	}
	payload := make(map[string]any, len(data))
	for k, v := range data {
		payload[k] = v
	}
	r, err := c.Exchange(ctx, FlowRequest{Action: "data_exchange", Screen: screen, Data: payload, FlowToken: flowToken})
	res.Responses = append(res.Responses, r)
	if err != nil || r.Status != http.StatusOK || r.Screen != "SUCCESS" {
		return res, err
	}
	res.Completed = true
	// §3.5: extension_message_response.params become response_json.
	var closing struct {
		Data struct {
			EMR struct {
				Params json.RawMessage `json:"params"`
			} `json:"extension_message_response"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &closing); err != nil || len(closing.Data.EMR.Params) == 0 {
		return res, errors.New("whatsapp emulator: SUCCESS answer without extension_message_response.params")
	}
	id, err := e.sendFlowReply(ctx, fm, string(closing.Data.EMR.Params))
	res.ReplyID = id
	return res, err
}

// nfmReply is the interactive nfm_reply object of whatsapp.md §1.4.
type nfmReply struct {
	Name string `json:"name"`
	Body string `json:"body"`
	// ResponseJSON is a JSON document in a string.
	ResponseJSON string `json:"response_json"`
}

// sendFlowReply queues the nfm_reply webhook of a completed Flow.
func (e *Emulator) sendFlowReply(ctx context.Context, fm *FlowMessage, responseJSON string) (string, error) {
	id := newWAMID()
	msg := inMessage{
		// §1.4: context quotes the flow message, from the business number.
		Context:   &msgContext{From: e.cfg.DisplayPhoneNumber, ID: fm.ID},
		From:      fm.WaID,
		ID:        id,
		Timestamp: strconv.FormatInt(e.cfg.Now().Unix(), 10),
		Type:      "interactive",
		Interactive: &inInteractive{Type: "nfm_reply", NfmReply: &nfmReply{
			Name: "flow", Body: "Sent", ResponseJSON: responseJSON,
		}},
	}
	env := envelope{Object: "whatsapp_business_account", Entry: []entry{{ID: e.cfg.WABAID, Changes: []change{{
		Field: "messages",
		Value: value{MessagingProduct: "whatsapp", Metadata: e.metadata(),
			Contacts: []contact{{WaID: fm.WaID}}, Messages: []inMessage{msg}},
	}}}}}
	if err := e.enqueue(ctx, "messages", []string{id}, env); err != nil {
		return "", fmt.Errorf("nfm_reply webhook: %w", err)
	}
	e.mu.Lock()
	e.stats.CustomerMessages++
	e.mu.Unlock()
	return id, nil
}

func (e *Emulator) handleFlows(w http.ResponseWriter, r *http.Request) {
	emulate.WriteJSON(w, http.StatusOK, map[string]any{"flows": e.FlowMessages(r.URL.Query().Get("to"))})
}

func (e *Emulator) handleSubmitFlow(w http.ResponseWriter, r *http.Request) {
	var in struct {
		To        string            `json:"to"`
		FlowToken string            `json:"flow_token"`
		Data      map[string]string `json:"data"`
	}
	if !emulate.DecodeJSON(w, r, &in) {
		return
	}
	res, err := e.SubmitFlow(r.Context(), in.To, in.FlowToken, in.Data)
	if err != nil {
		emulate.WriteJSON(w, http.StatusBadGateway, map[string]any{"error": err.Error(), "result": res})
		return
	}
	emulate.WriteJSON(w, http.StatusOK, res)
}
