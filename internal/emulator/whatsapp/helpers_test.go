package whatsapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/emulator/whatsapp"
	"github.com/secureflow/secureflow/internal/hubsig"
)

const (
	appSecret   = "test-app-secret"
	accessToken = "test-access-token"
	verifyToken = "test-verify-token"
)

// gateway is a fake secureflow webhook endpoint: it verifies every POST with
// hubsig.Verify, as the real gateway must, and records what it accepted.
type gateway struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	bodies   [][]byte
	headers  []http.Header
	requests int
	badSigs  int
	// answer decides the status of the n-th POST (1-based); nil means 200.
	answer func(n int) int
	// block, when set, holds each POST until it is closed.
	block       chan struct{}
	inFlight    int
	maxInFlight int
	echo        func(challenge string) string
}

func newGateway(t testing.TB) *gateway {
	g := &gateway{t: t}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gateway) url() string { return g.srv.URL + "/webhooks/whatsapp" }

func (g *gateway) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		// whatsapp.md §1.1: verify hub.mode and hub.verify_token, echo the challenge raw.
		q := r.URL.Query()
		if q.Get("hub.mode") != "subscribe" || q.Get("hub.verify_token") != verifyToken {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		c := q.Get("hub.challenge")
		if g.echo != nil {
			c = g.echo(c)
		}
		_, _ = io.WriteString(w, c)
		return
	}
	body, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	g.requests++
	n := g.requests
	g.inFlight++
	g.maxInFlight = max(g.maxInFlight, g.inFlight)
	block := g.block
	g.mu.Unlock()
	defer func() { g.mu.Lock(); g.inFlight--; g.mu.Unlock() }()
	if block != nil {
		<-block
	}
	if err := hubsig.Verify(hubsig.Hex, r.Header.Get(hubsig.Header), body, []byte(appSecret)); err != nil {
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
	if status == http.StatusOK {
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

// webhook is the parsed shape of a delivered body, for assertions.
type webhook struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string `json:"field"`
			Value struct {
				MessagingProduct string `json:"messaging_product"`
				Metadata         struct {
					DisplayPhoneNumber string `json:"display_phone_number"`
					PhoneNumberID      string `json:"phone_number_id"`
				} `json:"metadata"`
				Contacts []struct {
					Profile struct {
						Name string `json:"name"`
					} `json:"profile"`
					WaID string `json:"wa_id"`
				} `json:"contacts"`
				Messages []struct {
					Context *struct {
						From string `json:"from"`
						ID   string `json:"id"`
					} `json:"context"`
					From      string `json:"from"`
					ID        string `json:"id"`
					Timestamp string `json:"timestamp"`
					Type      string `json:"type"`
					Text      *struct {
						Body string `json:"body"`
					} `json:"text"`
					Interactive *struct {
						Type        string          `json:"type"`
						ButtonReply *whatsapp.Reply `json:"button_reply"`
						ListReply   *whatsapp.Reply `json:"list_reply"`
					} `json:"interactive"`
				} `json:"messages"`
				Statuses []struct {
					ID                    string `json:"id"`
					Status                string `json:"status"`
					Timestamp             string `json:"timestamp"`
					RecipientID           string `json:"recipient_id"`
					BizOpaqueCallbackData string `json:"biz_opaque_callback_data"`
					Errors                []struct {
						Code  int    `json:"code"`
						Title string `json:"title"`
					} `json:"errors"`
				} `json:"statuses"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

func parse(t testing.TB, body []byte) webhook {
	t.Helper()
	var w webhook
	if err := json.Unmarshal(body, &w); err != nil {
		t.Fatalf("webhook body is not JSON: %v\n%s", err, body)
	}
	return w
}

// messageIDs lists the wamids of the messages in a body, in order.
func messageIDs(t testing.TB, body []byte) []string {
	var ids []string
	for _, e := range parse(t, body).Entry {
		for _, c := range e.Changes {
			for _, m := range c.Value.Messages {
				ids = append(ids, m.ID)
			}
		}
	}
	return ids
}

type option func(*whatsapp.Config)

func newEmulator(t testing.TB, g *gateway, opts ...option) *whatsapp.Emulator {
	t.Helper()
	cfg := whatsapp.Config{
		AppSecret:     []byte(appSecret),
		AccessToken:   accessToken,
		VerifyToken:   verifyToken,
		RetrySchedule: []time.Duration{5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond},
	}
	if g != nil {
		cfg.WebhookURL = g.url()
	}
	for _, o := range opts {
		o(&cfg)
	}
	e, err := whatsapp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func waitIdle(t testing.TB, e *whatsapp.Emulator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.WaitIdle(ctx); err != nil {
		t.Fatalf("deliveries still pending: %v (stats %+v)", err, e.Stats())
	}
}

// graph calls the emulator's Graph send API through its handler.
func graph(t testing.TB, srv *httptest.Server, token, body string) (int, http.Header, map[string]any) {
	t.Helper()
	return graphPath(t, srv, "/emulator/whatsapp/graph/v24.0/"+whatsapp.DefaultPhoneNumberID+"/messages", token, body)
}

func graphPath(t testing.TB, srv *httptest.Server, path, token, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, raw)
	}
	return resp.StatusCode, resp.Header, out
}

// errorCode extracts error.code from a Graph error envelope.
func errorCode(t testing.TB, out map[string]any) int {
	t.Helper()
	e, ok := out["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error envelope in %v", out)
	}
	for _, k := range []string{"message", "type", "code", "fbtrace_id"} {
		if _, ok := e[k]; !ok {
			t.Errorf("error envelope lacks %q: %v", k, e)
		}
	}
	return int(e["code"].(float64))
}

func serve(t testing.TB, e *whatsapp.Emulator) *httptest.Server {
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func control(t testing.TB, srv *httptest.Server, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, bytes.TrimSpace(raw)
}

const textSend = `{"messaging_product":"whatsapp","recipient_type":"individual","to":"+16505551234","type":"text","text":{"preview_url":false,"body":"hello"}}`
