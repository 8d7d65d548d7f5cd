package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/config"
	gcemu "github.com/secureflow/secureflow/internal/emulator/genesys"
	waemu "github.com/secureflow/secureflow/internal/emulator/whatsapp"
	"github.com/secureflow/secureflow/internal/hubsig"
)

// testLogger writes the gateway's logs into a buffer the test can search.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startStack runs a gateway with both emulators on a random port.
func startStack(t *testing.T, o stackOptions) (*stack, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.PollInterval == 0 {
		o.PollInterval = 10 * time.Millisecond
	}
	tune := o.Tune
	o.Tune = func(c *config.Config) {
		c.Relay.RetryInitial = 20 * time.Millisecond
		c.Relay.RetryMax = 500 * time.Millisecond
		if tune != nil {
			tune(c)
		}
	}
	waTune := o.WA
	o.WA = func(c *waemu.Config) {
		c.RetrySchedule = []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, time.Second}
		if waTune != nil {
			waTune(c)
		}
	}
	gcTune := o.GC
	o.GC = func(c *gcemu.Config) {
		c.RetryDelay = 50 * time.Millisecond
		if gcTune != nil {
			gcTune(c)
		}
	}
	s, err := newStack(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return s, logs
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// receivedTexts returns, per customer id, the texts the contact centre
// received, in order.
func receivedTexts(gc *gcemu.Emulator) map[string][]string {
	out := map[string][]string{}
	for _, m := range gc.Received() {
		out[m.FromID] = append(out[m.FromID], m.Text)
	}
	return out
}

func sentTexts(wa *waemu.Emulator) map[string][]string {
	out := map[string][]string{}
	for _, m := range wa.Sent() {
		if m.Text != "" {
			out[m.To] = append(out[m.To], m.Text)
		}
	}
	return out
}

// TestEndToEnd200Conversations drives 200 concurrent conversations both
// ways through both emulators and checks every message arrives once, in
// order, on the other side.
func TestEndToEnd200Conversations(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s, _ := startStack(t, stackOptions{
		// The emulator delivers webhooks concurrently, like Meta; the
		// reorder window puts each conversation back in timestamp order.
		Tune: func(c *config.Config) { c.Relay.ReorderWindow = time.Second },
	})
	const convs, perCustomer, perAgent = 200, 6, 4
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	ctx := context.Background()
	var wg sync.WaitGroup
	for c := range convs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := fmt.Sprintf("55119%06d", c)
			for i := range perCustomer {
				_, err := s.WA.SendCustomerMessage(ctx, waemu.CustomerMessage{From: from, Name: "Customer " + from,
					Text: fmt.Sprintf("customer %s message %d", label(from), i), Timestamp: base.Add(time.Duration(i) * time.Second)})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, "all customer messages at the contact centre", 60*time.Second, func() bool {
		return len(s.GC.Received()) >= convs*perCustomer
	})
	got := receivedTexts(s.GC)
	for c := range convs {
		from := fmt.Sprintf("55119%06d", c)
		if len(got[from]) != perCustomer {
			t.Fatalf("%s: contact centre received %d messages, want %d", from, len(got[from]), perCustomer)
		}
		for i, txt := range got[from] {
			if want := fmt.Sprintf("customer %s message %d", label(from), i); txt != want {
				t.Fatalf("%s: message %d is %q, want %q: order broken", from, i, txt, want)
			}
		}
	}
	// Agents answer in every conversation.
	for c := range convs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := fmt.Sprintf("55119%06d", c)
			conv, ok := s.GC.ConversationFor(from)
			if !ok {
				t.Errorf("no Genesys conversation for %s", from)
				return
			}
			for i := range perAgent {
				if _, err := s.GC.SendAgentMessage(ctx, conv, fmt.Sprintf("agent to %s reply %d", label(from), i)); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(3 * time.Millisecond) // distinct millisecond timestamps
			}
		}()
	}
	wg.Wait()
	waitFor(t, "all agent messages at the customers", 60*time.Second, func() bool {
		n := 0
		for _, v := range sentTexts(s.WA) {
			n += len(v)
		}
		return n >= convs*perAgent
	})
	sent := sentTexts(s.WA)
	for c := range convs {
		from := fmt.Sprintf("55119%06d", c)
		if len(sent[from]) != perAgent {
			t.Fatalf("%s: customer got %d agent messages, want %d", from, len(sent[from]), perAgent)
		}
		for i, txt := range sent[from] {
			if want := fmt.Sprintf("agent to %s reply %d", label(from), i); txt != want {
				t.Fatalf("%s: agent message %d is %q, want %q", from, i, txt, want)
			}
		}
	}
	t.Logf("resends seen by the emulators: genesys %d, whatsapp %d", s.GC.Resends(), s.WA.Resends())
}

