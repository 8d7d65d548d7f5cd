package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// MaxBodyBytes caps every request body.
const MaxBodyBytes = 64 << 10

// Limits on request contents.
const (
	maxInputs         = 50
	maxInputLen       = 1024
	maxActionInputLen = 4096
	maxIdempotencyLen = 255
)

var (
	flowRE         = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	inputKeyRE     = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	actionRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,127}$`)
	idRE           = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	channelIDRE    = regexp.MustCompile(`^[A-Za-z0-9+._:@-]{1,128}$`)
	genesysIDRE    = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	localeRE       = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$`)
	requestIDRE    = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	errEmptyBody   = &Error{Status: http.StatusBadRequest, Code: codeMalformed, Message: "The request body is empty; send a JSON object."}
	errBadJSON     = &Error{Status: http.StatusBadRequest, Code: codeMalformed, Message: "The request body is not one JSON object with only the documented fields."}
	errTooLarge    = &Error{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge, Message: "The request body is larger than 64 KiB."}
	errMediaType   = &Error{Status: http.StatusUnsupportedMediaType, Code: codeMediaType, Message: "Send the body as application/json."}
	errNoRoute     = &Error{Status: http.StatusNotFound, Code: codeRouteNotFound, Message: "No such route."}
	errUnauthorize = &Error{Status: http.StatusUnauthorized, Code: codeUnauthorized, Message: "A valid API key is required (Authorization: Bearer sfk_...)."}
)

// Config is what [New] needs.
type Config struct {
	// Sessions serves the secure-session routes; nil makes them answer 503.
	Sessions Sessions
	// Actions serves the action route; nil makes it answer 503.
	Actions Actions
	// Keys authenticates callers; nil accepts no key (every call is 401).
	Keys *Keyring
	// Logger receives the access log and internal errors; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// ErrorAliases map the implementations' own sentinel errors to this
	// package's (or to an *Error), checked in order before the one error
	// table, so that the engine and the executor need not import httpapi.
	ErrorAliases []ErrorAlias
}

// ErrorAlias makes an error matching From (errors.Is) answer as To: one of
// ErrNotFound, ErrConflict, ErrInvalid, ErrUnavailable, ErrUpstream, or an
// *Error.
type ErrorAlias struct {
	// From is the implementation's sentinel.
	From error
	// To is what the client is told.
	To error
}

// aliased is an implementation error seen as its alias; it keeps the
// original for the log.
type aliased struct{ to, err error }

// Error is the original error's text (logged, never shown).
func (a aliased) Error() string { return a.err.Error() }

// Unwrap exposes both the alias and the original.
func (a aliased) Unwrap() []error { return []error{a.to, a.err} }

// Handler is the REST API. Mount it on the gateway's mux at "/v1/".
type Handler struct {
	mux      *http.ServeMux
	sessions Sessions
	actions  Actions
	keys     *Keyring
	log      *slog.Logger
	now      func() time.Time
	aliases  []ErrorAlias
}

