package securelink_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/securelink"
	"github.com/secureflow/secureflow/internal/securelink/linktest"
)

// Test values. canaryCard is a Luhn-valid card number that must reach the
// sink and nowhere else.
const (
	canaryCard   = "4012888888881881"
	validExpiry  = "12/29"
	validCVV     = "123"
	testBaseURL  = "https://pay.example.com"
	testOrigin   = "https://pay.example.com"
	testSession  = "sess-1"
	testStep     = "card"
	csrfKeyBytes = "0123456789abcdef0123456789abcdef"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// sink records what it is given.
type sink struct {
	mu     sync.Mutex
	subs   []securelink.Submission
	failed []string
	ids    []string // securelink.LinkIDFrom of every call's context
	err    error    // returned by Submitted when set
}

func (s *sink) Submitted(ctx context.Context, sub securelink.Submission) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids = append(s.ids, securelink.LinkIDFrom(ctx))
	if s.err != nil {
		return s.err
	}
	s.subs = append(s.subs, sub)
	return nil
}

func (s *sink) Failed(ctx context.Context, session, step, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids = append(s.ids, securelink.LinkIDFrom(ctx))
	s.failed = append(s.failed, session+"/"+step+"/"+reason)
	return nil
}

func (s *sink) submissions() []securelink.Submission {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]securelink.Submission(nil), s.subs...)
}

func (s *sink) failures() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.failed...)
}

func (s *sink) linkIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...)
}

// linkIDOf returns the link id of a link path.
func linkIDOf(t *testing.T, path string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(path, "/s/"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(raw)
	return securelink.LinkID(h[:])
}

func (s *sink) setErr(err error) { s.mu.Lock(); defer s.mu.Unlock(); s.err = err }

// env is a service under test.
type env struct {
	t     *testing.T
	svc   *securelink.Service
	h     http.Handler
	store securelink.Store
	sink  *sink
	clock *clock
	logs  *syncBuffer
	// bodies collects every response body, for canary checks.
	mu     sync.Mutex
	bodies []string
}

func newEnv(t *testing.T, st securelink.Store, mod func(*securelink.Config)) *env {
	t.Helper()
	if st == nil {
		st = linktest.NewStore()
	}
	e := &env{t: t, store: st, sink: &sink{}, clock: &clock{t: t0}, logs: &syncBuffer{}}
	cfg := securelink.Config{
		BaseURL:    testBaseURL,
		CSRFKey:    []byte(csrfKeyBytes),
		Now:        e.clock.Now,
		Logger:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		IPBurst:    1000,
		TokenBurst: 1000,
	}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := securelink.New(cfg, st, e.sink)
	if err != nil {
		t.Fatal(err)
	}
	e.svc, e.h = svc, svc.Handler()
	return e
}

func cardFields() []*flow.Field {
	return []*flow.Field{
		{Var: "card", Type: flow.InputCardNumber},
		{Var: "expiry", Type: flow.InputCardExpiry},
		{Var: "cvv", Type: flow.InputCVV},
	}
}

// issue issues a link and returns its path (/s/token).
func (e *env) issue(locale string, fields []*flow.Field) string {
	e.t.Helper()
	u, _, err := e.svc.Issue(context.Background(), securelink.IssueRequest{
		Session: testSession, Step: testStep, Locale: locale, Fields: fields,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	p, ok := strings.CutPrefix(u, testBaseURL)
	if !ok {
		e.t.Fatalf("link %q is not under %s", u, testBaseURL)
	}
	return p
}

type resp struct {
	code int
	hdr  http.Header
	body string
}

func (e *env) do(req *http.Request) resp {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	e.mu.Lock()
	e.bodies = append(e.bodies, string(b))
	e.mu.Unlock()
	return resp{code: rec.Code, hdr: rec.Result().Header, body: string(b)}
}

func (e *env) get(path string) resp {
	e.t.Helper()
	return e.do(httptest.NewRequest(http.MethodGet, path, nil))
}

// post submits form to path with browser-like same-origin headers.
func (e *env) post(path string, form url.Values) resp {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", testOrigin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return e.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf opens path and returns the form secret on the page.
func (e *env) csrf(path string) string {
	e.t.Helper()
	r := e.get(path)
	m := csrfRE.FindStringSubmatch(r.body)
	if r.code != http.StatusOK || m == nil {
		e.t.Fatalf("GET %s: %d, no csrf field:\n%s", path, r.code, r.body)
	}
	return m[1]
}

func cardForm(csrf, card, expiry, cvv string) url.Values {
	return url.Values{"csrf": {csrf}, "f-card": {card}, "f-expiry": {expiry}, "f-cvv": {cvv}}
}

func (e *env) allBodies() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.bodies, "\n")
}
