package genesys_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/emulator/genesys"
)

func TestOAuth(t *testing.T) {
	tests := []struct {
		name           string
		id, secret     string
		grant          string
		status         int
		wantOAuthError string
	}{
		{"client credentials", clientID, clientSecret, "client_credentials", 200, ""},
		{"wrong secret", clientID, "nope", "client_credentials", 401, "invalid_client"},
		{"no basic auth", "", "", "client_credentials", 401, "invalid_client"},
		{"other grant", clientID, clientSecret, "password", 400, "unsupported_grant_type"},
	}
	e, srv := newEmulator(t, nil, func(c *genesys.Config) { c.TokenTTL = 90 * time.Second })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := tokenRequest(t, srv, tt.id, tt.secret, tt.grant)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, out)
			}
			if tt.wantOAuthError != "" {
				if out["error"] != tt.wantOAuthError {
					t.Errorf("error = %v", out)
				}
				return
			}
			// genesys.md §2: {access_token, token_type, expires_in}.
			if tok, _ := out["access_token"].(string); len(tok) < 32 || out["token_type"] != "bearer" || out["expires_in"] != 90.0 {
				t.Errorf("token answer = %v", out)
			}
		})
	}
	if e.TokenGrants() != 1 {
		t.Errorf("TokenGrants = %d, want 1", e.TokenGrants())
	}
}

func TestTokenExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	e, srv := newEmulator(t, nil, func(c *genesys.Config) { c.TokenTTL = time.Minute; c.Now = clock })
	tok := token(t, srv)

	steps := []struct {
		name    string
		advance time.Duration
		token   string
		status  int
		code    string
	}{
		{"fresh token", 0, tok, 200, ""},
		{"just before expiry", 59 * time.Second, tok, 200, ""},
		{"at expiry", time.Second, tok, 401, "bad.credentials"},
		{"unknown token", 0, "forged", 401, "bad.credentials"},
		{"no token", 0, "", 401, "authentication.required"},
	}
	for i, s := range steps {
		advance(s.advance)
		status, _, out := post(t, srv, s.token, "message", message(fmt.Sprintf("m%d", i), "+33612345678", "hi"))
		if status != s.status {
			t.Fatalf("%s: status %d, want %d: %v", s.name, status, s.status, out)
		}
		if s.code != "" && (out["code"] != s.code || out["status"] != float64(s.status) || out["message"] == "") {
			t.Errorf("%s: error body = %v", s.name, out)
		}
	}
	// A new token works again and is counted.
	if status, _, _ := post(t, srv, token(t, srv), "message", message("m9", "+33612345678", "hi")); status != 200 {
		t.Errorf("new token: %d", status)
	}
	if e.TokenGrants() != 2 {
		t.Errorf("TokenGrants = %d", e.TokenGrants())
	}
}

func TestInboundSamplesAccepted(t *testing.T) {
	tests := []struct {
		endpoint, file, wantType string
	}{
		{"message", "openmessaging-inbound-text.json", "Text"},
		{"message", "openmessaging-inbound-attachment-image.json", "Text"},
		{"structured/response", "openmessaging-inbound-buttonresponse.json", "Structured"},
		{"event", "openmessaging-inbound-event-typing.json", "Event"},
		{"receipt", "openmessaging-inbound-receipt-delivered.json", "Receipt"},
		{"receipt", "openmessaging-inbound-receipt-failure.json", "Receipt"},
	}
	e, srv := newEmulator(t, nil)
	tok := token(t, srv)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := sample(t, tt.file)
			if tt.endpoint == "structured/response" {
				// The sample shares its messageId with the text sample.
				body = strings.Replace(body, "c327c2078ca056db130c55ce648d9fa2", "structured-1", 1)
			}
			if tt.file == "openmessaging-inbound-attachment-image.json" {
				body = strings.Replace(body, "c327c2078ca056db130c55ce648d9fa2", "attachment-1", 1)
			}
			status, _, out := post(t, srv, tok, tt.endpoint, body)
			if status != 200 {
				t.Fatalf("status %d: %v", status, out)
			}
			ch, _ := out["channel"].(map[string]any)
			if out["type"] != tt.wantType || ch["platform"] != "Open" || ch["type"] != "Private" || out["id"] == "" {
				t.Errorf("answer = %v", out)
			}
		})
	}
	rec := e.Received()
	if len(rec) != 3 || rec[0].Text != "Hello World" || rec[0].IDType != "Email" || rec[0].Nickname != "Bobby" ||
		rec[1].Content == nil || rec[2].ButtonResponse == nil || rec[2].ButtonResponse.Type != "DatePicker" {
		t.Errorf("received = %+v", rec)
	}
	if rs := e.Receipts(); len(rs) != 2 || rs[0].Status != "Delivered" || rs[1].Status != "Failed" ||
		len(rs[1].Reasons) != 2 || rs[0].Known {
		t.Errorf("receipts = %+v", rs)
	}
	if s := e.Stats(); s.Events != 1 || s.Receipts != 2 || s.Received != 3 {
		t.Errorf("stats = %+v", s)
	}
}

