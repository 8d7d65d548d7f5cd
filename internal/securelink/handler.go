package securelink

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/secret"
)

//go:embed templates/page.html
var templateFS embed.FS

var pageTemplate = template.Must(template.ParseFS(templateFS, "templates/page.html"))

// maxFormBytes bounds a submission's body.
const maxFormBytes = 32 << 10

// csrfField is the name of the hidden form field holding the form secret.
const csrfField = "csrf"

// Page kinds.
const (
	kindForm    = "form"
	kindDone    = "done"
	kindMessage = "message"
)

// pageData is what the page template renders. It never holds a submitted
// value.
type pageData struct {
	Lang, Nonce, Title, Kind string
	T                        map[string]string
	Alert                    string
	CSRF                     string
	Fields                   []fieldView
	Masked                   []maskedView
	Body                     string
}

type fieldView struct {
	ID, Label, Error, ErrID string
	Attrs                   inputAttrs
}

type maskedView struct{ Label, Mask string }

// Handler returns the handler of the link pages: GET and POST /s/{token}.
// Every other path gets the not-found page. Mount it at the root of
// BaseURL's host (or strip any BaseURL path prefix before it).
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/s/{token}", s.serve)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.message(w, r, http.StatusNotFound, requestLocale(r), "nf_title", "nf_body")
		s.metrics.requests.WithLabelValues(outcomeNotFound).Inc()
	})
	return mux
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := s.cfg.Now()
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		s.message(w, r, http.StatusMethodNotAllowed, requestLocale(r), "err_title", "err_body")
		return
	}
	if !s.ipLim.allow(s.cfg.ClientIP(r), now) {
		s.limited(w, r, requestLocale(r))
		return
	}
	hash, ok := hashToken(r.PathValue("token"))
	if !ok {
		s.outcome(ctx, outcomeNotFound, nil)
		s.message(w, r, http.StatusNotFound, requestLocale(r), "nf_title", "nf_body")
		return
	}
	if !s.tokLim.allow(string(hash), now) {
		s.limited(w, r, requestLocale(r))
		return
	}
	l, err := s.st.LinkByHash(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		s.outcome(ctx, outcomeNotFound, nil)
		s.message(w, r, http.StatusNotFound, requestLocale(r), "nf_title", "nf_body")
		return
	}
	if err != nil {
		s.fail(w, r, requestLocale(r), nil, "load link", err)
		return
	}
	if s.spent(l, now) {
		s.outcome(ctx, outcomeGone, &l)
		s.message(w, r, http.StatusGone, l.Locale, "gone_title", "gone_body")
		return
	}
	if r.Method == http.MethodPost {
		s.submit(w, r, l, now)
		return
	}
	if r.Method == http.MethodGet {
		if err := s.open(ctx, l, now); err != nil {
			s.fail(w, r, l.Locale, &l, "mark opened", err)
			return
		}
	}
	s.outcome(ctx, outcomeForm, &l)
	s.form(w, r, http.StatusOK, l, nil, "")
}

// spent reports whether l can no longer be used at now.
func (s *Service) spent(l Link, now time.Time) bool {
	return !l.UsedAt.IsZero() || !now.Before(l.ExpiresAt) || l.Attempts >= s.cfg.MaxAttempts
}

// open records the link's first opening, which moves its expiry to
// OpenedTTL from now.
func (s *Service) open(ctx context.Context, l Link, now time.Time) error {
	if !l.OpenedAt.IsZero() {
		return nil
	}
	return s.st.MarkOpened(ctx, l.Hash, now, now.Add(s.cfg.OpenedTTL))
}

// sameOrigin checks the browser's own statement of where a submission
// comes from, when it makes one. Origin "null" is accepted: a page served
// with Referrer-Policy: no-referrer makes the browser send "null" even
// for a same-origin form POST (Fetch standard, "append a request Origin
// header"); the HMAC form secret is the primary defence.
func (s *Service) sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" && o != "null" && o != s.origin {
		return false
	}
	if sfs := r.Header.Get("Sec-Fetch-Site"); sfs != "" && sfs != "same-origin" {
		return false
	}
	return true
}

