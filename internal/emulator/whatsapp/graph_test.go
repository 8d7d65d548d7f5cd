package whatsapp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/emulator/whatsapp"
)

func interactive(inner string) string {
	return `{"messaging_product":"whatsapp","to":"+1 (650) 555-1234","type":"interactive","interactive":` + inner + `}`
}

func buttons(n int, title string) string {
	var b []string
	for i := range n {
		b = append(b, fmt.Sprintf(`{"type":"reply","reply":{"id":"b%d","title":"%s%d"}}`, i, title, i))
	}
	return interactive(`{"type":"button","body":{"text":"Pick"},"action":{"buttons":[` + strings.Join(b, ",") + `]}}`)
}

func listRows(n int) string {
	var rows []string
	for i := range n {
		rows = append(rows, fmt.Sprintf(`{"id":"r%d","title":"Row %d","description":"d"}`, i, i))
	}
	return interactive(`{"type":"list","header":{"type":"text","text":"H"},"body":{"text":"Choose"},"footer":{"text":"f"},
		"action":{"button":"Options","sections":[{"title":"S","rows":[` + strings.Join(rows, ",") + `]}]}}`)
}

func cta(display, url string) string {
	return interactive(`{"type":"cta_url","body":{"text":"Pay securely"},"action":{"name":"cta_url","parameters":{"display_text":"` +
		display + `","url":"` + url + `"}}}`)
}

func flow(params string) string {
	return interactive(`{"type":"flow","body":{"text":"Book a visit"},"action":{"name":"flow","parameters":` + params + `}}`)
}

const goodFlow = `{"flow_message_version":"3","flow_token":"tok","flow_id":"123","flow_cta":"Book!","flow_action":"navigate","flow_action_payload":{"screen":"FIRST"}}`

