package genesys_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/contactcenter/genesys"
	"github.com/secureflow/secureflow/internal/event"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/webhook"
)

// samples are the real Open Messaging payloads in ../shared/specs.
const samples = "../../../../shared/specs/genesys-samples"

func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samples, name))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s not found: the shared specs are not beside this checkout", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSamples(t *testing.T) {
	evs, err := genesys.Parse(sample(t, "openmessaging-outbound-text.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := event.Event{Kind: event.AgentMessage, Source: "genesys", ID: "c327c2078ca056db130c55ce648d9fa2",
		Customer: "abcdef12345@socialmedia", Text: "Hello World", PeerConversationID: "d06cb41e-f938-4dcf-b823-c8af1a39d7e5",
		Time: time.Date(2021, 2, 1, 15, 4, 5, 123e6, time.UTC)}
	if len(evs) != 1 || !equal(evs[0], want) {
		t.Fatalf("Parse = %+v\nwant %+v", evs, want)
	}
	evs, err = genesys.Parse(sample(t, "openmessaging-outbound-event-typing.json"))
	if err != nil || len(evs) != 0 {
		t.Fatalf("typing event: %v, %+v (want ignored)", err, evs)
	}
	evs, err = genesys.Parse(sample(t, "openmessaging-inbound-receipt-delivered.json"))
	if err != nil || len(evs) != 1 || evs[0].Kind != event.AgentReceipt || evs[0].Status != "Delivered" || evs[0].RefID != "c8e53e498891dfc9400c79a278cc1863" {
		t.Fatalf("receipt: %v, %+v", err, evs)
	}
}

func equal(a, b event.Event) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestParseErrors(t *testing.T) {
	for _, body := range []string{`[`, `{}`, `{"id":"x","channel":{}}`, `{"id":"x","channel":{"to":{"id":"c"},"time":"noon"},"type":"Text","text":"t"}`,
		`{"id":"x","channel":{"to":{"id":"c"}},"type":"Carrier pigeon"}`, `{"id":"x","channel":{"to":{"id":"c"}},"type":"Text"}`} {
		_, err := genesys.Parse([]byte(body))
		var pe *webhook.ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%s) = %v, want ParseError", body, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"openmessaging-outbound-text.json", "openmessaging-outbound-menu.json", "openmessaging-inbound-receipt-delivered.json", "openmessaging-outbound-attachment-image.json"} {
		if b, err := os.ReadFile(filepath.Join(samples, name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"id":"x","channel":{"to":{"id":"c"}},"type":"Structured","text":"pick","content":[{"contentType":"QuickReply","quickReply":{"text":"Yes","payload":"y"}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := genesys.Parse(body)
		if err != nil {
			return
		}
		for _, e := range evs {
			if e.ID == "" || e.Customer == "" || e.Source != event.SourceGenesys {
				t.Fatalf("incomplete event %+v", e)
			}
		}
	})
}

// fakeGenesys is a minimal token + inbound server for client tests.
type fakeGenesys struct {
	grants   atomic.Int32
	expires  int
	inbound  atomic.Int32
	statuses []int // statuses to answer inbound calls with, in order
	mu       sync.Mutex
	bodies   [][]byte
	revoke   atomic.Bool
}

func (f *fakeGenesys) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/oauth/token":
		user, pass, ok := r.BasicAuth()
		if !ok || user != "client" || pass != "s3cret" || r.FormValue("grant_type") != "client_credentials" {
			http.Error(w, "bad client", 401)
			return
		}
		n := f.grants.Add(1)
		json.NewEncoder(w).Encode(map[string]any{"access_token": "tok" + string(rune('0'+n)), "token_type": "bearer", "expires_in": f.expires})
	case strings.HasSuffix(r.URL.Path, "/inbound/open/message"):
		if f.revoke.Swap(false) || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok") {
			http.Error(w, "unauthorized", 401)
			return
		}
		i := int(f.inbound.Add(1)) - 1
		if i < len(f.statuses) && f.statuses[i] != 200 {
			if f.statuses[i] == 429 {
				w.Header().Set("Retry-After", "7")
			}
			http.Error(w, "no", f.statuses[i])
			return
		}
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.bodies = append(f.bodies, b)
		f.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"id": "gen-1", "conversationId": "conv-1"})
	default:
		http.NotFound(w, r)
	}
}

