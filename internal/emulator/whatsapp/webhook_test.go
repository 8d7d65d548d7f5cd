package whatsapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/emulator/whatsapp"
	"github.com/secureflow/secureflow/internal/hubsig"
)

func TestCustomerTextMessageEnvelope(t *testing.T) {
	g := newGateway(t)
	now := time.Unix(1749416383, 0)
	e := newEmulator(t, g, func(c *whatsapp.Config) { c.Now = func() time.Time { return now } })
	id, err := e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{
		From: "16505551234", Name: "Sheena Nelson", Text: "Does it come in another color?",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "wamid.") {
		t.Errorf("id = %q, want a wamid. prefix", id)
	}
	waitIdle(t, e)
	bodies := g.accepted()
	if len(bodies) != 1 {
		t.Fatalf("gateway accepted %d bodies, want 1", len(bodies))
	}
	if ct := g.headers[0].Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	sig := g.headers[0].Get(hubsig.Header)
	// whatsapp.md §1.6: "sha256=" + 64 lowercase hex characters, 71 in all.
	if len(sig) != 71 || sig != strings.ToLower(sig) {
		t.Errorf("signature header %q is not sha256=<lowercase hex>", sig)
	}
	w := parse(t, bodies[0])
	if w.Object != "whatsapp_business_account" || len(w.Entry) != 1 || w.Entry[0].ID != whatsapp.DefaultWABAID {
		t.Fatalf("envelope = %+v", w)
	}
	ch := w.Entry[0].Changes
	if len(ch) != 1 || ch[0].Field != "messages" {
		t.Fatalf("changes = %+v", ch)
	}
	v := ch[0].Value
	if v.MessagingProduct != "whatsapp" || v.Metadata.PhoneNumberID != whatsapp.DefaultPhoneNumberID ||
		v.Metadata.DisplayPhoneNumber != whatsapp.DefaultDisplayPhoneNumber {
		t.Errorf("value header = %+v", v)
	}
	if len(v.Contacts) != 1 || v.Contacts[0].WaID != "16505551234" || v.Contacts[0].Profile.Name != "Sheena Nelson" {
		t.Errorf("contacts = %+v", v.Contacts)
	}
	if len(v.Messages) != 1 {
		t.Fatalf("messages = %+v", v.Messages)
	}
	m := v.Messages[0]
	if m.From != "16505551234" || m.ID != id || m.Type != "text" || m.Text == nil ||
		m.Text.Body != "Does it come in another color?" || m.Context != nil {
		t.Errorf("message = %+v", m)
	}
	// whatsapp.md §1.2: timestamp is Unix seconds as a string.
	if !bytes.Contains(bodies[0], []byte(`"timestamp":"1749416383"`)) {
		t.Errorf("timestamp is not a string of Unix seconds: %s", bodies[0])
	}
	if got := e.Deliveries(); len(got) != 1 || got[0].StatusCode != 200 || got[0].Outcome != "delivered" ||
		got[0].Kind != "messages" || got[0].MessageIDs[0] != id {
		t.Errorf("deliveries = %+v", got)
	}
}