func TestGraphSendValidation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n) } // runes, not bytes
	tests := []struct {
		name   string
		token  string
		path   string
		body   string
		status int
		code   int // 0 means success
	}{
		{"text", accessToken, "", textSend, 200, 0},
		{"text at 4096 characters", accessToken, "", `{"messaging_product":"whatsapp","to":"16505551234","type":"text","text":{"body":"` + long(4096) + `"}}`, 200, 0},
		{"text over 4096 characters", accessToken, "", `{"messaging_product":"whatsapp","to":"16505551234","type":"text","text":{"body":"` + long(4097) + `"}}`, 400, 131009},
		{"type defaults to text", accessToken, "", `{"messaging_product":"whatsapp","to":"16505551234","text":{"body":"hi"}}`, 200, 0},
		{"text with context", accessToken, "", `{"messaging_product":"whatsapp","to":"16505551234","type":"text","context":{"message_id":"wamid.X"},"text":{"body":"hi"}}`, 200, 0},
		{"three buttons", accessToken, "", buttons(3, "Opt"), 200, 0},
		{"four buttons", accessToken, "", buttons(4, "Opt"), 400, 131009},
		{"no buttons", accessToken, "", buttons(0, "Opt"), 400, 131008},
		{"button title 20", accessToken, "", buttons(1, strings.Repeat("t", 19)), 200, 0},
		{"button title 21", accessToken, "", buttons(1, strings.Repeat("t", 20)), 400, 131009},
		{"duplicate button titles", accessToken, "", interactive(`{"type":"button","body":{"text":"x"},"action":{"buttons":[
			{"type":"reply","reply":{"id":"a","title":"Same"}},{"type":"reply","reply":{"id":"b","title":"Same"}}]}}`), 400, 131009},
		{"button body over 1024", accessToken, "", interactive(`{"type":"button","body":{"text":"` + long(1025) + `"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}}]}}`), 400, 131009},
		{"interactive without body", accessToken, "", interactive(`{"type":"button","action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}}]}}`), 400, 131008},
		{"footer over 60", accessToken, "", interactive(`{"type":"button","body":{"text":"x"},"footer":{"text":"` + long(61) + `"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}}]}}`), 400, 131009},
		{"list of 10 rows", accessToken, "", listRows(10), 200, 0},
		{"list of 11 rows", accessToken, "", listRows(11), 400, 131009},
		{"list image header", accessToken, "", interactive(`{"type":"list","header":{"type":"image"},"body":{"text":"x"},"action":{"button":"B","sections":[{"rows":[{"id":"a","title":"A"}]}]}}`), 400, 131009},
		{"list row title 25", accessToken, "", interactive(`{"type":"list","body":{"text":"x"},"action":{"button":"B","sections":[{"rows":[{"id":"a","title":"` + long(25) + `"}]}]}}`), 400, 131009},
		{"cta_url", accessToken, "", cta("See Dates", "https://example.com/pay/1"), 200, 0},
		{"cta_url display text 21", accessToken, "", cta(strings.Repeat("d", 21), "https://example.com"), 400, 131009},
		{"cta_url not a URL", accessToken, "", cta("Pay", "javascript:alert(1)"), 400, 131009},
		{"flow", accessToken, "", flow(goodFlow), 200, 0},
		{"flow by name, data_exchange, draft", accessToken, "", flow(`{"flow_message_version":"3","flow_token":"t","flow_name":"n","flow_cta":"Go","flow_action":"data_exchange","mode":"draft"}`), 200, 0},
		{"flow version 2", accessToken, "", flow(strings.Replace(goodFlow, `"3"`, `"2"`, 1)), 400, 131009},
		{"flow without token", accessToken, "", flow(strings.Replace(goodFlow, `"flow_token":"tok",`, "", 1)), 400, 131008},
		{"flow navigate without screen", accessToken, "", flow(`{"flow_message_version":"3","flow_token":"t","flow_id":"1","flow_cta":"Go"}`), 400, 131008},
		{"flow cta 21", accessToken, "", flow(strings.Replace(goodFlow, "Book!", strings.Repeat("c", 21), 1)), 400, 131009},
		{"unsupported interactive type", accessToken, "", interactive(`{"type":"product","body":{"text":"x"},"action":{}}`), 400, 131051},
		{"unsupported message type", accessToken, "", `{"messaging_product":"whatsapp","to":"16505551234","type":"image","image":{"id":"1"}}`, 400, 131051},
		{"missing to", accessToken, "", `{"messaging_product":"whatsapp","type":"text","text":{"body":"hi"}}`, 400, 131008},
		{"bad to", accessToken, "", `{"messaging_product":"whatsapp","to":"call me","type":"text","text":{"body":"hi"}}`, 400, 100},
		{"missing text body", accessToken, "", `{"messaging_product":"whatsapp","to":"16505551234","type":"text","text":{}}`, 400, 131008},
		{"wrong messaging_product", accessToken, "", `{"messaging_product":"sms","to":"16505551234","text":{"body":"hi"}}`, 400, 100},
		{"not JSON", accessToken, "", `{"messaging_product":`, 400, 100},
		{"group recipient type", accessToken, "", `{"messaging_product":"whatsapp","recipient_type":"group","to":"1","text":{"body":"hi"}}`, 400, 131009},
		{"mark as read", accessToken, "", `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.ABC"}`, 200, 0},
		{"mark as read with typing", accessToken, "", `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.ABC","typing_indicator":{"type":"text"}}`, 200, 0},
		{"mark as read without id", accessToken, "", `{"messaging_product":"whatsapp","status":"read"}`, 400, 131008},
		{"status other than read", accessToken, "", `{"messaging_product":"whatsapp","status":"delivered","message_id":"wamid.ABC"}`, 400, 131009},
		{"no token", "", "", textSend, 401, 190},
		{"wrong token", "nope", "", textSend, 401, 190},
		{"unknown phone number id", accessToken, "/emulator/whatsapp/graph/v24.0/999/messages", textSend, 400, 100},
		{"bad version", accessToken, "/emulator/whatsapp/graph/latest/" + whatsapp.DefaultPhoneNumberID + "/messages", textSend, 400, 2500},
	}
	e := newEmulator(t, nil)
	srv := serve(t, e)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = "/emulator/whatsapp/graph/v24.0/" + whatsapp.DefaultPhoneNumberID + "/messages"
			}
			status, _, out := graphPath(t, srv, path, tt.token, tt.body)
			if status != tt.status {
				t.Fatalf("status = %d, want %d (%v)", status, tt.status, out)
			}
			if tt.code != 0 {
				if got := errorCode(t, out); got != tt.code {
					t.Errorf("code = %d, want %d (%v)", got, tt.code, out)
				}
				msg := out["error"].(map[string]any)["message"].(string)
				if !strings.HasPrefix(msg, fmt.Sprintf("(#%d) ", tt.code)) {
					t.Errorf("message %q does not start with (#code)", msg)
				}
			}
		})
	}
	s := e.Stats()
	if s.ReadMarks != 2 || s.Sent == 0 || s.Rejected == 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestGraphSendSuccessShapeAndRecord(t *testing.T) {
	e := newEmulator(t, nil)
	srv := serve(t, e)
	body := `{"messaging_product":"whatsapp","to":"+1 650-555-1234","type":"text","text":{"body":"hello"},"biz_opaque_callback_data":"outbox-1"}`
	status, _, out := graph(t, srv, accessToken, body)
	if status != 200 {
		t.Fatalf("status %d: %v", status, out)
	}
	// whatsapp.md §2.6 success shape.
	contacts := out["contacts"].([]any)[0].(map[string]any)
	id := out["messages"].([]any)[0].(map[string]any)["id"].(string)
	if out["messaging_product"] != "whatsapp" || contacts["input"] != "+1 650-555-1234" || contacts["wa_id"] != "16505551234" ||
		!strings.HasPrefix(id, "wamid.") {
		t.Errorf("answer = %v", out)
	}
	sent := e.SentTo("+16505551234")
	if len(sent) != 1 {
		t.Fatalf("SentTo = %+v", sent)
	}
	m := sent[0]
	if m.ID != id || m.WaID != "16505551234" || m.Type != "text" || m.Text != "hello" ||
		m.BizOpaqueCallbackData != "outbox-1" || m.Resend || string(m.Raw) != body || m.Seq != 1 {
		t.Errorf("record = %+v", m)
	}
	if len(e.SentTo("447700900123")) != 0 {
		t.Error("SentTo matched another recipient")
	}
}

