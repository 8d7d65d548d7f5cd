package genesys_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/emulator/genesys"
)

func TestControlAPI(t *testing.T) {
	g := newGateway(t)
	e, srv := newEmulator(t, g)
	tok := token(t, srv)
	post(t, srv, tok, "message", message("m1", "alice", "hi from alice"))
	post(t, srv, tok, "message", message("m2", "bob", "hi from bob"))
	alice, _ := e.ConversationFor("alice")

	t.Run("agent message", func(t *testing.T) {
		status, body := control(t, srv, "POST", "/emulator/genesys/agent-messages",
			`{"conversationId":"`+alice+`","text":"How can I help?"}`)
		var out struct{ ID string }
		if status != 200 || json.Unmarshal(body, &out) != nil || len(out.ID) != 32 {
			t.Fatalf("%d %s", status, body)
		}
		waitIdle(t, e)
		if len(g.accepted()) != 1 {
			t.Error("webhook not delivered")
		}
		_, body = control(t, srv, "GET", "/emulator/genesys/agent-messages?conversationId="+alice, "")
		if !strings.Contains(string(body), `"text":"How can I help?"`) {
			t.Errorf("agent messages: %s", body)
		}
	})
	t.Run("agent message errors", func(t *testing.T) {
		for _, tc := range []struct {
			body   string
			status int
		}{
			{`{"conversationId":"nope","text":"x"}`, 404},
			{`{"conversationId":"` + alice + `","text":""}`, 400},
			{`{"conversationId":"` + alice + `","txt":"typo"}`, 400},
		} {
			if status, out := control(t, srv, "POST", "/emulator/genesys/agent-messages", tc.body); status != tc.status {
				t.Errorf("%s: %d %s", tc.body, status, out)
			}
		}
	})
	t.Run("received", func(t *testing.T) {
		var out struct{ Messages []genesys.ReceivedMessage }
		status, body := control(t, srv, "GET", "/emulator/genesys/received", "")
		if status != 200 || json.Unmarshal(body, &out) != nil || len(out.Messages) != 2 {
			t.Fatalf("%d %s", status, body)
		}
		for _, k := range []string{`"conversationId"`, `"messageId":"m1"`, `"fromId":"alice"`, `"nickname":"Jane"`,
			`"text":"hi from alice"`, `"time":"2026-05-01T13:01:14.462Z"`, `"customAttributes":{"secureSession":"abc123"}`} {
			if !strings.Contains(string(body), k) {
				t.Errorf("received JSON lacks %s: %s", k, body)
			}
		}
		_, body = control(t, srv, "GET", "/emulator/genesys/received?conversationId="+alice, "")
		out.Messages = nil
		_ = json.Unmarshal(body, &out)
		if len(out.Messages) != 1 || out.Messages[0].FromID != "alice" {
			t.Errorf("filtered: %s", body)
		}
		_, body = control(t, srv, "GET", fmt.Sprintf("/emulator/genesys/received?after=%d", out.Messages[0].Seq), "")
		out.Messages = nil
		_ = json.Unmarshal(body, &out)
		if len(out.Messages) != 1 || out.Messages[0].FromID != "bob" {
			t.Errorf("after: %s", body)
		}
		if _, body := control(t, srv, "GET", "/emulator/genesys/received?conversationId=none", ""); string(body) != `{"messages":[]}` {
			t.Errorf("empty: %s", body)
		}
	})
	t.Run("conversations and disconnect", func(t *testing.T) {
		_, body := control(t, srv, "GET", "/emulator/genesys/conversations", "")
		if !strings.Contains(string(body), `"customerId":"alice"`) || !strings.Contains(string(body), `"conversationId":"`+alice+`"`) {
			t.Errorf("conversations: %s", body)
		}
		if status, body := control(t, srv, "POST", "/emulator/genesys/conversations/"+alice+"/disconnect", ""); status != 200 {
			t.Errorf("%d %s", status, body)
		}
		if status, _ := control(t, srv, "POST", "/emulator/genesys/agent-messages", `{"conversationId":"`+alice+`","text":"x"}`); status != 409 {
			t.Errorf("agent message after disconnect: %d", status)
		}
		if status, _ := control(t, srv, "POST", "/emulator/genesys/conversations/nope/disconnect", ""); status != 404 {
			t.Errorf("unknown disconnect: %d", status)
		}
	})
	t.Run("receipts and deliveries", func(t *testing.T) {
		post(t, srv, tok, "receipt", `{"id":"g","channel":{"to":{"id":"alice"},"time":"2026-05-01T13:01:14Z"},"status":"Failed","reasons":[{"code":"RateLimited","message":"slow"}]}`)
		_, body := control(t, srv, "GET", "/emulator/genesys/receipts", "")
		if !strings.Contains(string(body), `"status":"Failed"`) || !strings.Contains(string(body), `"code":"RateLimited"`) {
			t.Errorf("receipts: %s", body)
		}
		_, body = control(t, srv, "GET", "/emulator/genesys/deliveries", "")
		if !strings.Contains(string(body), `"statusCode":200`) || !strings.Contains(string(body), `"outcome":"delivered"`) {
			t.Errorf("deliveries: %s", body)
		}
	})
	t.Run("faults", func(t *testing.T) {
		status, body := control(t, srv, "PUT", "/emulator/genesys/faults",
			`{"status429":1,"retryAfter":"2s","status500":1,"latency":"1ms","duplicateRate":0.5,"reorder":0,"concurrency":2,"seed":3}`)
		if status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		f := e.Faults()
		if f.Status429 != 1 || f.RetryAfter != 2*time.Second || f.Status500 != 1 || f.Concurrency != 2 || f.Seed != 3 {
			t.Errorf("faults = %+v", f)
		}
		post(t, srv, tok, "message", message("m3", "carol", "x")) // consumes the 429
		_, body = control(t, srv, "GET", "/emulator/genesys/faults", "")
		if !strings.Contains(string(body), `"status429":0`) || !strings.Contains(string(body), `"status500":1`) {
			t.Errorf("GET faults: %s", body)
		}
		for _, bad := range []string{`{"status_429":1}`, `{"duplicateRate":-1}`, `{"reorder":-2}`} {
			if status, out := control(t, srv, "PUT", "/emulator/genesys/faults", bad); status != 400 {
				t.Errorf("PUT %s: %d %s", bad, status, out)
			}
		}
	})
	t.Run("stats and reset", func(t *testing.T) {
		var s genesys.Stats
		_, body := control(t, srv, "GET", "/emulator/genesys/stats", "")
		if json.Unmarshal(body, &s) != nil || s.TokenGrants != 1 || s.Received != 2 || s.AgentMessages != 1 || s.Rejected == 0 {
			t.Errorf("stats: %s", body)
		}
		if status, _ := control(t, srv, "POST", "/emulator/genesys/reset", ""); status != 200 {
			t.Fatal(status)
		}
		if len(e.Received()) != 0 || len(e.Conversations()) != 0 || e.Resends() != 0 || e.TokenGrants() != 0 ||
			len(e.RawBodies()) != 0 || e.Faults() != (genesys.Faults{}) {
			t.Errorf("after reset: %+v", e.Stats())
		}
		// The cached token still works after a reset.
		if status, _, _ := post(t, srv, tok, "message", message("m4", "dave", "x")); status != 200 {
			t.Errorf("token after reset: %d", status)
		}
	})
}