func TestCustomerRepliesCarryContext(t *testing.T) {
	g := newGateway(t)
	e := newEmulator(t, g)
	srv := serve(t, e)
	status, _, out := graph(t, srv, accessToken, `{"messaging_product":"whatsapp","to":"16505551234","type":"interactive",
		"interactive":{"type":"button","body":{"text":"Reschedule?"},"action":{"buttons":[
		{"type":"reply","reply":{"id":"change-button","title":"Change"}},
		{"type":"reply","reply":{"id":"cancel-button","title":"Cancel"}}]}}}`)
	if status != 200 {
		t.Fatalf("send: %d %v", status, out)
	}
	buttonsID := out["messages"].([]any)[0].(map[string]any)["id"].(string)

	tests := []struct {
		name    string
		msg     whatsapp.CustomerMessage
		typ     string
		context string
	}{
		{"button defaults to last interactive", whatsapp.CustomerMessage{From: "16505551234", Name: "S",
			ButtonReply: &whatsapp.Reply{ID: "cancel-button", Title: "Cancel", Description: "dropped"}}, "button_reply", buttonsID},
		{"list with explicit context", whatsapp.CustomerMessage{From: "16505551234", Name: "S", ContextID: "wamid.X",
			ListReply: &whatsapp.Reply{ID: "priority_express", Title: "Priority Mail Express", Description: "Next Day to 2 Days"}}, "list_reply", "wamid.X"},
		{"other customer has no context", whatsapp.CustomerMessage{From: "447700900123", Name: "T",
			ButtonReply: &whatsapp.Reply{ID: "a", Title: "A"}}, "button_reply", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(g.accepted())
			if _, err := e.SendCustomerMessage(context.Background(), tt.msg); err != nil {
				t.Fatal(err)
			}
			waitIdle(t, e)
			m := parse(t, g.accepted()[before]).Entry[0].Changes[0].Value.Messages[0]
			if m.Type != "interactive" || m.Interactive == nil || m.Interactive.Type != tt.typ {
				t.Fatalf("message = %+v", m)
			}
			switch tt.typ {
			case "button_reply":
				if m.Interactive.ButtonReply == nil || m.Interactive.ButtonReply.ID != tt.msg.ButtonReply.ID ||
					m.Interactive.ButtonReply.Description != "" {
					t.Errorf("button_reply = %+v", m.Interactive.ButtonReply)
				}
			case "list_reply":
				if *m.Interactive.ListReply != *tt.msg.ListReply {
					t.Errorf("list_reply = %+v", m.Interactive.ListReply)
				}
			}
			switch {
			case tt.context == "" && m.Context != nil:
				t.Errorf("unexpected context %+v", m.Context)
			case tt.context != "" && (m.Context == nil || m.Context.ID != tt.context || m.Context.From != whatsapp.DefaultDisplayPhoneNumber):
				t.Errorf("context = %+v, want id %s", m.Context, tt.context)
			}
		})
	}
}