func TestInboundMessageResponseAndRecord(t *testing.T) {
	e, srv := newEmulator(t, nil)
	tok := token(t, srv)
	body := `{"channel":{"messageId":"wamid.1","time":"2026-05-01T13:01:14.462Z",
		"from":{"id":"+33612345678","idType":"phone","nickname":"Jane","firstName":"Jane","lastName":"Doe"},
		"metadata":{"customAttributes":{"secureSession":"abc123","n":5}}},
		"text":"Hello","metadata":{"k":"v"}}`
	status, _, out := postPath(t, srv, tok, inboundBase+"message?prefetchConversationId=true", body)
	if status != 200 {
		t.Fatalf("%d %v", status, out)
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	conv, _ := out["conversationId"].(string)
	if !uuid.MatchString(conv) {
		t.Errorf("conversationId %q is not a UUID", conv)
	}
	// genesys.md §1.3: OpenMessageNormalizedMessage.
	ch := out["channel"].(map[string]any)
	from := ch["from"].(map[string]any)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(out["id"].(string)) || out["type"] != "Text" || out["text"] != "Hello" ||
		ch["id"] != genesys.DefaultIntegrationID || ch["platform"] != "Open" || ch["type"] != "Private" ||
		ch["messageId"] != "wamid.1" || from["id"] != "+33612345678" || from["idType"] != "Phone" {
		t.Errorf("answer = %v", out)
	}
	got, ok := e.ConversationFor("+33612345678")
	if !ok || got != conv {
		t.Errorf("ConversationFor = %q %v, want %q", got, ok, conv)
	}
	rec := e.ReceivedIn(conv)
	if len(rec) != 1 {
		t.Fatalf("received = %+v", rec)
	}
	r := rec[0]
	if r.MessageID != "wamid.1" || r.ID != out["id"] || r.FromID != "+33612345678" || r.IDType != "Phone" ||
		r.FirstName != "Jane" || r.LastName != "Doe" || r.Text != "Hello" || r.Metadata["k"] != "v" ||
		r.CustomAttributes["secureSession"] != "abc123" || r.CustomAttributes["n"] != "5" ||
		!r.Time.Equal(time.Date(2026, 5, 1, 13, 1, 14, 462e6, time.UTC)) {
		t.Errorf("record = %+v", r)
	}
	// Without prefetchConversationId the answer carries no conversationId (genesys.md §1.3, inference).
	_, _, out = post(t, srv, tok, "message", message("wamid.2", "+33612345678", "again"))
	if _, has := out["conversationId"]; has {
		t.Errorf("conversationId without prefetch: %v", out)
	}
	if len(e.ReceivedIn(conv)) != 2 {
		t.Error("second message did not join the same conversation")
	}
}

func TestInboundValidation(t *testing.T) {
	const ok = `"time":"2026-05-01T13:01:14Z","from":{"id":"c1","idType":"Phone"}`
	tests := []struct {
		name, endpoint, body string
		status               int
	}{
		{"valid", "message", `{"channel":{"messageId":"v1",` + ok + `},"text":"hi"}`, 200},
		{"content only", "message", `{"channel":{"messageId":"v2",` + ok + `},"content":[{"contentType":"Attachment","attachment":{"mediaType":"Image","url":"https://x/y.png"}}]}`, 200},
		{"idType case-insensitive", "message", `{"channel":{"messageId":"v3","time":"2026-05-01T13:01:14Z","from":{"id":"c1","idType":"OPAQUE"}},"text":"hi"}`, 200},
		{"no channel", "message", `{"text":"hi"}`, 400},
		{"no messageId", "message", `{"channel":{` + ok + `},"text":"hi"}`, 400},
		{"no from id", "message", `{"channel":{"messageId":"x","time":"2026-05-01T13:01:14Z","from":{"idType":"Phone"}},"text":"hi"}`, 400},
		{"no idType", "message", `{"channel":{"messageId":"x","time":"2026-05-01T13:01:14Z","from":{"id":"c1"}},"text":"hi"}`, 400},
		{"bad idType", "message", `{"channel":{"messageId":"x","time":"2026-05-01T13:01:14Z","from":{"id":"c1","idType":"WhatsApp"}},"text":"hi"}`, 400},
		{"no time", "message", `{"channel":{"messageId":"x","from":{"id":"c1","idType":"Phone"}},"text":"hi"}`, 400},
		{"bad time", "message", `{"channel":{"messageId":"x","time":"yesterday","from":{"id":"c1","idType":"Phone"}},"text":"hi"}`, 400},
		{"no text nor content", "message", `{"channel":{"messageId":"x",` + ok + `},"content":[]}`, 400},
		{"metadata not strings", "message", `{"channel":{"messageId":"x",` + ok + `},"text":"hi","metadata":{"n":1}}`, 400},
		{"not JSON", "message", `{"channel":`, 400},
		{"structured without buttonResponse", "structured/response", `{"channel":{"messageId":"x",` + ok + `}}`, 400},
		{"structured bad type", "structured/response", `{"channel":{"messageId":"x",` + ok + `},"buttonResponse":{"type":"Carousel","text":"a","payload":"a"}}`, 400},
		{"structured quick reply", "structured/response", `{"channel":{"messageId":"s1",` + ok + `},"buttonResponse":{"type":"QuickReply","text":"Yes","payload":"yes"}}`, 200},
		{"event typing", "event", `{"channel":{` + ok + `},"events":[{"eventType":"Typing"}]}`, 200},
		{"event other", "event", `{"channel":{` + ok + `},"events":[{"eventType":"Presence"}]}`, 400},
		{"event none", "event", `{"channel":{` + ok + `},"events":[]}`, 400},
		{"receipt delivered", "receipt", `{"id":"g1","channel":{"to":{"id":"c1"},"time":"2026-05-01T13:01:14Z"},"status":"Delivered"}`, 200},
		{"receipt read refused", "receipt", `{"id":"g1","channel":{"to":{"id":"c1"},"time":"2026-05-01T13:01:14Z"},"status":"Read"}`, 400},
		{"receipt sent refused", "receipt", `{"id":"g1","channel":{"to":{"id":"c1"},"time":"2026-05-01T13:01:14Z"},"status":"Sent"}`, 400},
		{"receipt without id", "receipt", `{"channel":{"to":{"id":"c1"},"time":"2026-05-01T13:01:14Z"},"status":"Failed"}`, 400},
		{"receipt bad reason", "receipt", `{"id":"g1","channel":{"to":{"id":"c1"},"time":"2026-05-01T13:01:14Z"},"status":"Failed","reasons":[{"code":"Oops","message":"x"}]}`, 400},
		{"receipt data filtered", "receipt", `{"id":"g1","channel":{"to":{"id":"c1"},"time":"2026-05-01T13:01:14Z"},"status":"Failed","reasons":[{"code":"DataFiltered","message":"x"}]}`, 200},
	}
	_, srv := newEmulator(t, nil)
	tok := token(t, srv)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, out := post(t, srv, tok, tt.endpoint, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, out)
			}
			if status != 200 && (out["code"] != "bad.request" || out["status"] != 400.0 || out["contextId"] == "") {
				t.Errorf("error body = %v", out)
			}
		})
	}
	t.Run("unknown integration", func(t *testing.T) {
		status, _, _ := postPath(t, srv, tok, "/emulator/genesys/api/v2/conversations/messages/other/inbound/open/message",
			message("x", "c", "hi"))
		if status != 404 {
			t.Errorf("status %d", status)
		}
	})
}