func TestResendsCountedByBizOpaqueCallbackData(t *testing.T) {
	e := newEmulator(t, nil)
	srv := serve(t, e)
	send := func(biz string) {
		body := `{"messaging_product":"whatsapp","to":"16505551234","text":{"body":"x"},"biz_opaque_callback_data":"` + biz + `"}`
		if status, _, out := graph(t, srv, accessToken, body); status != 200 {
			t.Fatalf("%d %v", status, out)
		}
	}
	for _, biz := range []string{"a", "b", "a", "a", ""} {
		send(biz)
	}
	send("") // no key: never a resend
	if got := e.Resends(); got != 2 {
		t.Errorf("Resends = %d, want 2", got)
	}
	var flags []bool
	for _, m := range e.Sent() {
		flags = append(flags, m.Resend)
	}
	if fmt.Sprint(flags) != "[false false true true false false]" {
		t.Errorf("resend flags = %v", flags)
	}
}

func TestGraphFaults(t *testing.T) {
	tests := []struct {
		name       string
		faults     whatsapp.Faults
		wantStatus []int // one per call
		wantCode   int
		retryAfter string
	}{
		{"429 twice", whatsapp.Faults{Status429: 2, RetryAfter: 1500 * time.Millisecond}, []int{429, 429, 200}, 130429, "2"},
		{"rate limit as Meta documents (HTTP 400)", whatsapp.Faults{Status429: 1, RateLimitStatus: 400}, []int{400, 200}, 130429, "1"},
		{"500 once", whatsapp.Faults{Status500: 1}, []int{500, 200}, 131000, ""},
		{"429 before 500", whatsapp.Faults{Status429: 1, Status500: 1}, []int{429, 500, 200}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEmulator(t, nil)
			srv := serve(t, e)
			if err := e.SetFaults(tt.faults); err != nil {
				t.Fatal(err)
			}
			for i, want := range tt.wantStatus {
				status, h, out := graph(t, srv, accessToken, textSend)
				if status != want {
					t.Fatalf("call %d: status %d, want %d (%v)", i, status, want, out)
				}
				if i == 0 && tt.wantCode != 0 {
					if got := errorCode(t, out); got != tt.wantCode {
						t.Errorf("code = %d, want %d", got, tt.wantCode)
					}
					if ra := h.Get("Retry-After"); ra != tt.retryAfter {
						t.Errorf("Retry-After = %q, want %q", ra, tt.retryAfter)
					}
				}
			}
			if n := len(e.Sent()); n != 1 {
				t.Errorf("%d sends recorded, want only the accepted one", n)
			}
		})
	}
}

