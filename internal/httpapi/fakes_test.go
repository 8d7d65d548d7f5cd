package httpapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSessions is a Sessions whose behaviour each test sets.
type fakeSessions struct {
	mu        sync.Mutex
	started   []StartRequest
	events    []AgentEvent
	eventConv []string
	gets      []string
	startFn   func(StartRequest) (Session, error)
	getFn     func(string) (Session, error)
	eventFn   func(string, AgentEvent) error
}

func (f *fakeSessions) Start(_ context.Context, r StartRequest) (Session, error) {
	f.mu.Lock()
	f.started = append(f.started, r)
	f.mu.Unlock()
	if f.startFn != nil {
		return f.startFn(r)
	}
	return Session{ID: "ss_1", Flow: r.Flow, Mode: "agent_referred", Conversation: r.Conversation, Status: StatusActive,
		Step: "intro", AgentReserved: true, AgentPresent: true, CreatedAt: testTime}, nil
}

func (f *fakeSessions) Get(_ context.Context, id string) (Session, error) {
	f.mu.Lock()
	f.gets = append(f.gets, id)
	f.mu.Unlock()
	if f.getFn != nil {
		return f.getFn(id)
	}
	end := testTime.Add(3 * time.Minute)
	return Session{ID: id, Flow: "take-payment", Mode: "agent_referred", Conversation: "5511999990000", Status: StatusEnded,
		Outcome: "paid", AgentReserved: true, Outputs: map[string]any{"status": "approved", "card_last4": "4242"},
		CreatedAt: testTime, EndedAt: &end}, nil
}

func (f *fakeSessions) AgentEvent(_ context.Context, conv string, e AgentEvent) error {
	f.mu.Lock()
	f.events = append(f.events, e)
	f.eventConv = append(f.eventConv, conv)
	f.mu.Unlock()
	if f.eventFn != nil {
		return f.eventFn(conv, e)
	}
	return nil
}

// fakeActions is an Actions whose behaviour each test sets.
type fakeActions struct {
	mu    sync.Mutex
	calls []invokeCall
	fn    func(name string, in map[string]string) (map[string]any, error)
}

type invokeCall struct {
	name, key, principal string
	inputs               map[string]string
}

func (f *fakeActions) InvokeWithTokens(_ context.Context, name string, in map[string]string, key, principal string) (map[string]any, error) {
	f.mu.Lock()
	f.calls = append(f.calls, invokeCall{name, key, principal, in})
	f.mu.Unlock()
	if f.fn != nil {
		return f.fn(name, in)
	}
	return map[string]any{"status": "approved"}, nil
}

var testTime = time.Date(2026, 5, 1, 13, 0, 0, 0, time.UTC)

// testKeys mints keys with the given scopes; the map is key id → plaintext.
type testEnv struct {
	h        *Handler
	sessions *fakeSessions
	actions  *fakeActions
	logs     *syncBuffer
	all      string // a key with every scope
	readOnly string // sessions:read only
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	all, allHash, err := NewKey("allscope")
	if err != nil {
		t.Fatal(err)
	}
	ro, roHash, err := NewKey("readonly")
	if err != nil {
		t.Fatal(err)
	}
	kr, err := ParseKeys([]KeyConfig{
		{ID: "allscope", Hash: allHash, Scopes: Scopes()},
		{ID: "readonly", Hash: roHash, Scopes: []Scope{ScopeSessionsRead}},
	})
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{sessions: &fakeSessions{}, actions: &fakeActions{}, logs: &syncBuffer{}, all: all, readOnly: ro}
	env.h = New(Config{
		Sessions: env.sessions, Actions: env.actions, Keys: kr,
		Logger: slog.New(slog.NewJSONHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    func() time.Time { return testTime },
	})
	return env
}

type call struct {
	method, path, body string
	key                string // plaintext key, "" for none
	contentType        string // "" means application/json when body is set
	header             map[string]string
}

func (e *testEnv) do(t testing.TB, c call) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req := httptest.NewRequest(c.method, c.path, body)
	if c.body != "" {
		ct := c.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

var _ http.Handler = (*Handler)(nil)