func TestIdempotencyOnMessageID(t *testing.T) {
	e, srv := newEmulator(t, nil)
	tok := token(t, srv)
	_, _, first := post(t, srv, tok, "message", message("outbox-1", "cust", "hello"))
	for range 3 {
		status, _, again := post(t, srv, tok, "message", message("outbox-1", "cust", "hello"))
		if status != 200 || again["id"] != first["id"] {
			t.Fatalf("resend answered %d %v, want the first answer %v", status, again, first)
		}
	}
	post(t, srv, tok, "message", message("outbox-2", "cust", "next"))
	if n := len(e.Received()); n != 2 {
		t.Errorf("transcript has %d messages, want 2", n)
	}
	if e.Resends() != 3 {
		t.Errorf("Resends = %d, want 3", e.Resends())
	}
	// Concurrent duplicates of one id are recorded once.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			post(t, srv, tok, "message", message("outbox-3", "cust", "race"))
		}()
	}
	wg.Wait()
	if n := len(e.Received()); n != 3 || e.Resends() != 22 {
		t.Errorf("after concurrent duplicates: %d received, %d resends", n, e.Resends())
	}
}

func TestConversationsPerCustomerUntilDisconnect(t *testing.T) {
	e, srv := newEmulator(t, nil)
	tok := token(t, srv)
	post(t, srv, tok, "message", message("a1", "alice", "hi"))
	post(t, srv, tok, "message", message("b1", "bob", "hi"))
	post(t, srv, tok, "message", message("a2", "alice", "again"))
	a, _ := e.ConversationFor("alice")
	b, _ := e.ConversationFor("bob")
	if a == "" || b == "" || a == b || len(e.ReceivedIn(a)) != 2 {
		t.Fatalf("conversations: alice %q bob %q", a, b)
	}
	if err := e.Disconnect(a); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.ConversationFor("alice"); ok {
		t.Error("disconnected conversation still current")
	}
	post(t, srv, tok, "message", message("a3", "alice", "back"))
	a2, _ := e.ConversationFor("alice")
	if a2 == "" || a2 == a {
		t.Errorf("no new conversation after disconnect: %q", a2)
	}
	convs := e.Conversations()
	if len(convs) != 3 || convs[0].State != genesys.StateDisconnected || convs[0].EndedAt.IsZero() ||
		convs[0].Messages != 2 || convs[2].ID != a2 || convs[2].State != genesys.StateConnected {
		t.Errorf("conversations = %+v", convs)
	}
	if _, err := e.SendAgentMessage(context.Background(), a, "too late"); err != genesys.ErrDisconnected {
		t.Errorf("agent message to a disconnected conversation: %v", err)
	}
	if err := e.Disconnect("nope"); err != genesys.ErrUnknownConversation {
		t.Errorf("Disconnect unknown: %v", err)
	}

	// The gateway can disconnect through the API (genesys.md §3.2).
	req, _ := http.NewRequest(http.MethodPatch, srv.URL+"/emulator/genesys/api/v2/conversations/messages/"+b,
		strings.NewReader(`{"state":"disconnected"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, ok := e.ConversationFor("bob"); resp.StatusCode != 200 || ok {
		t.Errorf("PATCH disconnect: %d, still connected %v", resp.StatusCode, ok)
	}
	req, _ = http.NewRequest(http.MethodPatch, srv.URL+"/emulator/genesys/api/v2/conversations/messages/"+a2,
		strings.NewReader(`{"state":"connected"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, _ = srv.Client().Do(req)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("PATCH with another state: %d", resp.StatusCode)
	}
}

func TestInboundFaults(t *testing.T) {
	tests := []struct {
		name       string
		faults     genesys.Faults
		want       []int
		retryAfter string
	}{
		{"429 twice with Retry-After", genesys.Faults{Status429: 2, RetryAfter: 2 * time.Second}, []int{429, 429, 200}, "2"},
		{"500 once", genesys.Faults{Status500: 1}, []int{500, 200}, ""},
		{"429 then 500", genesys.Faults{Status429: 1, Status500: 1}, []int{429, 500, 200}, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, srv := newEmulator(t, nil)
			tok := token(t, srv)
			if err := e.SetFaults(tt.faults); err != nil {
				t.Fatal(err)
			}
			for i, want := range tt.want {
				status, h, out := post(t, srv, tok, "message", message("m", "c", "x"))
				if status != want {
					t.Fatalf("call %d: %d, want %d (%v)", i, status, want, out)
				}
				if i == 0 && tt.retryAfter != "" && h.Get("Retry-After") != tt.retryAfter {
					t.Errorf("Retry-After = %q, want %q", h.Get("Retry-After"), tt.retryAfter)
				}
				if status != 200 && out["status"] != float64(status) {
					t.Errorf("error body = %v", out)
				}
			}
			if len(e.Received()) != 1 || e.Resends() != 0 {
				t.Errorf("faulted calls were recorded: %d received, %d resends", len(e.Received()), e.Resends())
			}
		})
	}
}

func TestInboundTimeoutLatencyAndLostAnswer(t *testing.T) {
	e, srv := newEmulator(t, nil)
	tok := token(t, srv)
	call := func(timeout time.Duration, id string) (int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+inboundBase+"message", strings.NewReader(message(id, "c", "x")))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	_ = e.SetFaults(genesys.Faults{Timeout: 1})
	if _, err := call(50*time.Millisecond, "t1"); err == nil {
		t.Fatal("call under Timeout returned")
	}
	if len(e.Received()) != 0 {
		t.Error("a timed-out call was processed")
	}
	_ = e.SetFaults(genesys.Faults{AcceptThenTimeout: 1})
	if _, err := call(50*time.Millisecond, "t2"); err == nil {
		t.Fatal("call under AcceptThenTimeout returned")
	}
	if status, err := call(time.Second, "t2"); err != nil || status != 200 {
		t.Fatalf("resend: %d %v", status, err)
	}
	if len(e.Received()) != 1 || e.Resends() != 1 {
		t.Errorf("lost answer: %d received, %d resends; want 1 and 1", len(e.Received()), e.Resends())
	}
	_ = e.SetFaults(genesys.Faults{Latency: 50 * time.Millisecond})
	start := time.Now()
	if status, err := call(time.Second, "t3"); err != nil || status != 200 || time.Since(start) < 50*time.Millisecond {
		t.Errorf("latency: %d %v after %v", status, err, time.Since(start))
	}
}

func TestRawBodiesKeepEveryByte(t *testing.T) {
	e, srv := newEmulator(t, nil)
	tok := token(t, srv)
	post(t, srv, tok, "message", message("r1", "c", "4111 1111 1111 1111"))
	post(t, srv, "", "message", message("r2", "c", "unauthenticated secret"))
	post(t, srv, tok, "message", `{"channel":{},"text":"rejected secret"}`)
	var all strings.Builder
	for _, b := range e.RawBodies() {
		all.Write(b)
	}
	for _, s := range []string{"4111 1111 1111 1111", "unauthenticated secret", "rejected secret"} {
		if !strings.Contains(all.String(), s) {
			t.Errorf("RawBodies lacks %q", s)
		}
	}
	if len(e.RawBodies()) != 3 {
		t.Errorf("%d raw bodies", len(e.RawBodies()))
	}
	_ = json.Valid
}