func TestSendBatchOneDelivery(t *testing.T) {
	g := newGateway(t)
	e := newEmulator(t, g)
	ids, err := e.SendBatch(context.Background(), []whatsapp.CustomerMessage{
		{From: "111111", Name: "A", Text: "a1"},
		{From: "222222", Name: "B", Text: "b1"},
		{From: "111111", Name: "A", Text: "a2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitIdle(t, e)
	bodies := g.accepted()
	if len(bodies) != 1 {
		t.Fatalf("%d deliveries, want 1", len(bodies))
	}
	w := parse(t, bodies[0])
	ch := w.Entry[0].Changes
	if len(ch) != 2 || ch[0].Value.Contacts[0].WaID != "111111" || ch[1].Value.Contacts[0].WaID != "222222" {
		t.Fatalf("want one change per customer, got %+v", ch)
	}
	if got := messageIDs(t, bodies[0]); len(got) != 3 || got[0] != ids[0] || got[1] != ids[2] || got[2] != ids[1] {
		t.Errorf("ids in body %v, returned %v", got, ids)
	}
}

func TestCustomerMessageValidation(t *testing.T) {
	e := newEmulator(t, nil)
	for name, m := range map[string]whatsapp.CustomerMessage{
		"no from":        {Text: "x"},
		"from not wa_id": {From: "+1 650", Text: "x"},
		"no content":     {From: "1"},
		"two contents":   {From: "1", Text: "x", ButtonReply: &whatsapp.Reply{ID: "a", Title: "A"}},
		"reply no id":    {From: "1", ListReply: &whatsapp.Reply{Title: "A"}},
	} {
		if _, err := e.SendCustomerMessage(context.Background(), m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// whatsapp.md §1.6: Meta signs an escaped-unicode body; a receiver that
// re-serializes before checking the HMAC breaks exactly on such characters.
func TestNonASCIIIsEscapedAndSigned(t *testing.T) {
	g := newGateway(t)
	e := newEmulator(t, g)
	text := "äöå 😀 <b>&</b> \"q\""
	if _, err := e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{From: "1555", Name: "Zoë", Text: text}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, e)
	body := g.accepted()[0]
	for _, want := range []string{`\u00e4\u00f6\u00e5`, `\ud83d\ude00`, `Zo\u00eb`, `<b>&</b>`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("body lacks %s: %s", want, body)
		}
	}
	for _, b := range body {
		if b >= 0x80 {
			t.Fatalf("body has a raw non-ASCII byte: %s", body)
		}
	}
	if got := parse(t, body).Entry[0].Changes[0].Value.Messages[0].Text.Body; got != text {
		t.Errorf("decoded text = %q, want %q", got, text)
	}
	var v any
	_ = json.Unmarshal(body, &v)
	reencoded, _ := json.Marshal(v)
	if hubsig.Verify(hubsig.Hex, g.headers[0].Get(hubsig.Header), reencoded, []byte(appSecret)) == nil {
		t.Error("a re-serialized body still verifies; the escaping would not catch the bug")
	}
}

func TestRetriesThenDelivered(t *testing.T) {
	g := newGateway(t)
	g.answer = func(n int) int {
		if n <= 2 {
			return 503
		}
		return 200
	}
	e := newEmulator(t, g)
	id, _ := e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{From: "1", Text: "x"})
	waitIdle(t, e)
	ds := e.Deliveries()
	want := []struct {
		attempt, status int
		outcome         string
	}{{1, 503, "retrying"}, {2, 503, "retrying"}, {3, 200, "delivered"}}
	if len(ds) != len(want) {
		t.Fatalf("deliveries = %+v", ds)
	}
	for i, w := range want {
		if ds[i].Attempt != w.attempt || ds[i].StatusCode != w.status || ds[i].Outcome != w.outcome || ds[i].MessageIDs[0] != id {
			t.Errorf("attempt %d = %+v, want %+v", i, ds[i], w)
		}
	}
	if s := e.Stats(); s.Delivered != 1 || s.Failed != 0 || s.Attempts != 3 {
		t.Errorf("stats = %+v", s)
	}
}

func TestRetriesGiveUp(t *testing.T) {
	tests := []struct {
		name     string
		schedule []time.Duration
		url      string
		attempts int
	}{
		{"non-200 retried per schedule", []time.Duration{time.Millisecond, time.Millisecond}, "", 3},
		{"empty schedule means no retry", []time.Duration{}, "", 1},
		{"network error retried", []time.Duration{time.Millisecond}, "http://127.0.0.1:1/webhooks/whatsapp", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t)
			g.answer = func(int) int { return 500 }
			e := newEmulator(t, g, func(c *whatsapp.Config) {
				c.RetrySchedule = tt.schedule
				if tt.url != "" {
					c.WebhookURL = tt.url
				}
			})
			_, _ = e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{From: "1", Text: "x"})
			waitIdle(t, e)
			ds := e.Deliveries()
			if len(ds) != tt.attempts || ds[len(ds)-1].Outcome != "failed" {
				t.Fatalf("deliveries = %+v", ds)
			}
			if tt.url != "" && (ds[0].StatusCode != 0 || ds[0].Error == "") {
				t.Errorf("network error not recorded: %+v", ds[0])
			}
			if s := e.Stats(); s.Failed != 1 || s.Delivered != 0 {
				t.Errorf("stats = %+v", s)
			}
		})
	}
}

func TestNoWebhookURLThenSet(t *testing.T) {
	g := newGateway(t)
	e := newEmulator(t, nil)
	_, _ = e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{From: "1", Text: "lost"})
	waitIdle(t, e)
	if ds := e.Deliveries(); len(ds) != 1 || ds[0].Outcome != "failed" {
		t.Fatalf("deliveries = %+v", ds)
	}
	e.SetWebhookURL(g.url())
	_, _ = e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{From: "1", Text: "found"})
	waitIdle(t, e)
	if len(g.accepted()) != 1 {
		t.Fatal("delivery after SetWebhookURL did not arrive")
	}
}

