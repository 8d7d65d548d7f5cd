package waflows

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/hubsig"
	"github.com/secureflow/secureflow/internal/secret"
)

// HTTP statuses of whatsapp.md §3.6.
const (
	// StatusCannotDecrypt: the client re-fetches the public key and retries.
	StatusCannotDecrypt = 421
	// StatusTokenInvalid: the flow token is no longer valid.
	StatusTokenInvalid = 427
	// StatusBadSignature: the request signature did not verify.
	StatusBadSignature = 432
)

// request is a decrypted request payload (whatsapp.md §3.4). Data is kept
// raw: it holds the customer's values and is decoded only where needed.
type request struct {
	Version   string          `json:"version"`
	Action    string          `json:"action"`
	Screen    string          `json:"screen"`
	Data      json.RawMessage `json:"data"`
	FlowToken string          `json:"flow_token"`
}

// Actions of whatsapp.md §3.4.
const (
	actionPing         = "ping"
	actionInit         = "INIT"
	actionBack         = "BACK"
	actionDataExchange = "data_exchange"
)

// screen is a next-screen or closing answer (whatsapp.md §3.5).
type screen struct {
	Screen string         `json:"screen"`
	Data   map[string]any `json:"data"`
}

// Handler returns the handler of the Flows data endpoint, to be mounted at
// POST /flows/whatsapp (the Flow's endpoint_uri, whatsapp.md §3.1).
func (s *Service) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	outcome := s.handle(w, r)
	s.metrics.requests.WithLabelValues(outcome).Inc()
	s.metrics.latency.Observe(time.Since(start).Seconds())
}

// handle serves one request and returns its outcome for the metrics.
func (s *Service) handle(w http.ResponseWriter, r *http.Request) string {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return outcomeBadRequest
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Budget)
	defer cancel()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return outcomeBadRequest
		}
		http.Error(w, "bad request", http.StatusBadRequest)
		return outcomeBadRequest
	}
	// whatsapp.md §3.7: the signature is checked first, over the raw body;
	// failure is 432. A missing or malformed header fails the same way
	// (§6.2: Meta's sample lets a missing header through).
	if err := hubsig.Verify(hubsig.Hex, r.Header.Get(hubsig.Header), body, s.appKeys...); err != nil {
		s.log.WarnContext(ctx, "waflows: signature check failed", "reason", err.Error())
		http.Error(w, "signature verification failed", StatusBadSignature)
		return outcomeBadSignature
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return outcomeBadRequest
	}
	plain, key, err := decrypt(s.key, env)
	if err != nil {
		// whatsapp.md §3.6: 421, not encrypted, makes the client re-fetch
		// the public key (§6.8: a 500 here would never recover).
		s.log.WarnContext(ctx, "waflows: request cannot be decrypted")
		http.Error(w, "request cannot be decrypted", StatusCannotDecrypt)
		return outcomeUndecryptable
	}
	var req request
	err = json.Unmarshal(plain, &req)
	clear(plain)
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return outcomeBadRequest
	}
	defer clear(req.Data)

	if req.Action == actionPing {
		// whatsapp.md §3.4: health check.
		s.reply(ctx, w, key, http.StatusOK, map[string]any{"data": map[string]string{"status": "active"}})
		return outcomePing
	}
	if note, ok := errorNotification(req.Data); ok {
		// whatsapp.md §3.4: the client reports that a previous answer was
		// invalid; checked before routing on action, as Meta's flow.js
		// does. Only the error key is logged (error_message is free text).
		s.log.WarnContext(ctx, "waflows: client reported an error", "action", req.Action, "error_key", note)
		s.reply(ctx, w, key, http.StatusOK, map[string]any{"data": map[string]bool{"acknowledged": true}})
		return outcomeErrorNotice
	}
	now := s.cfg.Now()
	hash, ok := hashToken(req.FlowToken)
	if !ok {
		s.logOutcome(ctx, outcomeUnknownToken, nil, "action", sanitizeWord(req.Action))
		s.tokenInvalid(ctx, w, key, locales[0])
		return outcomeUnknownToken
	}
	g, err := s.st.ByHash(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		s.logOutcome(ctx, outcomeUnknownToken, nil, "action", sanitizeWord(req.Action))
		s.tokenInvalid(ctx, w, key, locales[0])
		return outcomeUnknownToken
	}
	if err != nil {
		return s.fail(ctx, w, nil, "load token", err)
	}
	if !g.UsedAt.IsZero() || !now.Before(g.ExpiresAt) || g.Attempts >= s.cfg.MaxAttempts {
		s.logOutcome(ctx, outcomeSpent, &g)
		s.tokenInvalid(ctx, w, key, g.Locale)
		return outcomeSpent
	}
	switch req.Action {
	case actionInit, actionBack:
		// INIT opens the Flow (flow_action data_exchange); BACK comes from a
		// screen with refresh_on_back. The gateway's Flows have one form
		// screen, which is what comes before anything (whatsapp.md §3.4).
		s.logOutcome(ctx, outcomeForm, &g, "action", req.Action)
		s.reply(ctx, w, key, http.StatusOK, screen{Screen: FormScreen, Data: FormData(g.Fields, g.Locale, nil, "")})
		return outcomeForm
	case actionDataExchange:
		return s.submit(ctx, w, key, req, g, now)
	default:
		s.logOutcome(ctx, outcomeBadRequest, &g, "action", sanitizeWord(req.Action))
		http.Error(w, "unknown action", http.StatusBadRequest)
		return outcomeBadRequest
	}
}

