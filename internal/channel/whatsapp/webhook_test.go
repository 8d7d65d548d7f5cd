package whatsapp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/secureflow/secureflow/internal/channel/whatsapp"
	"github.com/secureflow/secureflow/internal/event"
	"github.com/secureflow/secureflow/internal/hubsig"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/webhook"
)

func TestParseBatch(t *testing.T) {
	body, err := os.ReadFile("testdata/batch.json")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := whatsapp.Parse(body)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(evs) != 7 {
		t.Fatalf("got %d events, want 7 (every message and status across changes)", len(evs))
	}
	first := evs[0]
	if first.Kind != event.CustomerMessage || first.Customer != "16505551234" || first.ProfileName != "Sheena Nelson" ||
		first.Text != "Does it come in another color?" || first.Time.Unix() != 1749416383 || first.BusinessNumber != "106540352242922" {
		t.Errorf("first = %+v", first)
	}
	if evs[1].Text != "Olá, preciso de ajuda é urgente" || evs[1].ProfileName != "João Silva" {
		t.Errorf("second = %+v", evs[1])
	}
	if r := evs[2].Reply; r == nil || r.Type != "button_reply" || r.ID != "cancel-button" || evs[2].RefID != "wamid.buttons" {
		t.Errorf("button reply = %+v", evs[2])
	}
	if r := evs[3].Reply; r == nil || r.Type != "list_reply" || r.Description != "Next Day to 2 Days" {
		t.Errorf("list reply = %+v", evs[3])
	}
	if evs[4].Unsupported != "image" {
		t.Errorf("image = %+v", evs[4])
	}
	if s := evs[5]; s.Kind != event.CustomerStatus || s.RefID != "wamid.out1" || s.Status != "failed" || len(s.StatusCodes) != 1 || s.StatusCodes[0] != "131049" {
		t.Errorf("failed status = %+v", s)
	}
	if evs[5].DedupeKey() == evs[6].DedupeKey() {
		t.Error("distinct statuses share a dedupe key")
	}
}

func TestParseDropsFlowFormData(t *testing.T) {
	body, _ := os.ReadFile("testdata/nfm_reply.json")
	evs, err := whatsapp.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(evs)
	if strings.Contains(string(b), "canary-hunter2") {
		t.Fatalf("flow form data survived parsing: %s", b)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, body, path string
	}{
		{"not json", `{"object":`, "$"},
		{"wrong object", `{"object":"page","entry":[]}`, "object"},
		{"bad timestamp", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"1","id":"w","timestamp":"yesterday","type":"text","text":{"body":"secret-canary"}}]}}]}]}`, "entry[0].changes[0].value.messages[0].timestamp"},
		{"missing id", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"1","timestamp":"1","type":"text","text":{"body":"x"}}]}}]}]}`, "entry[0].changes[0].value.messages[0].id"},
		{"text without text", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"1","id":"w","timestamp":"1","type":"text"}]}}]}]}`, "entry[0].changes[0].value.messages[0].text"},
		{"unknown status", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[{"id":"w","status":"eaten","timestamp":"1"}]}}]}]}`, "entry[0].changes[0].value.statuses[0].status"},
		{"wrong type", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":1,"id":"w"}]}}]}]}`, "entry.changes.value.messages.from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := whatsapp.Parse([]byte(tt.body))
			var pe *webhook.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *ParseError", err)
			}
			if pe.Path != tt.path {
				t.Errorf("path = %q, want %q", pe.Path, tt.path)
			}
			if strings.Contains(err.Error(), "secret-canary") || strings.Contains(err.Error(), "yesterday") {
				t.Errorf("error quotes input: %v", err)
			}
		})
	}
}

// FuzzParse checks that no input panics the parser and that every event it
// returns is complete enough to store.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/batch.json", "testdata/nfm_reply.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"1","id":"w","timestamp":"1","type":"interactive","interactive":{"type":"button_reply"}}]}}]}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := whatsapp.Parse(body)
		if err != nil {
			return
		}
		for _, e := range evs {
			if e.Source != event.SourceWhatsApp || e.DedupeKey() == "" {
				t.Fatalf("incomplete event %+v", e)
			}
			if e.Kind == event.CustomerMessage && (e.ID == "" || e.Customer == "") {
				t.Fatalf("message without id or customer: %+v", e)
			}
			if e.Kind == event.CustomerStatus && e.RefID == "" {
				t.Fatalf("status without message id: %+v", e)
			}
		}
	})
}