func TestTokenCachingAndRefresh(t *testing.T) {
	f := &fakeGenesys{expires: 3600}
	srv := httptest.NewServer(f)
	defer srv.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ts := genesys.NewTokenSource(srv.URL, "client", secret.FromString("s3cret"), srv.Client(), clock)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := ts.Token(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if g := f.grants.Load(); g != 1 {
		t.Fatalf("20 concurrent callers caused %d grants, want 1", g)
	}
	mu.Lock()
	now = now.Add(54 * time.Minute) // within the refresh margin of a 1 h token
	mu.Unlock()
	if _, err := ts.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if g := f.grants.Load(); g != 1 {
		t.Fatalf("token refreshed too early: %d grants", g)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute) // 56 min: inside the last 5 minutes
	mu.Unlock()
	if _, err := ts.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if g := f.grants.Load(); g != 2 {
		t.Fatalf("token not refreshed before expiry: %d grants", g)
	}
	bad := genesys.NewTokenSource(srv.URL, "client", secret.FromString("wrong"), srv.Client(), clock)
	_, err := bad.Token(context.Background())
	var ae *genesys.APIError
	if !errors.As(err, &ae) || ae.Status != 401 || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad credentials: %v", err)
	}
}

func TestSendMessage(t *testing.T) {
	f := &fakeGenesys{expires: 3600, statuses: []int{200, 429, 500, 400}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	ts := genesys.NewTokenSource(srv.URL, "client", secret.FromString("s3cret"), srv.Client(), nil)
	c := genesys.NewClient(srv.URL, "integ-1", ts, srv.Client())
	msg := genesys.InboundMessage{MessageID: "sf123", From: genesys.Customer{ID: "5511987654321", IDType: "Phone", Nickname: "Ana"},
		Time: time.Date(2026, 5, 1, 13, 1, 14, 462e6, time.UTC), Text: "Olá"}
	p, err := c.SendMessage(context.Background(), msg)
	if err != nil || p.ID != "gen-1" || p.ConversationID != "conv-1" {
		t.Fatalf("SendMessage = %+v, %v", p, err)
	}
	var got map[string]any
	json.Unmarshal(f.bodies[0], &got)
	ch := got["channel"].(map[string]any)
	from := ch["from"].(map[string]any)
	// genesys.md §1.2 field names and time format.
	if ch["messageId"] != "sf123" || ch["time"] != "2026-05-01T13:01:14.462Z" || from["id"] != "5511987654321" ||
		from["idType"] != "Phone" || from["nickname"] != "Ana" || got["text"] != "Olá" {
		t.Fatalf("request body = %s", f.bodies[0])
	}
	tests := []struct {
		status     int
		retryable  bool
		retryAfter time.Duration
	}{{429, true, 7 * time.Second}, {500, true, 0}, {400, false, 0}}
	for _, tt := range tests {
		_, err := c.SendMessage(context.Background(), msg)
		var ae *genesys.APIError
		if !errors.As(err, &ae) || ae.Status != tt.status || ae.Retryable() != tt.retryable || ae.RetryAfter() != tt.retryAfter {
			t.Fatalf("status %d: err = %v (retryable %v, after %v)", tt.status, err, ae.Retryable(), ae.RetryAfter())
		}
		if strings.Contains(err.Error(), "Olá") {
			t.Fatal("error message carries content")
		}
	}
	// A revoked token is replaced once, transparently.
	f.revoke.Store(true)
	f.statuses = nil
	f.inbound.Store(0)
	if _, err := c.SendMessage(context.Background(), msg); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if g := f.grants.Load(); g != 2 {
		t.Fatalf("grants = %d, want 2 (one refresh after 401)", g)
	}
}