func TestDuplicateDeliveries(t *testing.T) {
	g := newGateway(t)
	e := newEmulator(t, g)
	if err := e.SetFaults(whatsapp.Faults{DuplicateRate: 1}); err != nil {
		t.Fatal(err)
	}
	_, _ = e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{From: "1", Text: "twice"})
	waitIdle(t, e)
	b := g.accepted()
	if len(b) != 2 || !bytes.Equal(b[0], b[1]) || g.headers[0].Get(hubsig.Header) != g.headers[1].Get(hubsig.Header) {
		t.Fatalf("want the same signed body twice, got %d bodies", len(b))
	}
	ds := e.Deliveries()
	if len(ds) != 2 || ds[0].ID != ds[1].ID || ds[0].Duplicate == ds[1].Duplicate {
		t.Errorf("deliveries = %+v", ds)
	}
}

// Fault randomness is seeded: the same seed and call sequence duplicate the
// same deliveries.
func TestDuplicatesDeterministic(t *testing.T) {
	pattern := func(seed uint64) string {
		g := newGateway(t)
		e := newEmulator(t, g)
		_ = e.SetFaults(whatsapp.Faults{DuplicateRate: 0.5, Seed: seed, Concurrency: 1})
		var ids []string
		for i := range 40 {
			id, _ := e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{From: "1", Text: strconv.Itoa(i)})
			ids = append(ids, id)
		}
		waitIdle(t, e)
		counts := map[string]int{}
		for _, b := range g.accepted() {
			counts[messageIDs(t, b)[0]]++
		}
		var s strings.Builder
		for _, id := range ids {
			s.WriteString(strconv.Itoa(counts[id]))
		}
		return s.String()
	}
	a, b, c := pattern(7), pattern(7), pattern(8)
	if a != b {
		t.Errorf("same seed, different duplicates:\n%s\n%s", a, b)
	}
	if !strings.Contains(a, "2") || !strings.Contains(a, "1") {
		t.Errorf("rate 0.5 duplicated all or nothing: %s", a)
	}
	if a == c {
		t.Logf("seeds 7 and 8 gave the same pattern (possible but unlikely): %s", a)
	}
}

func TestReorder(t *testing.T) {
	g := newGateway(t)
	e := newEmulator(t, g)
	if err := e.SetFaults(whatsapp.Faults{Reorder: 3, Concurrency: 1}); err != nil {
		t.Fatal(err)
	}
	var sent []string
	for i := range 6 {
		id, err := e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{From: "1", Text: strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, id)
	}
	waitIdle(t, e)
	var got []string
	for _, b := range g.accepted() {
		got = append(got, messageIDs(t, b)[0])
	}
	want := []string{sent[2], sent[1], sent[0], sent[5], sent[4], sent[3]}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("order = %v, want %v", got, want)
	}
}

func TestReorderIncompleteGroup(t *testing.T) {
	t.Run("window releases it", func(t *testing.T) {
		g := newGateway(t)
		e := newEmulator(t, g)
		_ = e.SetFaults(whatsapp.Faults{Reorder: 5, ReorderWindow: 20 * time.Millisecond, Concurrency: 1})
		a, _ := e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{From: "1", Text: "a"})
		b, _ := e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{From: "1", Text: "b"})
		waitIdle(t, e)
		got := g.accepted()
		if len(got) != 2 || messageIDs(t, got[0])[0] != b || messageIDs(t, got[1])[0] != a {
			t.Errorf("want b then a, got %d bodies", len(got))
		}
	})
	t.Run("changing faults releases it", func(t *testing.T) {
		g := newGateway(t)
		e := newEmulator(t, g)
		_ = e.SetFaults(whatsapp.Faults{Reorder: 5, Concurrency: 1})
		_, _ = e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{From: "1", Text: "a"})
		time.Sleep(20 * time.Millisecond)
		if len(g.accepted()) != 0 || e.Stats().Pending != 1 {
			t.Fatalf("held delivery went out early: %+v", e.Stats())
		}
		_ = e.SetFaults(whatsapp.Faults{})
		waitIdle(t, e)
		if len(g.accepted()) != 1 {
			t.Error("held delivery not released")
		}
	})
}

