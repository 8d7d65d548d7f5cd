package httpapi

import (
	"net/http"
	"net/url"
	"time"
)

type startBody struct {
	Flow                  string         `json:"flow"`
	Mode                  string         `json:"mode"`
	Conversation          string         `json:"conversation"`
	GenesysConversationID string         `json:"genesys_conversation_id"`
	Inputs                map[string]any `json:"inputs"`
	Locale                string         `json:"locale"`
}

type sessionBody struct {
	ID            string         `json:"id"`
	Flow          string         `json:"flow"`
	Mode          string         `json:"mode"`
	Conversation  string         `json:"conversation"`
	Status        string         `json:"status"`
	Step          string         `json:"step"`
	Outcome       string         `json:"outcome"`
	AgentReserved bool           `json:"agent_reserved"`
	AgentPresent  bool           `json:"agent_present"`
	Outputs       map[string]any `json:"outputs"`
	CreatedAt     time.Time      `json:"created_at"`
	EndedAt       *time.Time     `json:"ended_at"`
}

func toSessionBody(s Session) sessionBody {
	out := s.Outputs
	if out == nil {
		out = map[string]any{}
	}
	return sessionBody{ID: s.ID, Flow: s.Flow, Mode: s.Mode, Conversation: s.Conversation, Status: s.Status,
		Step: s.Step, Outcome: s.Outcome, AgentReserved: s.AgentReserved, AgentPresent: s.AgentPresent,
		Outputs: out, CreatedAt: s.CreatedAt, EndedAt: s.EndedAt}
}

func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, st *reqState) error {
	var b startBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	st.scrub = append(st.scrub, b.Conversation)
	for _, v := range b.Inputs {
		if s, ok := v.(string); ok {
			st.scrub = append(st.scrub, s)
		}
	}
	req, err := b.validate()
	key, kerr := idempotencyKey(r)
	if err = joinInvalid(err, kerr); err != nil {
		return err
	}
	req.IdempotencyKey, req.Principal = key, st.keyID
	if h.sessions == nil {
		return ErrUnavailable
	}
	s, err := h.sessions.Start(r.Context(), req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/secure-sessions/"+url.PathEscape(s.ID))
	return writeJSON(w, http.StatusCreated, toSessionBody(s))
}

// validate checks the body and converts it; inputs given as "" or null are
// dropped so that a Genesys data action can send every contract field.
func (b startBody) validate() (StartRequest, error) {
	var fe []FieldError
	switch {
	case b.Flow == "":
		fe = append(fe, FieldError{"flow", "required"})
	case !flowRE.MatchString(b.Flow):
		fe = append(fe, FieldError{"flow", "must be a flow id: lowercase letters, digits, '-' and '_', at most 64"})
	}
	if b.Mode != "" && b.Mode != ModeAgentReferred && b.Mode != ModeSelfService {
		fe = append(fe, FieldError{"mode", "must be agent_referred or self_service (or absent for the flow's own)"})
	}
	switch {
	case b.Conversation == "":
		fe = append(fe, FieldError{"conversation", "required: the customer's channel id (WhatsApp wa_id)"})
	case !channelIDRE.MatchString(b.Conversation):
		fe = append(fe, FieldError{"conversation", "must be a channel id of at most 128 letters, digits or + . _ : @ -"})
	}
	if b.GenesysConversationID != "" && !genesysIDRE.MatchString(b.GenesysConversationID) {
		fe = append(fe, FieldError{"genesys_conversation_id", "must be a Genesys conversation id (a UUID)"})
	}
	if b.Locale != "" && !localeRE.MatchString(b.Locale) {
		fe = append(fe, FieldError{"locale", "must be a BCP 47 language tag such as pt-BR"})
	}
	inputs := make(map[string]any, len(b.Inputs))
	if len(b.Inputs) > maxInputs {
		fe = append(fe, FieldError{"inputs", "at most 50 inputs"})
	}
	badKey := false
	for k, v := range b.Inputs {
		if !inputKeyRE.MatchString(k) {
			badKey = true // the key itself is not echoed: it could be anything
			continue
		}
		switch v := v.(type) {
		case nil:
		case string:
			if len(v) > maxInputLen {
				fe = append(fe, FieldError{"inputs." + k, "at most 1024 bytes"})
			} else if v != "" {
				inputs[k] = v
			}
		case float64, bool:
			inputs[k] = v
		default:
			fe = append(fe, FieldError{"inputs." + k, "must be a string, number or boolean"})
		}
	}
	if badKey {
		fe = append(fe, FieldError{"inputs", "names must be lowercase letters, digits and '_', starting with a letter, at most 64"})
	}
	if len(fe) > 0 {
		return StartRequest{}, Invalid(fe...)
	}
	return StartRequest{Flow: b.Flow, Mode: b.Mode, Conversation: b.Conversation,
		GenesysConversationID: b.GenesysConversationID, Inputs: inputs, Locale: b.Locale}, nil
}

func (h *Handler) getSession(w http.ResponseWriter, r *http.Request, _ *reqState) error {
	id := r.PathValue("id")
	if !idRE.MatchString(id) {
		return ErrNotFound
	}
	if h.sessions == nil {
		return ErrUnavailable
	}
	s, err := h.sessions.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toSessionBody(s))
}