// New builds the API handler.
func New(cfg Config) *Handler {
	h := &Handler{
		mux:      http.NewServeMux(),
		sessions: cfg.Sessions,
		actions:  cfg.Actions,
		keys:     cfg.Keys,
		log:      cfg.Logger,
		now:      cfg.Now,
		aliases:  cfg.ErrorAliases,
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	for _, rt := range h.routes() {
		h.handle(rt)
	}
	h.mux.HandleFunc("/", h.noRoute)
	return h
}

// route is one API operation.
type route struct {
	pattern string
	scope   Scope
	serve   func(w http.ResponseWriter, r *http.Request, st *reqState) error
}

func (h *Handler) routes() []route {
	return []route{
		{"POST /v1/secure-sessions", ScopeSessionsWrite, h.startSession},
		{"GET /v1/secure-sessions/{id}", ScopeSessionsRead, h.getSession},
		{"POST /v1/conversations/{id}/events", ScopeEventsWrite, h.conversationEvent},
		{"POST /v1/actions/{name}/invoke", ScopeActionsInvoke, h.invokeAction},
	}
}

// Patterns lists the route patterns the handler serves, e.g.
// "POST /v1/secure-sessions", for documentation and wiring checks.
func (h *Handler) Patterns() []string {
	var out []string
	for _, rt := range h.routes() {
		out = append(out, rt.pattern)
	}
	return out
}

// reqState is what one request accumulates for logging.
type reqState struct {
	id    string
	keyID string
	// scrub lists request values removed from any error text that is logged.
	scrub []string
}

type stateKey struct{}

// ServeHTTP implements http.Handler: request id, panic recovery, access log.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	st := &reqState{id: r.Header.Get("X-Request-Id")}
	if !requestIDRE.MatchString(st.id) {
		st.id = newRequestID()
	}
	w.Header().Set("X-Request-Id", st.id)
	rec := &statusRecorder{ResponseWriter: w}
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler { //nolint:errorlint // sentinel panic value, compared as net/http does
				panic(p)
			}
			// The panic value may carry request data: log its type only.
			h.log.LogAttrs(r.Context(), slog.LevelError, "httpapi: panic",
				slog.String("request_id", st.id), slog.String("route", r.Pattern), slog.String("panic_type", typeName(p)))
			if !rec.wrote {
				writeProblem(rec, st.id, internalError())
			}
		}
		pattern := r.Pattern
		if pattern == "" || pattern == "/" {
			pattern = "unmatched"
		}
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
			slog.String("request_id", st.id),
			slog.String("method", r.Method),
			slog.String("route", pattern),
			slog.Int("status", rec.status()),
			slog.Duration("duration", h.now().Sub(start)),
			slog.String("key_id", st.keyID),
		)
	}()
	h.mux.ServeHTTP(rec, r)
}

func (h *Handler) handle(rt route) {
	h.mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) {
		st, _ := r.Context().Value(stateKey{}).(*reqState)
		if st == nil { // served without ServeHTTP's wrapper; cannot happen via New
			st = &reqState{id: newRequestID()}
		}
		if err := h.authorize(w, r, st, rt.scope); err != nil {
			h.fail(w, r, st, err)
			return
		}
		if err := rt.serve(w, r, st); err != nil {
			h.fail(w, r, st, err)
		}
	})
}

// authorize checks the bearer key and its scope. A missing, malformed,
// unknown or wrong key all get the same 401.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, st *reqState, scope Scope) error {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	id, scopes, ok := "", []Scope(nil), false
	if strings.EqualFold(scheme, "Bearer") {
		id, scopes, ok = h.keys.authenticate(strings.TrimSpace(token))
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="secureflow"`)
		return errUnauthorize
	}
	st.keyID = id
	if !hasScope(scopes, scope) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="secureflow", error="insufficient_scope", scope="`+string(scope)+`"`)
		return &Error{Status: http.StatusForbidden, Code: codeForbidden, Message: "This API key lacks the scope " + string(scope) + "."}
	}
	return nil
}

// fail is the one place an error becomes a response.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, st *reqState, err error) {
	for _, a := range h.aliases {
		if a.From != nil && errors.Is(err, a.From) {
			err = aliased{to: a.To, err: err}
			break
		}
	}
	apiErr, internal := toAPIError(err)
	if internal || apiErr.Status >= 500 {
		level := slog.LevelWarn
		if internal {
			level = slog.LevelError
		}
		h.log.LogAttrs(r.Context(), level, "httpapi: request failed",
			slog.String("request_id", st.id), slog.String("route", r.Pattern),
			slog.String("key_id", st.keyID), slog.String("error", st.scrubbed(err.Error())))
	}
	writeProblem(w, st.id, apiErr)
}

// noRoute answers paths no route serves: 405 when another method would
// match, 404 otherwise.
func (h *Handler) noRoute(w http.ResponseWriter, r *http.Request) {
	st, _ := r.Context().Value(stateKey{}).(*reqState)
	id := ""
	if st != nil {
		id = st.id
	}
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := h.mux.Handler(probe); p != "/" && p != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, id, &Error{Status: http.StatusMethodNotAllowed, Code: codeMethodNotAllowed, Message: "Use " + strings.Join(allow, " or ") + " on this route."})
		return
	}
	writeProblem(w, id, errNoRoute)
}