func TestDeliveryConcurrency(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			g := newGateway(t)
			g.block = make(chan struct{})
			e := newEmulator(t, g)
			_ = e.SetFaults(whatsapp.Faults{Concurrency: n})
			for i := range 10 {
				_, _ = e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{From: "1", Text: strconv.Itoa(i)})
			}
			deadline := time.Now().Add(2 * time.Second)
			for {
				g.mu.Lock()
				in := g.inFlight
				g.mu.Unlock()
				if in == n || time.Now().After(deadline) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond)
			close(g.block)
			waitIdle(t, e)
			if g.maxInFlight != n {
				t.Errorf("max in flight = %d, want %d", g.maxInFlight, n)
			}
			if len(g.accepted()) != 10 {
				t.Errorf("accepted %d", len(g.accepted()))
			}
		})
	}
}

func TestHandshake(t *testing.T) {
	tests := []struct {
		name    string
		token   string
		echo    func(string) string
		wantErr bool
	}{
		{"echoed verbatim", verifyToken, nil, false},
		{"wrong verify token", "nope", nil, true},
		{"challenge wrapped in JSON", verifyToken, func(c string) string { return `{"challenge":"` + c + `"}` }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t)
			g.echo = tt.echo
			e := newEmulator(t, g, func(c *whatsapp.Config) { c.VerifyToken = tt.token })
			err := e.Handshake(context.Background(), "1158201444")
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if g.requests != 0 {
				t.Error("handshake was a POST")
			}
		})
	}
	e := newEmulator(t, nil)
	if err := e.Handshake(context.Background(), ""); err == nil {
		t.Error("handshake without a webhook URL succeeded")
	}
}

func TestCloseStopsEverything(t *testing.T) {
	g := newGateway(t)
	g.block = make(chan struct{})
	defer close(g.block)
	e := newEmulator(t, g)
	_, _ = e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{From: "1", Text: "x"})
	_ = e.SetFaults(whatsapp.Faults{Timeout: 1})
	srv := serve(t, e)
	done := make(chan int)
	go func() {
		status, _, _ := graph(t, srv, accessToken, textSend)
		done <- status
	}()
	time.Sleep(20 * time.Millisecond)
	closed := make(chan struct{})
	go func() { _ = e.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while a delivery was in flight")
	}
	if status := <-done; status != 503 {
		t.Errorf("hung call answered %d on close, want 503", status)
	}
	if _, err := e.SendCustomerMessage(context.Background(), whatsapp.CustomerMessage{From: "1", Text: "x"}); !errors.Is(err, whatsapp.ErrClosed) {
		t.Errorf("send after close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	for name, cfg := range map[string]whatsapp.Config{
		"no secret":      {AccessToken: "t"},
		"no token":       {AppSecret: []byte("s")},
		"negative retry": {AppSecret: []byte("s"), AccessToken: "t", RetrySchedule: []time.Duration{-1}},
	} {
		if _, err := whatsapp.New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

func TestQueueFullRespectsContext(t *testing.T) {
	g := newGateway(t)
	g.block = make(chan struct{})
	defer close(g.block)
	e := newEmulator(t, g, func(c *whatsapp.Config) { c.QueueSize = 1 })
	_ = e.SetFaults(whatsapp.Faults{Concurrency: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var err error
	for i := 0; i < 5 && err == nil; i++ {
		_, err = e.SendCustomerMessage(ctx, whatsapp.CustomerMessage{From: "1", Text: "x"})
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded once the queue is full", err)
	}
}