type recordingSink struct {
	mu     sync.Mutex
	events []event.Event
	err    error
}

func (s *recordingSink) Accept(_ context.Context, evs []event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.events = append(s.events, evs...)
	return nil
}

func newHandler(t *testing.T, sink webhook.Sink) (http.Handler, *webhook.Metrics) {
	t.Helper()
	m := webhook.NewMetrics(prometheus.NewRegistry())
	h := whatsapp.NewWebhook(whatsapp.WebhookConfig{
		AppSecrets:  []secret.Value{secret.FromString("app-secret"), secret.FromString("old-secret")},
		VerifyToken: secret.FromString("verify-me"),
		MaxBytes:    1 << 20, Sink: sink, Metrics: m, Logger: slog.New(slog.DiscardHandler),
	})
	return h, m
}

func TestWebhookHandler(t *testing.T) {
	body, _ := os.ReadFile("testdata/batch.json")
	tests := []struct {
		name       string
		sig        string
		body       []byte
		sinkErr    error
		wantStatus int
		wantStored int
		outcome    string
	}{
		{"valid", hubsig.Sign(hubsig.Hex, []byte("app-secret"), body), body, nil, 200, 7, "accepted"},
		{"valid under previous secret", hubsig.Sign(hubsig.Hex, []byte("old-secret"), body), body, nil, 200, 7, "accepted"},
		{"missing signature", "", body, nil, 401, 0, "bad_signature"},
		{"wrong secret", hubsig.Sign(hubsig.Hex, []byte("other"), body), body, nil, 401, 0, "bad_signature"},
		{"base64 signature", hubsig.Sign(hubsig.Base64, []byte("app-secret"), body), body, nil, 401, 0, "bad_signature"},
		{"signed then altered", hubsig.Sign(hubsig.Hex, []byte("app-secret"), body), append([]byte(" "), body...), nil, 401, 0, "bad_signature"},
		{"malformed but signed", hubsig.Sign(hubsig.Hex, []byte("app-secret"), []byte("{}")), []byte("{}"), nil, 400, 0, "malformed"},
		{"store down", hubsig.Sign(hubsig.Hex, []byte("app-secret"), body), body, errors.New("disk full"), 503, 0, "unavailable"},
		{"too large", "", make([]byte, 2<<20), nil, 413, 0, "too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &recordingSink{err: tt.sinkErr}
			h, m := newHandler(t, sink)
			req := httptest.NewRequest(http.MethodPost, "/webhooks/whatsapp", strings.NewReader(string(tt.body)))
			if tt.sig != "" {
				req.Header.Set(hubsig.Header, tt.sig)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if len(sink.events) != tt.wantStored {
				t.Fatalf("stored %d events, want %d", len(sink.events), tt.wantStored)
			}
			if got := testutil.ToFloat64(m.Requests.WithLabelValues("whatsapp", tt.outcome)); got != 1 {
				t.Fatalf("counter %s = %v, want 1", tt.outcome, got)
			}
		})
	}
}

func TestHandshake(t *testing.T) {
	sink := &recordingSink{}
	h, _ := newHandler(t, sink)
	tests := []struct {
		query      string
		wantStatus int
		wantBody   string
	}{
		// whatsapp.md §1.1: echo hub.challenge verbatim, no signature needed.
		{"hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=verify-me", 200, "1158201444"},
		{"hub.mode=subscribe&hub.challenge=a%20b%22c&hub.verify_token=verify-me", 200, `a b"c`},
		{"hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong", 403, ""},
		{"hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=verify-me", 403, ""},
		{"hub.challenge=1", 403, ""},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/webhooks/whatsapp?"+tt.query, nil))
		if rec.Code != tt.wantStatus {
			t.Errorf("%s: status %d, want %d", tt.query, rec.Code, tt.wantStatus)
		}
		if tt.wantStatus == 200 {
			b, _ := io.ReadAll(rec.Body)
			if string(b) != tt.wantBody {
				t.Errorf("%s: body %q, want %q", tt.query, b, tt.wantBody)
			}
		}
	}
	if len(sink.events) != 0 {
		t.Fatal("handshake stored events")
	}
}
