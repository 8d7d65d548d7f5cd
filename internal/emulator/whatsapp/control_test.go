package whatsapp_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/emulator/whatsapp"
)

func TestControlAPI(t *testing.T) {
	g := newGateway(t)
	e := newEmulator(t, g)
	srv := serve(t, e)

	t.Run("customer message", func(t *testing.T) {
		status, body := control(t, srv, "POST", "/emulator/whatsapp/customer-messages",
			`{"from":"16505551234","name":"Sheena","text":"hi","timestamp":1749416383}`)
		var out struct{ ID string }
		if status != 200 || json.Unmarshal(body, &out) != nil || !strings.HasPrefix(out.ID, "wamid.") {
			t.Fatalf("%d %s", status, body)
		}
		waitIdle(t, e)
		b := g.accepted()
		m := parse(t, b[len(b)-1]).Entry[0].Changes[0].Value.Messages[0]
		if m.ID != out.ID || m.Timestamp != "1749416383" || m.Text.Body != "hi" {
			t.Errorf("delivered %+v", m)
		}
	})
	t.Run("button and list replies", func(t *testing.T) {
		for _, body := range []string{
			`{"from":"16505551234","button_reply":{"id":"yes","title":"Yes"}}`,
			`{"from":"16505551234","list_reply":{"id":"r1","title":"Row","description":"d"},"context_id":"wamid.C"}`,
		} {
			if status, out := control(t, srv, "POST", "/emulator/whatsapp/customer-messages", body); status != 200 {
				t.Errorf("%s: %d %s", body, status, out)
			}
		}
	})
	t.Run("batch", func(t *testing.T) {
		status, body := control(t, srv, "POST", "/emulator/whatsapp/customer-messages/batch",
			`{"messages":[{"from":"1","text":"a"},{"from":"2","text":"b"}]}`)
		var out struct{ IDs []string }
		if status != 200 || json.Unmarshal(body, &out) != nil || len(out.IDs) != 2 {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		for _, tc := range []struct{ path, body string }{
			{"/emulator/whatsapp/customer-messages", `{"from":"1","txt":"typo"}`},
			{"/emulator/whatsapp/customer-messages", `{"from":"1"}`},
			{"/emulator/whatsapp/customer-messages", `{"from":"1","text":"a"} {}`},
			{"/emulator/whatsapp/customer-messages", `not json`},
			{"/emulator/whatsapp/customer-messages/batch", `{"messages":[]}`},
			{"/emulator/whatsapp/statuses", `{"message_id":"wamid.x","status":"bogus"}`},
		} {
			if status, out := control(t, srv, "POST", tc.path, tc.body); status != 400 {
				t.Errorf("%s %s: %d %s", tc.path, tc.body, status, out)
			}
		}
		if status, _ := control(t, srv, "GET", "/emulator/whatsapp/customer-messages", ""); status != http.StatusMethodNotAllowed {
			t.Errorf("GET customer-messages: %d", status)
		}
		if status, _ := control(t, srv, "GET", "/emulator/whatsapp/sent?after=x", ""); status != 400 {
			t.Errorf("bad after: %d", status)
		}
	})
	t.Run("sent, filtered and paged", func(t *testing.T) {
		for i, to := range []string{"+1 650 555 1234", "447700900123", "16505551234"} {
			graph(t, srv, accessToken, fmt.Sprintf(`{"messaging_product":"whatsapp","to":"%s","text":{"body":"m%d"}}`, to, i))
		}
		var out struct{ Messages []whatsapp.SentMessage }
		status, body := control(t, srv, "GET", "/emulator/whatsapp/sent?to=16505551234", "")
		if status != 200 || json.Unmarshal(body, &out) != nil || len(out.Messages) != 2 ||
			out.Messages[0].Text != "m0" || out.Messages[1].Text != "m2" {
			t.Fatalf("%d %s", status, body)
		}
		if !strings.Contains(string(body), `"wa_id":"16505551234"`) || !strings.Contains(string(body), `"raw":{`) {
			t.Errorf("sent JSON shape: %s", body)
		}
		_, body = control(t, srv, "GET", fmt.Sprintf("/emulator/whatsapp/sent?after=%d", out.Messages[0].Seq), "")
		out.Messages = nil
		_ = json.Unmarshal(body, &out)
		if len(out.Messages) != 2 {
			t.Errorf("after: %s", body)
		}
		_, body = control(t, srv, "GET", "/emulator/whatsapp/sent?limit=1", "")
		out.Messages = nil
		_ = json.Unmarshal(body, &out)
		if len(out.Messages) != 1 || out.Messages[0].Text != "m2" {
			t.Errorf("limit: %s", body)
		}
		_, body = control(t, srv, "GET", "/emulator/whatsapp/sent?to=999999", "")
		if string(body) != `{"messages":[]}` {
			t.Errorf("empty list: %s", body)
		}
	})
	t.Run("status webhook", func(t *testing.T) {
		id := e.Sent()[0].ID
		status, body := control(t, srv, "POST", "/emulator/whatsapp/statuses",
			`{"message_id":"`+id+`","status":"failed","error":{"code":131049,"title":"not delivered","details":"d"}}`)
		if status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		waitIdle(t, e)
	})
	t.Run("read marks", func(t *testing.T) {
		graph(t, srv, accessToken, `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.R"}`)
		_, body := control(t, srv, "GET", "/emulator/whatsapp/read-marks", "")
		if !strings.Contains(string(body), `"message_id":"wamid.R"`) {
			t.Errorf("read marks: %s", body)
		}
	})
	t.Run("deliveries", func(t *testing.T) {
		var out struct{ Deliveries []whatsapp.Delivery }
		status, body := control(t, srv, "GET", "/emulator/whatsapp/deliveries", "")
		if status != 200 || json.Unmarshal(body, &out) != nil || len(out.Deliveries) == 0 ||
			out.Deliveries[0].StatusCode != 200 || !strings.Contains(string(body), `"status_code":200`) {
			t.Errorf("%d %s", status, body)
		}
	})
	t.Run("faults round trip", func(t *testing.T) {
		status, body := control(t, srv, "PUT", "/emulator/whatsapp/faults",
			`{"status_429":2,"retry_after":"3s","latency":5,"duplicate_rate":0.25,"reorder":0,"concurrency":4,"seed":42}`)
		if status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		f := e.Faults()
		if f.Status429 != 2 || f.RetryAfter != 3*time.Second || f.Latency != 5*time.Millisecond ||
			f.DuplicateRate != 0.25 || f.Concurrency != 4 || f.Seed != 42 {
			t.Errorf("faults = %+v", f)
		}
		graph(t, srv, accessToken, textSend) // consumes one 429
		_, body = control(t, srv, "GET", "/emulator/whatsapp/faults", "")
		if !strings.Contains(string(body), `"status_429":1`) || !strings.Contains(string(body), `"latency":"5ms"`) {
			t.Errorf("GET faults: %s", body)
		}
		for _, bad := range []string{`{"status429":1}`, `{"duplicate_rate":2}`, `{"concurrency":1000}`, `{"latency":"soon"}`, `{"status_500":-1}`} {
			if status, out := control(t, srv, "PUT", "/emulator/whatsapp/faults", bad); status != 400 {
				t.Errorf("PUT %s: %d %s", bad, status, out)
			}
		}
	})
	t.Run("stats and reset", func(t *testing.T) {
		var s whatsapp.Stats
		_, body := control(t, srv, "GET", "/emulator/whatsapp/stats", "")
		if json.Unmarshal(body, &s) != nil || s.Sent == 0 || s.CustomerMessages == 0 {
			t.Errorf("stats: %s", body)
		}
		if status, _ := control(t, srv, "POST", "/emulator/whatsapp/reset", ""); status != 200 {
			t.Fatal(status)
		}
		if len(e.Sent()) != 0 || len(e.Deliveries()) != 0 || e.Resends() != 0 || e.Faults() != (whatsapp.Faults{}) || e.Stats().Sent != 0 {
			t.Errorf("after reset: %+v %+v", e.Stats(), e.Faults())
		}
	})
	t.Run("handshake", func(t *testing.T) {
		status, body := control(t, srv, "POST", "/emulator/whatsapp/handshake", `{"challenge":"abc"}`)
		if status != 200 {
			t.Errorf("%d %s", status, body)
		}
		if status, body := control(t, srv, "POST", "/emulator/whatsapp/handshake", ""); status != 200 {
			t.Errorf("without body: %d %s", status, body)
		}
	})
}
