package genesys_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/emulator/genesys"
	"github.com/secureflow/secureflow/internal/hubsig"
)

const (
	webhookSecret = "a-webhook-secret-longer-than-15"
	clientID      = "client-id"
	clientSecret  = "client-secret"
)

// gateway is a fake secureflow /webhooks/genesys endpoint: it verifies
// every POST with hubsig.Verify (base64), as the real gateway must.
type gateway struct {
	srv *httptest.Server

	mu       sync.Mutex
	bodies   [][]byte
	headers  []http.Header
	requests int
	badSigs  int
	answer   func(n int) int // status of the n-th POST (1-based); nil means 200
	sleep    func(n int) time.Duration
}

func newGateway(t testing.TB) *gateway {
	g := &gateway{}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gateway) url() string { return g.srv.URL + "/webhooks/genesys" }

func (g *gateway) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	g.requests++
	n := g.requests
	g.mu.Unlock()
	if g.sleep != nil {
		time.Sleep(g.sleep(n))
	}
	if err := hubsig.Verify(hubsig.Base64, r.Header.Get(hubsig.Header), body, []byte(webhookSecret)); err != nil {
		g.mu.Lock()
		g.badSigs++
		g.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	status := http.StatusOK
	if g.answer != nil {
		status = g.answer(n)
	}
	if status < 300 {
		g.mu.Lock()
		g.bodies = append(g.bodies, body)
		g.headers = append(g.headers, r.Header.Clone())
		g.mu.Unlock()
	}
	w.WriteHeader(status)
}

func (g *gateway) accepted() [][]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]byte(nil), g.bodies...)
}

type option func(*genesys.Config)

func newEmulator(t testing.TB, g *gateway, opts ...option) (*genesys.Emulator, *httptest.Server) {
	t.Helper()
	cfg := genesys.Config{
		WebhookSecret: []byte(webhookSecret),
		ClientID:      clientID,
		ClientSecret:  clientSecret,
		RetryDelay:    5 * time.Millisecond,
	}
	if g != nil {
		cfg.WebhookURL = g.url()
	}
	for _, o := range opts {
		o(&cfg)
	}
	e, err := genesys.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	return e, srv
}

func waitIdle(t testing.TB, e *genesys.Emulator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.WaitIdle(ctx); err != nil {
		t.Fatalf("deliveries still pending: %v (stats %+v)", err, e.Stats())
	}
}

// token obtains an access token like the gateway's OAuth client.
func token(t testing.TB, srv *httptest.Server) string {
	t.Helper()
	status, out := tokenRequest(t, srv, clientID, clientSecret, "client_credentials")
	if status != 200 {
		t.Fatalf("token: %d %v", status, out)
	}
	return out["access_token"].(string)
}

func tokenRequest(t testing.TB, srv *httptest.Server, id, secret, grant string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {grant}}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/emulator/genesys/login/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

const inboundBase = "/emulator/genesys/api/v2/conversations/messages/" + genesys.DefaultIntegrationID + "/inbound/open/"

// post calls an inbound endpoint ("message", "receipt", ...) with a token.
func post(t testing.TB, srv *httptest.Server, tok, endpoint, body string) (int, http.Header, map[string]any) {
	t.Helper()
	return postPath(t, srv, tok, inboundBase+endpoint, body)
}

func postPath(t testing.TB, srv *httptest.Server, tok, path, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer is not JSON (%d): %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, resp.Header, out
}

func control(t testing.TB, srv *httptest.Server, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, bytes.TrimSpace(raw)
}

func sample(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// message builds an inbound message body the way the gateway would.
func message(messageID, fromID, text string) string {
	b, _ := json.Marshal(map[string]any{
		"channel": map[string]any{
			"messageId": messageID,
			"time":      "2026-05-01T13:01:14.462Z",
			"from":      map[string]any{"id": fromID, "idType": "Phone", "nickname": "Jane"},
			"metadata":  map[string]any{"customAttributes": map[string]any{"secureSession": "abc123"}},
		},
		"text": text,
	})
	return string(b)
}