// submit handles a data_exchange: the form's values.
func (s *Service) submit(ctx context.Context, w http.ResponseWriter, key sessionKey, req request, g Grant, now time.Time) string {
	raw := map[string]json.RawMessage{}
	// A data object that is not an object yields no values: every field is
	// then reported missing.
	_ = json.Unmarshal(req.Data, &raw)
	defer func() {
		for k, v := range raw {
			clear(v)
			delete(raw, k)
		}
	}()
	errs := make([]string, len(g.Fields))
	invalid := false
	values := make([]Value, 0, len(g.Fields))
	for i, fs := range g.Fields {
		in, present := stringValue(raw[fs.Var])
		normal, err := fs.Field().Validate(in, now)
		if err != nil || !present {
			invalid = true
			errs[i] = fieldError(fs.Type, g.Locale, strings.TrimSpace(in) == "")
			continue
		}
		mask, err := flow.ApplyFilter(fs.Type, flow.FilterMask, normal)
		if err != nil {
			mask = "••••"
		}
		values = append(values, Value{Var: fs.Var, Type: fs.Type, Secret: secret.FromString(normal), Masked: mask})
	}
	if invalid {
		clear(values)
		return s.invalid(ctx, w, key, g, errs)
	}
	id := tokenID(g.Hash)
	sub := Submission{Session: g.Session, Step: g.Step, LinkID: id, Values: values}
	err := s.sink.Submitted(context.WithValue(ctx, tokenIDKey{}, id), sub)
	// The sink owns the values now: they are not cleared here (the sink
	// may keep them), and nothing below refers to them.
	if err != nil {
		s.log.ErrorContext(ctx, "waflows: sink refused submission", "token_id", id, "session", g.Session,
			"step", g.Step, "error", err)
		s.reply(ctx, w, key, http.StatusOK, screen{Screen: FormScreen, Data: FormData(g.Fields, g.Locale, nil, msg(g.Locale, "retry"))})
		return outcomeError
	}
	if err := s.st.Consume(ctx, g.Hash, now); err != nil {
		if errors.Is(err, ErrUsed) {
			// A concurrent submission completed first; the sink is
			// idempotent, so the values are not taken twice.
			s.logOutcome(ctx, outcomeSpent, &g)
			s.tokenInvalid(ctx, w, key, g.Locale)
			return outcomeSpent
		}
		return s.fail(ctx, w, &g, "consume", err)
	}
	s.logOutcome(ctx, outcomeSubmitted, &g)
	// whatsapp.md §3.5: SUCCESS closes the Flow and its params become the
	// nfm_reply's response_json (§1.4): they carry the flow token only.
	s.reply(ctx, w, key, http.StatusOK, screen{Screen: SuccessScreen, Data: map[string]any{
		"extension_message_response": map[string]any{"params": map[string]string{"flow_token": req.FlowToken}},
	}})
	return outcomeSubmitted
}