func (s *Service) submit(w http.ResponseWriter, r *http.Request, l Link, now time.Time) {
	ctx := r.Context()
	if !s.sameOrigin(r) {
		s.outcome(ctx, outcomeForbidden, &l)
		s.message(w, r, http.StatusForbidden, l.Locale, "csrf_title", "csrf_body")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		// The parse error may quote the body: do not log it.
		s.outcome(ctx, outcomeForbidden, &l)
		s.message(w, r, http.StatusBadRequest, l.Locale, "err_title", "err_body")
		return
	}
	// Whatever happens next, the raw form leaves the request when this
	// handler returns.
	defer func() { r.PostForm, r.Form = nil, nil }()
	want := s.csrfFor(l.Hash)
	if got := r.PostForm.Get(csrfField); !hmac.Equal([]byte(got), []byte(want)) {
		s.outcome(ctx, outcomeForbidden, &l)
		s.message(w, r, http.StatusForbidden, l.Locale, "csrf_title", "csrf_body")
		return
	}
	if err := s.open(ctx, l, now); err != nil {
		s.fail(w, r, l.Locale, &l, "mark opened", err)
		return
	}

	// Validate every field with the chat validators; keep the normal
	// forms only inside secret.Value.
	errs := make([]string, len(l.Fields))
	invalid := false
	values := make([]Value, 0, len(l.Fields))
	for i, fs := range l.Fields {
		raw := r.PostForm.Get(fieldID(fs))
		normal, err := fs.Field().Validate(raw, now)
		if err != nil {
			invalid = true
			empty := strings.TrimSpace(raw) == ""
			errs[i] = fieldError(fs.Type, l.Locale, empty)
			continue
		}
		mask, err := flow.ApplyFilter(fs.Type, flow.FilterMask, normal)
		if err != nil {
			mask = "••••"
		}
		values = append(values, Value{Var: fs.Var, Type: fs.Type, Secret: secret.FromString(normal), Masked: mask})
	}
	r.PostForm, r.Form = nil, nil
	if invalid {
		clear(values)
		s.invalid(w, r, l, errs)
		return
	}

	sub := Submission{Session: l.Session, Step: l.Step, LinkID: linkID(l.Hash), Values: values}
	err := s.sink.Submitted(context.WithValue(ctx, linkIDKey{}, sub.LinkID), sub)
	masked := make([]maskedView, len(values))
	for i, v := range values {
		masked[i] = maskedView{Label: l.Fields[i].label(l.Locale), Mask: v.Masked}
	}
	values, sub.Values = nil, nil
	if err != nil {
		s.log.ErrorContext(ctx, "securelink: sink refused submission", "link", linkID(l.Hash), "session", l.Session,
			"step", l.Step, "error", err)
		s.metrics.requests.WithLabelValues(outcomeError).Inc()
		s.form(w, r, http.StatusServiceUnavailable, l, nil, msg(l.Locale, "retry"))
		return
	}
	if err := s.st.Consume(ctx, l.Hash, now); err != nil {
		if errors.Is(err, ErrUsed) {
			s.outcome(ctx, outcomeGone, &l)
			s.message(w, r, http.StatusGone, l.Locale, "gone_title", "gone_body")
			return
		}
		s.fail(w, r, l.Locale, &l, "consume", err)
		return
	}
	s.outcome(ctx, outcomeSubmitted, &l)
	s.render(w, http.StatusOK, pageData{Lang: l.Locale, Title: msg(l.Locale, "received"), Kind: kindDone, Masked: masked})
}

