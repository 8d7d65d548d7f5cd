package genesys_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/emulator/genesys"
	"github.com/secureflow/secureflow/internal/hubsig"
)

// startConversation makes a customer write once and returns the conversation id.
func startConversation(t testing.TB, e *genesys.Emulator, post func(string) int, customer string) string {
	t.Helper()
	if status := post(message("in-"+customer, customer, "hello")); status != 200 {
		t.Fatalf("inbound: %d", status)
	}
	id, ok := e.ConversationFor(customer)
	if !ok {
		t.Fatal("no conversation")
	}
	return id
}

func keys(prefix string, v any, out map[string]bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, sub := range m {
		out[prefix+k] = true
		keys(prefix+k+".", sub, out)
	}
}

func TestAgentMessageWebhook(t *testing.T) {
	g := newGateway(t)
	now := time.Date(2026, 3, 25, 13, 20, 5, 493e6, time.UTC)
	e, srv := newEmulator(t, g, func(c *genesys.Config) {
		c.Now = func() time.Time { return now }
		c.IntegrationName = "Sinch Messaging"
		c.WebhookHeaders = map[string]string{"X-Tenant": "t1"}
	})
	tok := token(t, srv)
	conv := startConversation(t, e, func(b string) int { s, _, _ := post(t, srv, tok, "message", b); return s }, "33633081329")

	id, err := e.SendAgentMessage(context.Background(), conv, "Bonjour, ça va ? <b>&</b>")
	if err != nil {
		t.Fatal(err)
	}
	waitIdle(t, e)
	bodies := g.accepted()
	if len(bodies) != 1 {
		t.Fatalf("%d webhooks", len(bodies))
	}
	body := bodies[0]
	h := g.headers[0]
	// genesys.md §1.7: sha256=<base64>, over the exact bytes.
	if sig := h.Get(hubsig.Header); !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+44 {
		t.Errorf("signature %q is not sha256=<base64>", sig)
	}
	if h.Get("Content-Type") != "application/json" || h.Get("X-Tenant") != "t1" {
		t.Errorf("headers = %v", h)
	}
	if !bytes.Contains(body, []byte("ça va ? <b>&</b>")) {
		t.Errorf("text not sent as plain UTF-8: %s", body)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	ch := got["channel"].(map[string]any)
	to := ch["to"].(map[string]any)
	from := ch["from"].(map[string]any)
	want := map[string]any{"id": id, "type": "Text", "text": "Bonjour, ça va ? <b>&</b>", "direction": "Outbound",
		"originatingEntity": "Human", "conversationId": conv}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if ch["id"] != genesys.DefaultIntegrationID || ch["platform"] != "Open" || ch["type"] != "Private" || ch["messageId"] != id ||
		to["id"] != "33633081329" || to["idType"] != "Phone" || from["nickname"] != "Sinch Messaging" ||
		from["id"] != genesys.DefaultIntegrationID || from["idType"] != "Opaque" || ch["time"] != "2026-03-25T13:20:05.493Z" ||
		ch["metadata"].(map[string]any)["subType"] != "None" {
		t.Errorf("channel = %v", ch)
	}
	// Every key of the sample (minus the empty arrays and the nickName
	// spelling, genesys-samples/README.md) is present.
	var sampleMsg map[string]any
	_ = json.Unmarshal([]byte(sample(t, "openmessaging-outbound-text.json")), &sampleMsg)
	wantKeys, gotKeys := map[string]bool{}, map[string]bool{}
	keys("", sampleMsg, wantKeys)
	keys("", got, gotKeys)
	for _, k := range []string{"content", "reasons", "relatedMessages", "channel.from.nickName"} {
		delete(wantKeys, k)
	}
	wantKeys["channel.from.nickname"] = true
	var missing []string
	for k := range wantKeys {
		if !gotKeys[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("webhook lacks sample keys %v", missing)
	}
	msgs := e.AgentMessages(conv)
	if len(msgs) != 1 || msgs[0].ID != id || msgs[0].ToID != "33633081329" || !bytes.Equal(msgs[0].Body, body) {
		t.Errorf("AgentMessages = %+v", msgs)
	}
}

func TestAgentMessageErrors(t *testing.T) {
	e, srv := newEmulator(t, nil)
	tok := token(t, srv)
	conv := startConversation(t, e, func(b string) int { s, _, _ := post(t, srv, tok, "message", b); return s }, "c")
	tests := []struct {
		name, conv, text string
		want             error
	}{
		{"unknown conversation", "nope", "hi", genesys.ErrUnknownConversation},
		{"empty text", conv, "", nil},
		{"over 4000 characters", conv, strings.Repeat("é", 4001), nil},
	}
	for _, tt := range tests {
		_, err := e.SendAgentMessage(context.Background(), tt.conv, tt.text)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
	if _, err := e.SendAgentMessage(context.Background(), conv, strings.Repeat("é", 4000)); err != nil {
		t.Errorf("4000 characters refused: %v", err)
	}
}

func TestWebhookRetryPolicy(t *testing.T) {
	tests := []struct {
		name     string
		answer   func(n int) int
		attempts int
		outcome  string
	}{
		{"429 then 503 then 200", func(n int) int { return []int{429, 503, 200}[min(n, 3)-1] }, 3, "delivered"},
		{"always 500: 5 retries then give up", func(int) int { return 500 }, 6, "failed"},
		{"400 is not retried", func(int) int { return 400 }, 1, "failed"},
		{"401 is not retried", func(int) int { return 401 }, 1, "failed"},
		{"202 is success", func(int) int { return 202 }, 1, "delivered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t)
			g.answer = tt.answer
			e, srv := newEmulator(t, g)
			tok := token(t, srv)
			conv := startConversation(t, e, func(b string) int { s, _, _ := post(t, srv, tok, "message", b); return s }, "c")
			if _, err := e.SendAgentMessage(context.Background(), conv, "hi"); err != nil {
				t.Fatal(err)
			}
			waitIdle(t, e)
			ds := e.Deliveries()
			if len(ds) != tt.attempts || ds[len(ds)-1].Outcome != tt.outcome {
				t.Fatalf("deliveries = %+v", ds)
			}
			for i, d := range ds[:len(ds)-1] {
				if d.Outcome != "retrying" || d.Attempt != i+1 {
					t.Errorf("attempt %d = %+v", i, d)
				}
			}
		})
	}
	t.Run("timeout is retried", func(t *testing.T) {
		g := newGateway(t)
		g.sleep = func(n int) time.Duration {
			if n == 1 {
				return 200 * time.Millisecond
			}
			return 0
		}
		e, srv := newEmulator(t, g, func(c *genesys.Config) { c.DeliveryTimeout = 50 * time.Millisecond })
		tok := token(t, srv)
		conv := startConversation(t, e, func(b string) int { s, _, _ := post(t, srv, tok, "message", b); return s }, "c")
		_, _ = e.SendAgentMessage(context.Background(), conv, "hi")
		waitIdle(t, e)
		ds := e.Deliveries()
		if len(ds) != 2 || ds[0].StatusCode != 0 || ds[0].Error == "" || ds[1].Outcome != "delivered" {
			t.Errorf("deliveries = %+v", ds)
		}
	})
	t.Run("retries are spaced by RetryDelay", func(t *testing.T) {
		g := newGateway(t)
		g.answer = func(n int) int { return map[bool]int{true: 503, false: 200}[n < 3] }
		e, srv := newEmulator(t, g, func(c *genesys.Config) { c.RetryDelay = 40 * time.Millisecond })
		tok := token(t, srv)
		conv := startConversation(t, e, func(b string) int { s, _, _ := post(t, srv, tok, "message", b); return s }, "c")
		start := time.Now()
		_, _ = e.SendAgentMessage(context.Background(), conv, "hi")
		waitIdle(t, e)
		if d := time.Since(start); d < 80*time.Millisecond {
			t.Errorf("two retries took %v, want at least 80ms", d)
		}
	})
}

func TestAutoReceipts(t *testing.T) {
	g := newGateway(t)
	e, srv := newEmulator(t, g, func(c *genesys.Config) { c.AutoReceipts = true })
	tok := token(t, srv)
	_, _, out := post(t, srv, tok, "message", message("wamid.A", "cust", "hi"))
	post(t, srv, tok, "message", message("wamid.A", "cust", "hi")) // a resend: no second receipt
	waitIdle(t, e)
	b := g.accepted()
	if len(b) != 1 {
		t.Fatalf("%d receipts, want 1", len(b))
	}
	var r map[string]any
	_ = json.Unmarshal(b[0], &r)
	ch := r["channel"].(map[string]any)
	conv, _ := e.ConversationFor("cust")
	if r["type"] != "Receipt" || r["status"] != "Published" || r["id"] != out["id"] || ch["messageId"] != "wamid.A" ||
		r["conversationId"] != conv || ch["to"].(map[string]any)["id"] != "cust" {
		t.Errorf("receipt = %s", b[0])
	}
}

func TestReceiptsAgainstOutboundIDs(t *testing.T) {
	g := newGateway(t)
	e, srv := newEmulator(t, g)
	tok := token(t, srv)
	conv := startConversation(t, e, func(b string) int { s, _, _ := post(t, srv, tok, "message", b); return s }, "cust")
	id, _ := e.SendAgentMessage(context.Background(), conv, "hi")
	waitIdle(t, e)
	status, _, out := post(t, srv, tok, "receipt", `{"id":"`+id+`","channel":{"to":{"id":"cust","idType":"Phone"},"time":"2026-05-01T13:01:14Z"},"status":"Delivered","isFinalReceipt":true}`)
	if status != 200 || out["status"] != "Delivered" || out["id"] != id {
		t.Fatalf("%d %v", status, out)
	}
	rs := e.Receipts()
	if len(rs) != 1 || !rs[0].Known || rs[0].ConversationID != conv || !rs[0].IsFinalReceipt || rs[0].ToID != "cust" {
		t.Errorf("receipts = %+v", rs)
	}
}

func TestWebhookDuplicatesReorderConcurrency(t *testing.T) {
	setup := func(t *testing.T, f genesys.Faults) (*gateway, *genesys.Emulator, string) {
		g := newGateway(t)
		e, srv := newEmulator(t, g)
		tok := token(t, srv)
		conv := startConversation(t, e, func(b string) int { s, _, _ := post(t, srv, tok, "message", b); return s }, "c")
		if err := e.SetFaults(f); err != nil {
			t.Fatal(err)
		}
		return g, e, conv
	}
	texts := func(t *testing.T, g *gateway) []string {
		var out []string
		for _, b := range g.accepted() {
			var m struct{ Text string }
			_ = json.Unmarshal(b, &m)
			out = append(out, m.Text)
		}
		return out
	}
	t.Run("duplicates", func(t *testing.T) {
		g, e, conv := setup(t, genesys.Faults{DuplicateRate: 1})
		_, _ = e.SendAgentMessage(context.Background(), conv, "once")
		waitIdle(t, e)
		b := g.accepted()
		if len(b) != 2 || !bytes.Equal(b[0], b[1]) || g.headers[0].Get(hubsig.Header) != g.headers[1].Get(hubsig.Header) {
			t.Errorf("want the same signed body twice, got %q", texts(t, g))
		}
	})
	t.Run("reorder", func(t *testing.T) {
		g, e, conv := setup(t, genesys.Faults{Reorder: 2, Concurrency: 1})
		for i := range 4 {
			_, _ = e.SendAgentMessage(context.Background(), conv, strconv.Itoa(i))
		}
		waitIdle(t, e)
		if got := fmt.Sprint(texts(t, g)); got != "[1 0 3 2]" {
			t.Errorf("order = %s", got)
		}
	})
	t.Run("concurrency 1 keeps order", func(t *testing.T) {
		g, e, conv := setup(t, genesys.Faults{Concurrency: 1})
		var want []string
		for i := range 50 {
			want = append(want, strconv.Itoa(i))
			_, _ = e.SendAgentMessage(context.Background(), conv, strconv.Itoa(i))
		}
		waitIdle(t, e)
		if got := texts(t, g); !reflect.DeepEqual(got, want) {
			t.Errorf("order = %v", got)
		}
	})
}

func TestCloseAndConfig(t *testing.T) {
	for name, cfg := range map[string]genesys.Config{
		"short secret": {WebhookSecret: []byte("fifteen-chars!!"), ClientID: "a", ClientSecret: "b"},
		"no client":    {WebhookSecret: []byte(webhookSecret)},
	} {
		if _, err := genesys.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	e, _ := newEmulator(t, nil)
	_ = e.Close()
	if _, err := e.SendAgentMessage(context.Background(), "x", "y"); !errors.Is(err, genesys.ErrClosed) {
		t.Errorf("after close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Error(err)
	}
}