func TestGraphTimeoutAndLatency(t *testing.T) {
	e := newEmulator(t, nil)
	srv := serve(t, e)
	call := func(timeout time.Duration) (int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost,
			srv.URL+"/emulator/whatsapp/graph/v24.0/"+whatsapp.DefaultPhoneNumberID+"/messages", strings.NewReader(textSend))
		req.Header.Set("Authorization", "Bearer "+accessToken)
		resp, err := srv.Client().Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	t.Run("timeout hangs until the caller gives up, unprocessed", func(t *testing.T) {
		_ = e.SetFaults(whatsapp.Faults{Timeout: 1})
		if _, err := call(50 * time.Millisecond); err == nil {
			t.Fatal("call under Timeout fault returned")
		}
		if status, err := call(time.Second); err != nil || status != 200 {
			t.Fatalf("next call: %d %v", status, err)
		}
		if n := len(e.Sent()); n != 1 {
			t.Errorf("%d sends recorded, want 1", n)
		}
	})
	t.Run("accept then timeout records the send; the resend is counted", func(t *testing.T) {
		e.Reset()
		_ = e.SetFaults(whatsapp.Faults{AcceptThenTimeout: 1})
		body := strings.Replace(textSend, `"type"`, `"biz_opaque_callback_data":"outbox-7","type"`, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost,
			srv.URL+"/emulator/whatsapp/graph/v24.0/"+whatsapp.DefaultPhoneNumberID+"/messages", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+accessToken)
		if _, err := srv.Client().Do(req); err == nil {
			t.Fatal("call under AcceptThenTimeout returned")
		}
		if status, _, _ := graph(t, srv, accessToken, body); status != 200 {
			t.Fatalf("resend status %d", status)
		}
		if len(e.Sent()) != 2 || e.Resends() != 1 {
			t.Errorf("sent %d, resends %d; want 2 and 1", len(e.Sent()), e.Resends())
		}
	})
	t.Run("latency delays every call", func(t *testing.T) {
		_ = e.SetFaults(whatsapp.Faults{Latency: 60 * time.Millisecond})
		start := time.Now()
		if status, err := call(time.Second); err != nil || status != 200 {
			t.Fatalf("%d %v", status, err)
		}
		if d := time.Since(start); d < 60*time.Millisecond {
			t.Errorf("call took %v, want at least 60ms", d)
		}
	})
}