func TestHistoryIsCapped(t *testing.T) {
	e, srv := newEmulator(t, nil, func(c *genesys.Config) { c.HistoryLimit = 4 })
	tok := token(t, srv)
	for i := range 10 {
		post(t, srv, tok, "message", message(fmt.Sprintf("m%d", i), fmt.Sprintf("c%d", i), "x"))
	}
	if len(e.Received()) != 4 || len(e.RawBodies()) != 4 || len(e.Conversations()) != 4 || e.Stats().Received != 10 {
		t.Errorf("received %d, raw %d, conversations %d, stats %+v", len(e.Received()), len(e.RawBodies()), len(e.Conversations()), e.Stats())
	}
	// The idempotency memory is capped too: m0 was forgotten, m9 was not.
	post(t, srv, tok, "message", message("m9", "c9", "x"))
	post(t, srv, tok, "message", message("m0", "c0", "x"))
	if e.Resends() != 1 {
		t.Errorf("Resends = %d", e.Resends())
	}
}

func TestConcurrentUse(t *testing.T) {
	g := newGateway(t)
	e, srv := newEmulator(t, g, func(c *genesys.Config) { c.AutoReceipts = true })
	tok := token(t, srv)
	_ = e.SetFaults(genesys.Faults{DuplicateRate: 0.1, Concurrency: 16})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			customer := fmt.Sprintf("cust-%d", w)
			for i := range 25 {
				if status, _, out := post(t, srv, tok, "message", message(fmt.Sprintf("%s-%d", customer, i), customer, "x")); status != 200 {
					t.Errorf("%d %v", status, out)
					return
				}
				conv, _ := e.ConversationFor(customer)
				if _, err := e.SendAgentMessage(context.Background(), conv, "reply"); err != nil {
					t.Error(err)
				}
				_ = e.Stats()
				_ = e.Conversations()
			}
		}()
	}
	wg.Wait()
	waitIdle(t, e)
	s := e.Stats()
	if s.Received != 400 || s.AgentMessages != 400 || s.Failed != 0 || s.Delivered < 800 || len(e.Conversations()) != 16 {
		t.Errorf("stats = %+v, conversations %d", s, len(e.Conversations()))
	}
	if g.badSigs != 0 {
		t.Errorf("%d bad signatures", g.badSigs)
	}
}