type eventBody struct {
	Type          string     `json:"type"`
	ParticipantID string     `json:"participant_id"`
	UserID        string     `json:"user_id"`
	At            *time.Time `json:"at"`
}

func (h *Handler) conversationEvent(w http.ResponseWriter, r *http.Request, _ *reqState) error {
	id := r.PathValue("id")
	if !genesysIDRE.MatchString(id) {
		return ErrNotFound
	}
	var b eventBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	var fe []FieldError
	if b.Type != EventAgentDisconnected {
		fe = append(fe, FieldError{"type", "must be agent_disconnected"})
	}
	if b.ParticipantID != "" && !genesysIDRE.MatchString(b.ParticipantID) {
		fe = append(fe, FieldError{"participant_id", "must be a Genesys participant id (a UUID)"})
	}
	if b.UserID != "" && !genesysIDRE.MatchString(b.UserID) {
		fe = append(fe, FieldError{"user_id", "must be a Genesys user id (a UUID)"})
	}
	if len(fe) > 0 {
		return Invalid(fe...)
	}
	e := AgentEvent{Type: b.Type, ParticipantID: b.ParticipantID, UserID: b.UserID, At: h.now().UTC()}
	if b.At != nil && !b.At.IsZero() {
		e.At = *b.At
	}
	if h.sessions == nil {
		return ErrUnavailable
	}
	if err := h.sessions.AgentEvent(r.Context(), id, e); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type invokeBody struct {
	Inputs map[string]string `json:"inputs"`
}

type invokeResult struct {
	Outputs map[string]any `json:"outputs"`
}

func (h *Handler) invokeAction(w http.ResponseWriter, r *http.Request, st *reqState) error {
	name := r.PathValue("name")
	if !actionRE.MatchString(name) {
		return ErrNotFound
	}
	var b invokeBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	for _, v := range b.Inputs {
		st.scrub = append(st.scrub, v)
	}
	var fe []FieldError
	if len(b.Inputs) > maxInputs {
		fe = append(fe, FieldError{"inputs", "at most 50 inputs"})
	}
	badKey := false
	for k, v := range b.Inputs {
		switch {
		case !inputKeyRE.MatchString(k):
			badKey = true
		case len(v) > maxActionInputLen:
			fe = append(fe, FieldError{"inputs." + k, "at most 4096 bytes"})
		}
	}
	if badKey {
		fe = append(fe, FieldError{"inputs", "names must be lowercase letters, digits and '_', starting with a letter, at most 64"})
	}
	var err error
	if len(fe) > 0 {
		err = Invalid(fe...)
	}
	key, kerr := idempotencyKey(r)
	if err = joinInvalid(err, kerr); err != nil {
		return err
	}
	if h.actions == nil {
		return ErrUnavailable
	}
	// As for sessions, an input sent as "" is absent: a Genesys data action
	// sends every contract field (genesys.md §4.2, flat contracts).
	inputs := make(map[string]string, len(b.Inputs))
	for k, v := range b.Inputs {
		if v != "" {
			inputs[k] = v
		}
	}
	out, err := h.actions.InvokeWithTokens(r.Context(), name, inputs, key, st.keyID)
	if err != nil {
		return err
	}
	if out == nil {
		out = map[string]any{}
	}
	return writeJSON(w, http.StatusOK, invokeResult{Outputs: out})
}