func TestAutoStatuses(t *testing.T) {
	g := newGateway(t)
	e := newEmulator(t, g, func(c *whatsapp.Config) { c.AutoStatuses = true })
	srv := serve(t, e)
	body := `{"messaging_product":"whatsapp","to":"16505551234","text":{"body":"x"},"biz_opaque_callback_data":"outbox-9"}`
	_, _, out := graph(t, srv, accessToken, body)
	id := out["messages"].([]any)[0].(map[string]any)["id"].(string)
	waitIdle(t, e)
	seen := map[string]bool{}
	for _, b := range g.accepted() {
		w := parse(t, b)
		v := w.Entry[0].Changes[0].Value
		if len(v.Messages) != 0 || len(v.Statuses) != 1 || w.Entry[0].Changes[0].Field != "messages" {
			t.Fatalf("status body = %s", b)
		}
		s := v.Statuses[0]
		if s.ID != id || s.RecipientID != "16505551234" || s.BizOpaqueCallbackData != "outbox-9" || s.Timestamp == "" {
			t.Errorf("status = %+v", s)
		}
		seen[s.Status] = true
	}
	if len(seen) != 3 || !seen["sent"] || !seen["delivered"] || !seen["read"] {
		t.Errorf("statuses = %v", seen)
	}
	// A manual failure status carries its error (whatsapp.md §1.5).
	if err := e.SendStatus(context.Background(), whatsapp.StatusUpdate{MessageID: id, Status: "failed",
		Error: &whatsapp.StatusError{Code: 131049, Title: "not delivered"}}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, e)
	b := g.accepted()
	s := parse(t, b[len(b)-1]).Entry[0].Changes[0].Value.Statuses[0]
	if s.Status != "failed" || len(s.Errors) != 1 || s.Errors[0].Code != 131049 || s.RecipientID != "16505551234" {
		t.Errorf("failed status = %+v", s)
	}
	if err := e.SendStatus(context.Background(), whatsapp.StatusUpdate{MessageID: "wamid.unknown", Status: "read"}); err == nil {
		t.Error("status for an unknown message without recipient accepted")
	}
}

func TestHistoryIsCapped(t *testing.T) {
	g := newGateway(t)
	e := newEmulator(t, g, func(c *whatsapp.Config) { c.HistoryLimit = 5 })
	srv := serve(t, e)
	for i := range 8 {
		body := fmt.Sprintf(`{"messaging_product":"whatsapp","to":"15551234","text":{"body":"%d"},"biz_opaque_callback_data":"k%d"}`, i, i)
		graph(t, srv, accessToken, body)
		_, _ = e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{From: "1", Text: "x"})
	}
	waitIdle(t, e)
	sent := e.Sent()
	if len(sent) != 5 || sent[0].Text != "3" || sent[4].Text != "7" {
		t.Errorf("sent = %d entries from %q", len(sent), sent[0].Text)
	}
	if len(e.Deliveries()) != 5 {
		t.Errorf("deliveries = %d", len(e.Deliveries()))
	}
	if s := e.Stats(); s.Sent != 8 || s.Delivered != 8 {
		t.Errorf("running totals are not capped: %+v", s)
	}
	// The resend memory is capped too: k0 was forgotten, k7 was not.
	graph(t, srv, accessToken, `{"messaging_product":"whatsapp","to":"15551234","text":{"body":"x"},"biz_opaque_callback_data":"k0"}`)
	graph(t, srv, accessToken, `{"messaging_product":"whatsapp","to":"15551234","text":{"body":"x"},"biz_opaque_callback_data":"k7"}`)
	if e.Resends() != 1 {
		t.Errorf("Resends = %d, want 1", e.Resends())
	}
}

func TestConcurrentUse(t *testing.T) {
	g := newGateway(t)
	e := newEmulator(t, g, func(c *whatsapp.Config) { c.AutoStatuses = true })
	srv := serve(t, e)
	_ = e.SetFaults(whatsapp.Faults{DuplicateRate: 0.1, Concurrency: 16})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				body := fmt.Sprintf(`{"messaging_product":"whatsapp","to":"1555000%d","text":{"body":"x"},"biz_opaque_callback_data":"w%d-%d"}`, w, w, i)
				if status, _, out := graph(t, srv, accessToken, body); status != 200 {
					t.Errorf("%d %v", status, out)
				}
				if _, err := e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{From: fmt.Sprint(1000 + w), Text: "y"}); err != nil {
					t.Error(err)
				}
				_ = e.Stats()
				_ = e.Sent()
			}
		}()
	}
	wg.Wait()
	waitIdle(t, e)
	s := e.Stats()
	if s.Sent != 400 || s.CustomerMessages != 400 || s.Resends != 0 || s.Failed != 0 {
		t.Errorf("stats = %+v", s)
	}
	// 400 customer messages + 3 statuses per send, plus duplicates.
	if s.Delivered < 1600 {
		t.Errorf("delivered %d, want at least 1600", s.Delivered)
	}
	if g.badSigs != 0 {
		t.Errorf("%d bad signatures", g.badSigs)
	}
	_ = json.Valid
}