// invalid counts an invalid submission and answers the form again with the
// per-field errors (never the values) or, at MaxAttempts, spends the token
// and tells the sink.
func (s *Service) invalid(ctx context.Context, w http.ResponseWriter, key sessionKey, g Grant, errs []string) string {
	n, err := s.st.CountAttempt(ctx, g.Hash)
	if err != nil {
		return s.fail(ctx, w, &g, "count attempt", err)
	}
	if n < s.cfg.MaxAttempts {
		s.logOutcome(ctx, outcomeInvalid, &g, "attempts", n)
		s.reply(ctx, w, key, http.StatusOK, screen{Screen: FormScreen, Data: FormData(g.Fields, g.Locale, errs, msg(g.Locale, "fix"))})
		return outcomeInvalid
	}
	s.logOutcome(ctx, outcomeSpent, &g, "attempts", n)
	// Only the submission that reached the limit reports it.
	if n == s.cfg.MaxAttempts {
		fctx := context.WithValue(ctx, tokenIDKey{}, tokenID(g.Hash))
		if err := s.sink.Failed(fctx, g.Session, g.Step, ReasonTooManyAttempts); err != nil {
			s.log.ErrorContext(ctx, "waflows: sink did not take the failure", "token_id", tokenID(g.Hash),
				"session", g.Session, "step", g.Step, "error", err)
		}
	}
	s.tokenInvalid(ctx, w, key, g.Locale)
	return outcomeSpent
}

// stringValue decodes one submitted value: a JSON string, or a number or
// boolean as written (Flow components may send those). present is false
// for anything else.
func stringValue(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 {
		return "", false
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		return str, true
	}
	var num json.Number
	if err := json.Unmarshal(raw, &num); err == nil {
		return num.String(), true
	}
	return "", false
}

// errorNotification reports whether data is an error notification
// (whatsapp.md §3.4: data.error set) and returns its error key, trimmed to
// a safe word for logging.
func errorNotification(data json.RawMessage) (string, bool) {
	var d struct {
		Error any `json:"error"`
	}
	if len(data) == 0 || json.Unmarshal(data, &d) != nil || d.Error == nil {
		return "", false
	}
	key, _ := d.Error.(string)
	return sanitizeWord(key), true
}

// sanitizeWord keeps at most 64 characters of [A-Za-z0-9_.-] for a log.
func sanitizeWord(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 64 {
			break
		}
		if r == '_' || r == '-' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// tokenInvalid answers 427 with an encrypted error_msg (whatsapp.md §3.6).
func (s *Service) tokenInvalid(ctx context.Context, w http.ResponseWriter, key sessionKey, locale string) {
	s.reply(ctx, w, key, StatusTokenInvalid, map[string]string{"error_msg": msg(locale, "expired")})
}

// reply writes an encrypted answer: base64 text (whatsapp.md §3.3).
func (s *Service) reply(ctx context.Context, w http.ResponseWriter, key sessionKey, status int, v any) {
	out, err := key.seal(v)
	if err != nil {
		s.log.ErrorContext(ctx, "waflows: encode response", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// fail logs a store failure and answers 500.
func (s *Service) fail(ctx context.Context, w http.ResponseWriter, g *Grant, what string, err error) string {
	args := []any{"op", what, "error", err}
	if g != nil {
		args = append(args, "token_id", tokenID(g.Hash), "session", g.Session, "step", g.Step)
	}
	s.log.ErrorContext(ctx, "waflows: store failure", args...)
	http.Error(w, "internal error", http.StatusInternalServerError)
	return outcomeError
}

// logOutcome logs a request's outcome with the token id, never the token.
func (s *Service) logOutcome(ctx context.Context, outcome string, g *Grant, extra ...any) {
	args := []any{"outcome", outcome}
	if g != nil {
		args = append(args, "token_id", tokenID(g.Hash), "session", g.Session, "step", g.Step)
	}
	s.log.InfoContext(ctx, "waflows: request", append(args, extra...)...)
}