// invalid counts an invalid submission and either shows the form again
// with the errors (never the values) or, at MaxAttempts, spends the link
// and tells the sink.
func (s *Service) invalid(w http.ResponseWriter, r *http.Request, l Link, errs []string) {
	ctx := r.Context()
	n, err := s.st.CountAttempt(ctx, l.Hash)
	if err != nil {
		s.fail(w, r, l.Locale, &l, "count attempt", err)
		return
	}
	if n < s.cfg.MaxAttempts {
		s.outcome(ctx, outcomeInvalid, &l, "attempts", n)
		s.form(w, r, http.StatusUnprocessableEntity, l, errs, msg(l.Locale, "fix"))
		return
	}
	s.outcome(ctx, outcomeSpent, &l, "attempts", n)
	// Only the submission that reached the limit reports it: later ones
	// see a count above it.
	if n == s.cfg.MaxAttempts {
		fctx := context.WithValue(ctx, linkIDKey{}, linkID(l.Hash))
		if err := s.sink.Failed(fctx, l.Session, l.Step, ReasonTooManyAttempts); err != nil {
			s.log.ErrorContext(ctx, "securelink: sink did not take the failure", "link", linkID(l.Hash),
				"session", l.Session, "step", l.Step, "error", err)
		}
	}
	s.message(w, r, http.StatusGone, l.Locale, "gone_title", "gone_body")
}

// fieldID is a field's input id and form name.
func fieldID(fs FieldSpec) string { return "f-" + fs.Var }

// form renders l's form; errs (per field, may be nil) and alert are the
// error texts. No submitted value is ever passed in.
func (s *Service) form(w http.ResponseWriter, _ *http.Request, status int, l Link, errs []string, alert string) {
	views := make([]fieldView, len(l.Fields))
	for i, fs := range l.Fields {
		id := fieldID(fs)
		views[i] = fieldView{ID: id, Label: fs.label(l.Locale), ErrID: id + "-error", Attrs: fs.attrs(l.Locale)}
		if i < len(errs) {
			views[i].Error = errs[i]
		}
	}
	s.render(w, status, pageData{
		Lang: l.Locale, Title: msg(l.Locale, "title"), Kind: kindForm, Alert: alert,
		CSRF: s.csrfFor(l.Hash), Fields: views,
	})
}

// message renders a page with a title and a sentence.
func (s *Service) message(w http.ResponseWriter, _ *http.Request, status int, locale, title, body string) {
	s.render(w, status, pageData{Lang: locale, Title: msg(locale, title), Kind: kindMessage, Body: msg(locale, body)})
}

func (s *Service) limited(w http.ResponseWriter, r *http.Request, locale string) {
	s.metrics.requests.WithLabelValues(outcomeLimited).Inc()
	w.Header().Set("Retry-After", "10")
	s.message(w, r, http.StatusTooManyRequests, locale, "rate_title", "rate_body")
}

// fail logs a store failure and shows the generic error page.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, locale string, l *Link, what string, err error) {
	args := []any{"op", what, "error", err}
	if l != nil {
		args = append(args, "link", linkID(l.Hash), "session", l.Session, "step", l.Step)
	}
	s.log.ErrorContext(r.Context(), "securelink: store failure", args...)
	s.metrics.requests.WithLabelValues(outcomeError).Inc()
	s.message(w, r, http.StatusInternalServerError, locale, "err_title", "err_body")
}

// outcome counts and logs a request's outcome. It logs the link id, never
// the token or the request path (which holds the token).
func (s *Service) outcome(ctx context.Context, outcome string, l *Link, extra ...any) {
	s.metrics.requests.WithLabelValues(outcome).Inc()
	args := []any{"outcome", outcome}
	if l != nil {
		args = append(args, "link", linkID(l.Hash), "session", l.Session, "step", l.Step)
	}
	s.log.InfoContext(ctx, "securelink: request", append(args, extra...)...)
}

// render writes a page with the security headers and a fresh CSP nonce.
func (s *Service) render(w http.ResponseWriter, status int, d pageData) {
	var nb [18]byte
	if _, err := rand.Read(nb[:]); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	d.Nonce = base64.RawURLEncoding.EncodeToString(nb[:])
	d.T = messages[d.Lang]
	if d.T == nil {
		d.Lang, d.T = locales[0], messages[locales[0]]
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		s.log.Error("securelink: render page", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp(d.Nonce))
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// csp is the Content-Security-Policy of every page: nothing may load but
// the page's own inline style and script carrying the nonce, the form may
// post only to the gateway, and no one may frame the page.
func csp(nonce string) string {
	return "default-src 'none'; style-src 'nonce-" + nonce + "'; script-src 'nonce-" + nonce +
		"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}