// TestBadSignatureStoresNothing posts unsigned and wrongly signed webhooks
// to both endpoints.
func TestBadSignatureStoresNothing(t *testing.T) {
	s, _ := startStack(t, stackOptions{})
	body := webhookBody("5511999999999", "wamid.forged000001", time.Now().Unix())
	gbody := []byte(`{"id":"g1","channel":{"id":"i","platform":"Open","type":"Private","messageId":"g1","to":{"id":"5511999999999","idType":"Opaque"},"time":"2026-11-23T10:00:00.000Z"},"type":"Text","text":"forged","direction":"Outbound","originatingEntity":"Human","conversationId":"c"}`)
	tests := []struct {
		name, path, sig string
		body            []byte
	}{
		{"whatsapp unsigned", "/webhooks/whatsapp", "", body},
		{"whatsapp wrong secret", "/webhooks/whatsapp", hubsig.Sign(hubsig.Hex, []byte("not-the-app-secret"), body), body},
		{"whatsapp right secret wrong encoding", "/webhooks/whatsapp", hubsig.Sign(hubsig.Base64, s.appSecret, body), body},
		{"genesys unsigned", "/webhooks/genesys", "", gbody},
		{"genesys wrong secret", "/webhooks/genesys", hubsig.Sign(hubsig.Base64, []byte("not-the-secret-at-all"), gbody), gbody},
		{"genesys signed with the whatsapp secret", "/webhooks/genesys", hubsig.Sign(hubsig.Base64, s.appSecret, gbody), gbody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, s.URL()+tt.path, strings.NewReader(string(tt.body)))
			if tt.sig != "" {
				req.Header.Set(hubsig.Header, tt.sig)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", resp.StatusCode)
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	st, err := s.Store().Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.InboxPending+st.InboxDone+st.OutboxPending+st.OutboxDelivered != 0 {
		t.Fatalf("forged webhooks left rows behind: %+v", st)
	}
	if n := len(s.GC.Received()); n != 0 {
		t.Fatalf("contact centre received %d forged messages", n)
	}
	if n := len(s.WA.Sent()); n != 0 {
		t.Fatalf("customer received %d forged messages", n)
	}
}

// TestDuplicateAndReorderedDeliveries makes the WhatsApp emulator deliver
// every webhook twice and in reversed groups.
func TestDuplicateAndReorderedDeliveries(t *testing.T) {
	s, _ := startStack(t, stackOptions{Tune: func(c *config.Config) { c.Relay.ReorderWindow = 700 * time.Millisecond }})
	if err := s.WA.SetFaults(waemu.Faults{DuplicateRate: 1, Reorder: 4}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	const n = 12
	for i := range n {
		for _, from := range []string{"5511000000001", "5511000000002"} {
			if _, err := s.WA.SendCustomerMessage(ctx, waemu.CustomerMessage{From: from, Text: fmt.Sprintf("%s #%02d", label(from), i),
				Timestamp: base.Add(time.Duration(i) * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "messages forwarded", 30*time.Second, func() bool { return len(s.GC.Received()) >= 2*n })
	time.Sleep(500 * time.Millisecond) // let any duplicate through, if one were to come
	got := receivedTexts(s.GC)
	for _, from := range []string{"5511000000001", "5511000000002"} {
		if len(got[from]) != n {
			t.Fatalf("%s: %d messages forwarded, want %d (each exactly once)", from, len(got[from]), n)
		}
		for i, txt := range got[from] {
			if want := fmt.Sprintf("%s #%02d", label(from), i); txt != want {
				t.Fatalf("%s: position %d has %q, want %q", from, i, txt, want)
			}
		}
	}
	dups := 0
	for _, d := range s.WA.Deliveries() {
		if d.Duplicate {
			dups++
		}
	}
	if dups == 0 {
		t.Fatal("the emulator delivered no duplicate: the test exercised nothing")
	}
}

// TestContactCenterFailingLosesNothing makes Genesys answer 429 and 500 for
// a while.
func TestContactCenterFailingLosesNothing(t *testing.T) {
	s, logs := startStack(t, stackOptions{Tune: func(c *config.Config) { c.Relay.ReorderWindow = time.Second }})
	if err := s.GC.SetFaults(gcemu.Faults{Status429: 15, RetryAfter: 1, Status500: 15}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	const n = 10
	for i := range n {
		for _, from := range []string{"5521000000001", "5521000000002", "5521000000003"} {
			if _, err := s.WA.SendCustomerMessage(ctx, waemu.CustomerMessage{From: from, Text: fmt.Sprintf("%s #%02d", label(from), i),
				Timestamp: base.Add(time.Duration(i) * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "messages forwarded despite failures", 60*time.Second, func() bool { return len(s.GC.Received()) >= 3*n })
	got := receivedTexts(s.GC)
	for from, texts := range got {
		for i, txt := range texts {
			if want := fmt.Sprintf("%s #%02d", label(from), i); txt != want {
				t.Fatalf("%s: position %d has %q, want %q", from, i, txt, want)
			}
		}
	}
	if !strings.Contains(logs.String(), "delivery failed, will retry") {
		t.Fatal("no retry was logged: the faults were not exercised")
	}
	dl, err := s.Store().DeadLetters(ctx, 10)
	if err != nil || len(dl) != 0 {
		t.Fatalf("dead letters = %v, %v; transient failures must not dead-letter", dl, err)
	}
}

// TestPermanentRejectionDeadLetters makes WhatsApp reject a send with a
// 4xx that will never succeed: reply buttons whose titles exceed the 20
// characters Meta allows (whatsapp.md §2.2).
func TestPermanentRejectionDeadLetters(t *testing.T) {
	s, logs := startStack(t, stackOptions{})
	ctx := context.Background()
	from := "5531000000001"
	post := func(id, body string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/webhooks/genesys", strings.NewReader(body))
		req.Header.Set(hubsig.Header, hubsig.Sign(hubsig.Base64, s.genesysSecret, []byte(body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("webhook %s: %d", id, resp.StatusCode)
		}
	}
	msg := func(id, text, content string) string {
		return `{"id":"` + id + `","channel":{"id":"` + demoIntegration + `","platform":"Open","type":"Private","messageId":"` + id +
			`","to":{"id":"` + from + `","idType":"Opaque"},"from":{"nickname":"n","id":"` + demoIntegration + `","idType":"Opaque"},"time":"` +
			time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + `"},"type":"Structured","text":"` + text +
			`","content":[` + content + `],"direction":"Outbound","originatingEntity":"Bot","conversationId":"conv-dl"}`
	}
	post("g-bad", msg("g-bad", "pick one", `{"contentType":"QuickReply","quickReply":{"text":"This title is far too long for WhatsApp","payload":"a"}}`))
	post("g-good", msg("g-good", "after the rejected one", ""))
	waitFor(t, "the next message delivered", 20*time.Second, func() bool { return len(sentTexts(s.WA)[from]) == 1 })
	if got := sentTexts(s.WA)[from][0]; got != "after the rejected one" {
		t.Fatalf("customer got %q", got)
	}
	dl, err := s.Store().DeadLetters(ctx, 10)
	if err != nil || len(dl) != 1 || dl[0].Destination != "whatsapp" || dl[0].IdempotencyKey != "genesys:g-bad" {
		t.Fatalf("dead letters = %+v, %v", dl, err)
	}
	if strings.Contains(logs.String(), "far too long") || strings.Contains(logs.String(), "pick one") {
		t.Fatal("the dead-letter log line carries content")
	}
	if !strings.Contains(logs.String(), `"idempotency_key":"genesys:g-bad"`) {
		t.Fatal("the dead-letter log line does not name the message")
	}
}

func TestHealthAndMetrics(t *testing.T) {
	s, _ := startStack(t, stackOptions{})
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(s.URL() + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	if err := s.WA.Handshake(context.Background(), "challenge-1158201444"); err != nil {
		t.Fatalf("handshake through the emulator: %v", err)
	}
}

func TestDemoKeepsDataAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	s, _ := startStack(t, stackOptions{DataDir: dir})
	if _, err := s.WA.SendCustomerMessage(context.Background(), waemu.CustomerMessage{From: "5541000000001", Text: "first run"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "forwarded", 10*time.Second, func() bool { return len(s.GC.Received()) == 1 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kek.json")); err != nil {
		t.Fatal(err)
	}
	s2, _ := startStack(t, stackOptions{DataDir: dir})
	st, err := s2.Store().Stats(context.Background())
	if err != nil || st.InboxDone != 1 {
		t.Fatalf("second run sees %+v, %v", st, err)
	}
}

// label names a customer in message text without writing its number: a
// bare 11- or 13-digit number is what a CPF or a card looks like, and the
// detection policy would rightly mask it.
func label(from string) string {
	var b strings.Builder
	b.WriteString("cust-")
	for _, r := range from[len(from)-6:] {
		b.WriteRune('a' + (r - '0'))
	}
	return b.String()
}
