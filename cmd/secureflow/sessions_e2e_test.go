package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/config"
	"github.com/secureflow/secureflow/internal/detect"
	waemu "github.com/secureflow/secureflow/internal/emulator/whatsapp"
	"github.com/secureflow/secureflow/internal/httpapi"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/store"
	"github.com/secureflow/secureflow/internal/store/sqlite"
	"github.com/secureflow/secureflow/internal/vault"
)

// sessionStack starts a gateway running the flows of dirs.
func sessionStack(t *testing.T, dir string, tune func(*config.Config), flows ...string) (*stack, *logBuffer) {
	t.Helper()
	return startStack(t, stackOptions{DataDir: dir, FlowsFromDisk: true, Tune: func(c *config.Config) {
		c.Sessions.Enabled = true
		c.Sessions.Flows = flows
		c.Sessions.Actions = "../../examples/actions.yaml"
		if tune != nil {
			tune(c)
		}
	}})
}

func lastSent(s *stack, to string) string {
	texts := sentTexts(s.WA)[to]
	if len(texts) == 0 {
		return ""
	}
	return texts[len(texts)-1]
}

func joined(texts []string) string { return strings.Join(texts, "\n") }

// TestAgentReferredSessionInChat runs the agent-referred rules end to end:
// the agent's command is intercepted, the customer's entries never reach
// the contact centre, the reserved agent sees masked progress, agent
// messages are held until the session ends, and the customer returns to
// the agent with a sanitized summary.
func TestAgentReferredSessionInChat(t *testing.T) {
	dir := t.TempDir()
	s, logs := sessionStack(t, dir, nil, "testdata/sessions")
	ctx := context.Background()
	from := "5511955550101"
	code := fmt.Sprintf("%06d", 100000+rand.IntN(899999))
	send := func(text string) {
		t.Helper()
		if _, err := s.WA.SendCustomerMessage(ctx, waemu.CustomerMessage{From: from, Name: "Ana", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	send("hello, " + label(from))
	waitFor(t, "the first message at the contact centre", 20*time.Second, func() bool { return len(receivedTexts(s.GC)[from]) == 1 })
	conv, ok := s.GC.ConversationFor(from)
	if !ok {
		t.Fatal("no conversation")
	}
	if _, err := s.GC.SendAgentMessage(ctx, conv, "/secure pin-check account=AC-7"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the prompt", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "6-digit code for account AC-7") })
	waitFor(t, "the agent's acknowledgement", 20*time.Second, func() bool {
		return strings.Contains(joined(receivedTexts(s.GC)[from]), "Secure session started: pin-check")
	})
	if strings.Contains(joined(sentTexts(s.WA)[from]), "/secure") {
		t.Fatal("the agent's command reached the customer")
	}

	send("12") // not a 6-digit code: asked again, nothing forwarded
	waitFor(t, "the reprompt", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "try again") })
	if _, err := s.GC.SendAgentMessage(ctx, conv, "take your time"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hold notice", 20*time.Second, func() bool {
		return strings.Contains(joined(receivedTexts(s.GC)[from]), "will be delivered when it ends")
	})
	send(code)
	waitFor(t, "the confirmation", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "Use the code") })
	waitFor(t, "the masked progress", 20*time.Second, func() bool {
		return strings.Contains(joined(receivedTexts(s.GC)[from]), "received")
	})
	if strings.Contains(joined(sentTexts(s.WA)[from]), "take your time") {
		t.Fatal("an agent message reached the customer during the session")
	}
	send("yes")
	waitFor(t, "the summary to the agent", 20*time.Second, func() bool {
		return strings.Contains(joined(receivedTexts(s.GC)[from]), "Secure session ended (captured)")
	})
	waitFor(t, "the held message after the session", 20*time.Second, func() bool { return lastSent(s, from) == "take your time" })
	sent := sentTexts(s.WA)[from]
	if i := strings.Index(joined(sent), "back to your agent"); i < 0 || i > strings.Index(joined(sent), "take your time") {
		t.Fatalf("the held message was not delivered after the closing message: %q", sent)
	}

	// After the session, the customer's messages reach the agent again.
	send("thanks " + label(from))
	waitFor(t, "the relay to resume", 20*time.Second, func() bool {
		return strings.Contains(joined(receivedTexts(s.GC)[from]), "thanks "+label(from))
	})
	got := receivedTexts(s.GC)[from]
	for _, text := range got {
		if text == "12" {
			t.Fatal("the customer's invalid entry reached the contact centre")
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	assertAbsent(t, dir, map[string]string{"code": code}, map[string][]byte{
		"contact-centre raw bodies": bytes.Join(s.GC.RawBodies(), []byte("\n")),
		"logs":                      []byte(logs.String()),
	})
}

// assertAbsent fails if a canary is in any sink or any file of dir (the
// databases and their WAL files included).
func assertAbsent(t *testing.T, dir string, canaries map[string]string, sinks map[string][]byte) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	found := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sinks["file "+filepath.Base(f)] = b
		if filepath.Base(f) == "secureflow.db" {
			found = true
		}
	}
	if !found {
		t.Fatal("database file not found: the test would search nothing")
	}
	for sink, b := range sinks {
		if len(b) == 0 {
			continue
		}
		for name, c := range canaries {
			if bytes.Contains(b, []byte(c)) {
				t.Errorf("%s leaked into %s", name, sink)
			}
		}
	}
}

// TestAgentLeavesMidFlow: the agent leaves while the customer is in the
// flow; the gateway learns it from the Notifications API, the customer
// continues, and the path that would return to the agent takes the flow's
// on_agent_gone transfer, carried to the inbound flow as custom
// attributes.
func TestAgentLeavesMidFlow(t *testing.T) {
	s, _ := sessionStack(t, t.TempDir(), nil, "testdata/sessions")
	ctx := context.Background()
	from := "5511955550102"
	send := func(text string) {
		t.Helper()
		if _, err := s.WA.SendCustomerMessage(ctx, waemu.CustomerMessage{From: from, Name: "Bo", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	send("hello " + label(from))
	waitFor(t, "the first message", 20*time.Second, func() bool { return len(receivedTexts(s.GC)[from]) == 1 })
	conv, _ := s.GC.ConversationFor(from)
	if _, err := s.GC.SendAgentMessage(ctx, conv, "/secure pin-check account=AC-8"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the prompt", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "6-digit code") })
	topic := "v2.detail.events.conversation." + conv + ".user.end"
	waitFor(t, "the subscription to the agent leaving", 20*time.Second, func() bool {
		for _, ch := range s.GC.NotificationChannels() {
			for _, tp := range ch.Topics {
				if tp == topic {
					return true
				}
			}
		}
		return false
	})
	if _, err := s.GC.AgentLeave(conv); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the session to learn the agent left", 20*time.Second, func() bool {
		rec, err := s.Program.sessions.Get(ctx, sessionOf(t, s, from))
		return err == nil && !rec.AgentPresent
	})
	send("482913")
	waitFor(t, "the confirmation", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "Use the code") })
	send("yes")
	waitFor(t, "the transfer message", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "transferring you") })
	waitFor(t, "the routing attributes", 20*time.Second, func() bool {
		for _, m := range s.GC.Received() {
			if m.FromID == from && m.CustomAttributes["secureflow.outcome"] == "agent_left" && m.CustomAttributes["secureflow.queue"] == "Support" {
				return true
			}
		}
		return false
	})
}

// sessionOf returns the id of the customer's latest session.
func sessionOf(t *testing.T, s *stack, customer string) string {
	t.Helper()
	st := s.Program.store.(interface {
		ActiveSession(context.Context, string) (store.SessionRecord, error)
	})
	rec, err := st.ActiveSession(context.Background(), customer)
	if err != nil {
		t.Fatalf("no active session for %s: %v", customer, err)
	}
	return rec.ID
}

// apiKey configures a full-scope API key on the stack and returns it.
func apiKey(t *testing.T) (string, func(*config.Config)) {
	t.Helper()
	key, hash, err := httpapi.NewKey("testkey1")
	if err != nil {
		t.Fatal(err)
	}
	return key, func(c *config.Config) {
		c.API.Keys = append(c.API.Keys, config.APIKey{ID: "testkey1", Hash: hash,
			Scopes: []string{"sessions:write", "sessions:read", "events:write", "actions:invoke"}})
	}
}

// callAPI makes an authenticated /v1 call and decodes the JSON answer.
func callAPI(t *testing.T, s *stack, key, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode
}

// TestSelfServicePasswordReset runs the reset-password example through the
// API: a bot starts it, the customer types a one-time code and a new
// password in the chat, the data actions check and set them, and the
// conversation is disconnected. The password reaches the account service
// and nothing else.
func TestSelfServicePasswordReset(t *testing.T) {
	dir := t.TempDir()
	key, withKey := apiKey(t)
	s, logs := startStack(t, stackOptions{DataDir: dir, Tune: withKey})
	ctx := context.Background()
	from := "5511955550103"
	password := fmt.Sprintf("Canary-%d-pw", rand.IntN(1e9))
	send := func(text string) {
		t.Helper()
		if _, err := s.WA.SendCustomerMessage(ctx, waemu.CustomerMessage{From: from, Name: "Cy", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	send("I forgot my password " + label(from))
	waitFor(t, "the first message", 20*time.Second, func() bool { return len(receivedTexts(s.GC)[from]) == 1 })

	var started map[string]any
	code := callAPI(t, s, key, http.MethodPost, "/v1/secure-sessions", map[string]any{
		"flow": "reset-password", "mode": "self_service", "conversation": from, "inputs": map[string]any{"account_id": "AC-42"},
	}, &started)
	if code != http.StatusCreated && code != http.StatusOK && code != http.StatusAccepted {
		t.Fatalf("start: %d %v", code, started)
	}
	id, _ := started["id"].(string)
	if id == "" {
		t.Fatalf("start answered no id: %v", started)
	}
	var conflict map[string]any
	if code := callAPI(t, s, key, http.MethodPost, "/v1/secure-sessions", map[string]any{
		"flow": "reset-password", "conversation": from, "inputs": map[string]any{"account_id": "AC-42"},
	}, &conflict); code != http.StatusConflict {
		t.Fatalf("a second session on the conversation: %d %v, want 409", code, conflict)
	}
	waitFor(t, "the code prompt", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "6-digit code to ••••") })
	otp := s.Pay.OTP("AC-42")
	send(otp)
	waitFor(t, "the password prompt", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "Type your new password") })
	send(password)
	waitFor(t, "the second password prompt", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "again") })
	send(password)
	waitFor(t, "the end", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "Your password has been changed") })
	var got map[string]any
	waitFor(t, "the session to end", 20*time.Second, func() bool {
		callAPI(t, s, key, http.MethodGet, "/v1/secure-sessions/"+id, nil, &got)
		return got["status"] == "ended"
	})
	if got["outcome"] != "changed" {
		t.Fatalf("session = %v, want outcome changed", got)
	}
	defer func() {
		if t.Failed() {
			t.Log(grepLines(logs.String(), "error"), grepLines(logs.String(), "warn"))
		}
	}()
	waitFor(t, "the conversation to be disconnected", 20*time.Second, func() bool {
		for _, c := range s.GC.Conversations() {
			if c.CustomerID == from && c.State == "disconnected" {
				return true
			}
		}
		return false
	})
	upstream := bytes.Join(s.Pay.Requests(), []byte("\n"))
	if !bytes.Contains(upstream, []byte(password)) {
		t.Fatal("the password did not reach the account service: the leak check below would prove nothing")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	assertAbsent(t, dir, map[string]string{"password": password, "one-time code": otp}, map[string][]byte{
		"contact-centre raw bodies": bytes.Join(s.GC.RawBodies(), []byte("\n")),
		"customer raw bodies":       rawSent(s.WA),
		"logs":                      []byte(logs.String()),
	})
}

var (
	linkRE = regexp.MustCompile(`https?://[^\s]+/s/[A-Za-z0-9_-]+`)
	csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// submitLink opens a secure link and submits fields as a browser would.
func submitLink(t *testing.T, link string, fields map[string]string) (int, string) {
	t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, string(page)
	}
	m := csrfRE.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF field in the form:\n%s", page)
	}
	form := url.Values{"csrf": {string(m[1])}}
	for k, v := range fields {
		form.Set("f-"+k, v)
	}
	resp, err = http.PostForm(link, form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body)
}

// TestCardPaymentBySecureLink runs the take-payment example end to end:
// agent command, secure link, masked read-back, the payment action with
// the real card, return to the reserved agent with a sanitized summary.
// The card reaches the payment processor and nothing else.
func TestCardPaymentBySecureLink(t *testing.T) {
	dir := t.TempDir()
	s, logs := startStack(t, stackOptions{DataDir: dir})
	ctx := context.Background()
	from := "5511955550104"
	card := canaryDigits(t, "4", 16, detect.ValidCard)
	send := func(text string) {
		t.Helper()
		if _, err := s.WA.SendCustomerMessage(ctx, waemu.CustomerMessage{From: from, Name: "Di", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	send("I want to pay my order " + label(from))
	waitFor(t, "the first message", 20*time.Second, func() bool { return len(receivedTexts(s.GC)[from]) == 1 })
	conv, _ := s.GC.ConversationFor(from)
	if _, err := s.GC.SendAgentMessage(ctx, conv, "/secure take-payment amount=49.90 order_id=A-1001"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the secure link", 20*time.Second, func() bool { return linkRE.MatchString(lastSent(s, from)) })
	link := linkRE.FindString(lastSent(s, from))
	for _, text := range receivedTexts(s.GC)[from] {
		if strings.Contains(text, "/s/") {
			t.Fatal("the secure link reached the contact centre")
		}
	}
	send(card) // typed in the chat by mistake: never forwarded
	waitFor(t, "the reminder to use the link", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "secure link") })
	code, page := submitLink(t, link, map[string]string{"card": card, "expiry": "12/" + time.Now().AddDate(3, 0, 0).Format("06"), "cvv": "737"})
	if strings.Contains(page, card) {
		t.Fatal("the confirmation page shows the card number; it must show the mask only")
	}
	if code != http.StatusOK {
		t.Fatalf("submit: %d\n%s", code, page)
	}
	if code, _ := submitLink(t, link, nil); code != http.StatusGone {
		t.Fatalf("reusing the link: %d, want 410", code)
	}
	waitFor(t, "the read-back", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "ending in "+card[12:]) })
	waitFor(t, "the agent's masked progress", 20*time.Second, func() bool {
		return strings.Contains(joined(receivedTexts(s.GC)[from]), "received")
	})
	send("yes")
	waitFor(t, "the summary to the agent", 20*time.Second, func() bool {
		return strings.Contains(joined(receivedTexts(s.GC)[from]), "Payment approved: BRL 49.90 for order A-1001")
	})
	waitFor(t, "the customer's confirmation", 20*time.Second, func() bool {
		return strings.Contains(joined(sentTexts(s.WA)[from]), "Payment approved, thank you")
	})
	if n := s.Pay.ChargeCount(); n != 1 {
		t.Fatalf("charged %d times, want 1", n)
	}
	if !bytes.Contains(bytes.Join(s.Pay.Requests(), nil), []byte(card)) {
		t.Fatal("the card did not reach the processor: the leak check below would prove nothing")
	}
	// Statuses of the session's own messages are not relayed as receipts,
	// and nothing is dead-lettered.
	if err := s.WA.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the outbox to drain", 20*time.Second, func() bool {
		st, err := s.Program.store.Stats(ctx)
		return err == nil && st.OutboxPending == 0 && st.InboxPending == 0
	})
	if dl, err := s.Program.store.DeadLetters(ctx, 10); err != nil || len(dl) > 0 {
		t.Fatalf("dead letters: %+v, %v", dl, err)
	}
	// Every reveal is audited, and the card security code is erased once
	// the charge has answered.
	audit := s.Program.store.(*sqlite.DB).Vault()
	waitFor(t, "the CVV erasure", 20*time.Second, func() bool {
		entries, err := audit.Audit(ctx, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		var revealedCard, erasedCVV bool
		for _, e := range entries {
			revealedCard = revealedCard || (e.Action == vault.ActionReveal && e.Kind == vault.KindCard && e.Principal == "flow:take-payment" && e.Purpose == "take-payment/charge")
			erasedCVV = erasedCVV || (e.Action == vault.ActionDelete && e.Kind == vault.KindCVV && e.Purpose == "erase-after-action")
		}
		return revealedCard && erasedCVV
	})
	resp, err := http.Get(s.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	assertAbsent(t, dir, map[string]string{"card": card}, map[string][]byte{
		"contact-centre raw bodies": bytes.Join(s.GC.RawBodies(), []byte("\n")),
		"customer raw bodies":       rawSent(s.WA),
		"logs":                      []byte(logs.String()),
		"metrics":                   metrics,
	})
}

// customer returns a function that sends the customer's messages.
func customer(t *testing.T, s *stack, from string) func(string) {
	return func(text string) {
		t.Helper()
		if _, err := s.WA.SendCustomerMessage(context.Background(), waemu.CustomerMessage{From: from, Name: "Ed", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
}

// startBySecureCommand opens a conversation and has the agent type cmd.
func startBySecureCommand(t *testing.T, s *stack, from, cmd string) (send func(string), conv string) {
	t.Helper()
	send = customer(t, s, from)
	send("hello " + label(from))
	waitFor(t, "the first message", 20*time.Second, func() bool { return len(receivedTexts(s.GC)[from]) >= 1 })
	conv, ok := s.GC.ConversationFor(from)
	if !ok {
		t.Fatal("no conversation")
	}
	if _, err := s.GC.SendAgentMessage(context.Background(), conv, cmd); err != nil {
		t.Fatal(err)
	}
	return send, conv
}

// TestUnreservedFlowReleasesTheAgent: without reservation the agent is
// told and released (their participant disconnected) as the flow starts,
// sees no progress, and the flow's transfer goes to the inbound message
// flow as custom attributes.
func TestUnreservedFlowReleasesTheAgent(t *testing.T) {
	s, _ := sessionStack(t, t.TempDir(), nil, "testdata/sessions")
	from := "5511955550105"
	send, conv := startBySecureCommand(t, s, from, "/secure escalate")
	waitFor(t, "the prompt", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "6-digit code") })
	waitFor(t, "the release notice", 20*time.Second, func() bool {
		return strings.Contains(joined(receivedTexts(s.GC)[from]), "You are released from this conversation")
	})
	waitFor(t, "the agent's release", 20*time.Second, func() bool {
		for _, c := range s.GC.Conversations() {
			if c.ID != conv {
				continue
			}
			for _, p := range c.Participants {
				if p.Purpose == "agent" && p.State == "disconnected" {
					return true
				}
			}
		}
		return false
	})
	send("123456")
	waitFor(t, "the routing attributes", 20*time.Second, func() bool {
		for _, m := range s.GC.Received() {
			if m.FromID == from && m.CustomAttributes["secureflow.queue"] == "Support" && m.CustomAttributes["reason"] == "verification" &&
				m.CustomAttributes["secureflow.outcome"] == "verified" {
				return true
			}
		}
		return false
	})
	if len(s.GC.Transfers()) != 0 {
		t.Fatal("a released agent was replaced")
	}
	if strings.Contains(joined(receivedTexts(s.GC)[from]), "received") {
		t.Fatal("an unreserved agent was shown progress")
	}
	// The notice goes to WhatsApp, the transfer to Genesys: two lanes,
	// delivered in parallel, so the notice may land after the transfer.
	waitFor(t, "the customer's transfer notice", 20*time.Second, func() bool {
		return strings.Contains(joined(sentTexts(s.WA)[from]), "a specialist will continue")
	})
}

// TestReservedTransferReplacesTheAgent: a reserved agent still present at
// a transfer is replaced with the queue (genesys.md §3.1).
func TestReservedTransferReplacesTheAgent(t *testing.T) {
	s, _ := sessionStack(t, t.TempDir(), nil, "testdata/sessions")
	from := "5511955550111"
	send, conv := startBySecureCommand(t, s, from, "/secure pin-check account=AC-11")
	waitFor(t, "the prompt", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "6-digit code") })
	send("x")
	send("y") // two invalid entries: the failure path, a transfer in this flow
	waitFor(t, "the transfer", 20*time.Second, func() bool {
		for _, tr := range s.GC.Transfers() {
			if tr.ConversationID == conv && tr.QueueName == "Support" {
				return true
			}
		}
		return false
	})
}

// TestStepTimeoutFiresOnce: a customer who does not answer is timed out
// by the step's timer, which takes the step's on_timeout path once.
func TestStepTimeoutFiresOnce(t *testing.T) {
	s, _ := sessionStack(t, t.TempDir(), nil, "testdata/sessions")
	from := "5511955550106"
	startBySecureCommand(t, s, from, "/secure escalate")
	waitFor(t, "the prompt", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "6-digit code") })
	waitFor(t, "the timeout", 30*time.Second, func() bool { return strings.Contains(lastSent(s, from), "did not hear back") })
	waitFor(t, "the disconnect", 20*time.Second, func() bool {
		for _, c := range s.GC.Conversations() {
			if c.CustomerID == from && c.State == "disconnected" {
				return true
			}
		}
		return false
	})
	time.Sleep(1500 * time.Millisecond) // a second timer tick must not fire again
	n := 0
	for _, text := range sentTexts(s.WA)[from] {
		if strings.Contains(text, "did not hear back") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the timeout message was sent %d times, want 1", n)
	}
}

// TestCustomerCancels: "cancelar" ends the session through the flow's
// on_cancel path, back to the reserved agent, and is not forwarded.
func TestCustomerCancels(t *testing.T) {
	s, _ := sessionStack(t, t.TempDir(), nil, "testdata/sessions")
	from := "5511955550107"
	send, _ := startBySecureCommand(t, s, from, "/secure pin-check account=AC-9")
	waitFor(t, "the prompt", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "6-digit code") })
	send("cancelar")
	waitFor(t, "the summary", 20*time.Second, func() bool {
		return strings.Contains(joined(receivedTexts(s.GC)[from]), "Secure session ended (cancelled): The customer cancelled.")
	})
	for _, text := range receivedTexts(s.GC)[from] {
		if text == "cancelar" {
			t.Fatal("the cancel word reached the contact centre")
		}
	}
	send("still there? " + label(from))
	waitFor(t, "the relay to resume", 20*time.Second, func() bool {
		return strings.Contains(joined(receivedTexts(s.GC)[from]), "still there? ")
	})
}

// TestSelfServiceIdentityCheck runs the verify-identity example: a bot
// starts it through the API, the customer enters CPF and date of birth on
// a secure link, the action checks them, and the transfer carries the
// result (masked CPF, token, customer id) as custom attributes. The CPF
// reaches the verification service and nothing else.
func TestSelfServiceIdentityCheck(t *testing.T) {
	dir := t.TempDir()
	key, withKey := apiKey(t)
	s, logs := startStack(t, stackOptions{DataDir: dir, Tune: withKey})
	from := "5511955550108"
	cpf := canaryDigits(t, "", 11, detect.ValidCPF)
	send := customer(t, s, from)
	send("oi " + label(from))
	waitFor(t, "the first message", 20*time.Second, func() bool { return len(receivedTexts(s.GC)[from]) == 1 })
	var started map[string]any
	if code := callAPI(t, s, key, http.MethodPost, "/v1/secure-sessions", map[string]any{
		"flow": "verify-identity", "conversation": from, "locale": "pt-BR",
	}, &started); code >= 300 {
		t.Fatalf("start: %d %v", code, started)
	}
	id, _ := started["id"].(string)
	waitFor(t, "the secure link", 20*time.Second, func() bool { return linkRE.MatchString(lastSent(s, from)) })
	link := linkRE.FindString(lastSent(s, from))
	if code, page := submitLink(t, link, map[string]string{"cpf": cpf, "birth_date": "1990-05-17"}); code != http.StatusOK {
		t.Fatalf("submit: %d\n%s", code, page)
	}
	waitFor(t, "the transfer message", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "transferir você para um especialista") })
	var attrs map[string]string
	waitFor(t, "the routing attributes", 20*time.Second, func() bool {
		for _, m := range s.GC.Received() {
			if m.FromID == from && m.CustomAttributes["secureflow.outcome"] == "verified" {
				attrs = m.CustomAttributes
				return true
			}
		}
		return false
	})
	if attrs["identity_verified"] != "true" || attrs["customer_id"] == "" || attrs["secureflow.queue"] != "Customer Care" ||
		!strings.HasSuffix(attrs["cpf_masked"], cpf[9:]+"]") || attrs["cpf_token"] == "" || attrs["secureflow.session"] != id {
		t.Fatalf("attributes = %v", attrs)
	}
	var got map[string]any
	waitFor(t, "the session to end", 20*time.Second, func() bool {
		callAPI(t, s, key, http.MethodGet, "/v1/secure-sessions/"+id, nil, &got)
		return got["status"] == "ended"
	})
	if outs, _ := got["outputs"].(map[string]any); outs["cpf_token"] != attrs["cpf_token"] {
		t.Fatalf("session outputs = %v", got)
	}
	if !bytes.Contains(bytes.Join(s.Pay.Requests(), nil), []byte(cpf)) {
		t.Fatal("the CPF did not reach the verification service: the leak check below would prove nothing")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	assertAbsent(t, dir, map[string]string{"cpf": cpf}, map[string][]byte{
		"contact-centre raw bodies": bytes.Join(s.GC.RawBodies(), []byte("\n")),
		"customer raw bodies":       rawSent(s.WA),
		"logs":                      []byte(logs.String()),
	})
}

// TestPaymentServiceFailureFollowsOnError: the processor failing is an
// answer, not a hang: the action step takes on_error, the customer is told,
// and the agent gets the flow's summary for that path.
func TestPaymentServiceFailureFollowsOnError(t *testing.T) {
	s, _ := startStack(t, stackOptions{DataDir: t.TempDir()})
	from := "5511955550109"
	card := canaryDigits(t, "4", 16, detect.ValidCard)
	send, _ := startBySecureCommand(t, s, from, "/secure take-payment amount=10.00 order_id=A-2002")
	waitFor(t, "the secure link", 20*time.Second, func() bool { return linkRE.MatchString(lastSent(s, from)) })
	if code, page := submitLink(t, linkRE.FindString(lastSent(s, from)), map[string]string{"card": card, "expiry": "12/" + time.Now().AddDate(3, 0, 0).Format("06"), "cvv": "123"}); code != http.StatusOK {
		t.Fatalf("submit: %d\n%s", code, page)
	}
	waitFor(t, "the read-back", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "ending in") })
	s.Pay.FailNext(100) // the first attempt and every retry of the idempotent charge fail
	send("yes")
	waitFor(t, "the error path", 30*time.Second, func() bool {
		return strings.Contains(joined(receivedTexts(s.GC)[from]), "The payment service did not answer for order A-2002")
	})
	// The customer's message and the agent's summary are on two lanes,
	// delivered in parallel.
	waitFor(t, "the customer's notice", 20*time.Second, func() bool {
		return strings.Contains(joined(sentTexts(s.WA)[from]), "We could not confirm your payment")
	})
}

// TestAgentMessagesDeliveredAtOnceWhenConfigured: with hold_agent_messages
// off, the agent's messages reach the customer during the session.
func TestAgentMessagesDeliveredAtOnceWhenConfigured(t *testing.T) {
	s, _ := sessionStack(t, t.TempDir(), func(c *config.Config) { c.Sessions.HoldAgentMessages = false }, "testdata/sessions")
	from := "5511955550110"
	_, conv := startBySecureCommand(t, s, from, "/secure pin-check account=AC-10")
	waitFor(t, "the prompt", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "6-digit code") })
	if _, err := s.GC.SendAgentMessage(context.Background(), conv, "no rush"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the agent's message", 20*time.Second, func() bool { return lastSent(s, from) == "no rush" })
}

// TestInvokeActionWithTokens: a contact-centre data action passes a vault
// token; the gateway swaps in the value for the upstream call only and
// answers with the sanitized result. The reveal is audited under the API
// key.
func TestInvokeActionWithTokens(t *testing.T) {
	key, withKey := apiKey(t)
	s, _ := startStack(t, stackOptions{DataDir: t.TempDir(), Tune: withKey})
	ctx := context.Background()
	var res map[string]any
	if code := callAPI(t, s, key, http.MethodPost, "/v1/actions/accounts.send_otp/invoke", map[string]any{
		"inputs": map[string]any{"account_id": "AC-5"}}, &res); code != http.StatusOK {
		t.Fatalf("send_otp: %d %v", code, res)
	}
	otp := s.Pay.OTP("AC-5")
	tok, err := s.Program.vault.Tokenize(ctx, vault.KindPIN, secret.FromString(otp), vault.Options{Principal: "test", Retention: vault.RetainDays(1)})
	if err != nil {
		t.Fatal(err)
	}
	if code := callAPI(t, s, key, http.MethodPost, "/v1/actions/accounts.verify_otp/invoke", map[string]any{
		"inputs": map[string]any{"account_id": "AC-5", "code": tok.ID}}, &res); code != http.StatusOK {
		t.Fatalf("verify_otp: %d %v", code, res)
	}
	if outs, _ := res["outputs"].(map[string]any); outs["valid"] != true {
		t.Fatalf("verify_otp answered %v", res)
	}
	entries, err := s.Program.store.(*sqlite.DB).Vault().Audit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	audited := false
	for _, e := range entries {
		audited = audited || (e.Action == vault.ActionReveal && e.Token == tok.ID && e.Principal == "api:testkey1" && e.Outcome == vault.OutcomeOK)
	}
	if !audited {
		t.Fatal("the reveal was not audited under the API key")
	}
	if code := callAPI(t, s, key, http.MethodPost, "/v1/actions/nope/invoke", map[string]any{"inputs": map[string]any{}}, &res); code != http.StatusNotFound {
		t.Fatalf("unknown action: %d %v", code, res)
	}
}

// TestPasswordByWhatsAppFlow runs the reset-password-form example: the new
// password is typed in a WhatsApp Flow whose data goes encrypted to the
// gateway's data endpoint; the completion message carries only the flow
// token and is not forwarded; the password reaches the account service and
// nothing else.
func TestPasswordByWhatsAppFlow(t *testing.T) {
	dir := t.TempDir()
	key, withKey := apiKey(t)
	s, logs := startStack(t, stackOptions{DataDir: dir, Tune: withKey})
	ctx := context.Background()
	from := "5511955550112"
	password := fmt.Sprintf("Flow-canary-%d", rand.IntN(1e9))
	send := customer(t, s, from)
	send("reset please " + label(from))
	waitFor(t, "the first message", 20*time.Second, func() bool { return len(receivedTexts(s.GC)[from]) == 1 })
	var started map[string]any
	if code := callAPI(t, s, key, http.MethodPost, "/v1/secure-sessions", map[string]any{
		"flow": "reset-password-form", "conversation": from, "inputs": map[string]any{"account_id": "AC-77"},
	}, &started); code >= 300 {
		t.Fatalf("start: %d %v", code, started)
	}
	var token string
	waitFor(t, "the Flow message", 20*time.Second, func() bool {
		for _, m := range s.WA.FlowMessages(from) {
			token = m.FlowToken
		}
		return token != ""
	})
	// An invalid password is refused on the form itself; then a good one.
	res, err := s.WA.SubmitFlow(ctx, from, token, map[string]string{"new_password": "short"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Completed {
		t.Fatal("an invalid password completed the form")
	}
	res, err = s.WA.SubmitFlow(ctx, from, token, map[string]string{"new_password": password})
	if err != nil || !res.Completed {
		t.Fatalf("submit: %+v, %v", res, err)
	}
	waitFor(t, "the end", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "Your password has been changed") })
	if got := sentTexts(s.WA)[from]; len(got) != 2 { // the form's prompt, then the closing message
		t.Fatalf("the customer got %q, want only the form's prompt and the closing message", got)
	}
	// whatsapp.md §3.6: a used flow token is answered 427.
	if again, err := s.WA.SubmitFlow(ctx, from, token, map[string]string{"new_password": password}); err != nil || again.Completed ||
		len(again.Responses) == 0 || again.Responses[0].Status != 427 {
		t.Fatalf("a used flow token: %+v, %v; want 427", again, err)
	}
	for _, m := range s.GC.Received() {
		if m.FromID == from && strings.Contains(m.Text, "nfm_reply") {
			t.Fatal("the Flow's completion was forwarded to the contact centre")
		}
	}
	if !bytes.Contains(bytes.Join(s.Pay.Requests(), nil), []byte(password)) {
		t.Fatal("the password did not reach the account service: the leak check below would prove nothing")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	assertAbsent(t, dir, map[string]string{"password": password}, map[string][]byte{
		"contact-centre raw bodies": bytes.Join(s.GC.RawBodies(), []byte("\n")),
		"customer raw bodies":       rawSent(s.WA),
		"logs":                      []byte(logs.String()),
	})
}

// TestDemoBotHandOver: the demo page's bot starts a self-service flow.
func TestDemoBotHandOver(t *testing.T) {
	s, _ := startStack(t, stackOptions{DataDir: t.TempDir()})
	from := "5511955550113"
	customer(t, s, from)("oi " + label(from))
	waitFor(t, "the first message", 20*time.Second, func() bool { return len(receivedTexts(s.GC)[from]) == 1 })
	resp, err := http.Post(s.URL()+"/demo/secure-sessions", "application/json",
		strings.NewReader(`{"flow":"reset-password","conversation":"`+from+`","inputs":{"account_id":"AC-1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("demo start: %d", resp.StatusCode)
	}
	waitFor(t, "the code prompt", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "6-digit code") })
	var otps map[string]map[string]string
	r2, err := http.Get(s.URL() + "/emulator/payments/otps")
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Body.Close()
	if err := json.NewDecoder(r2.Body).Decode(&otps); err != nil || len(otps["otps"]["AC-1"]) != 6 {
		t.Fatalf("otps = %v, %v", otps, err)
	}
}

// TestAgentDisconnectedEventThroughAPI: an integration without the
// Notifications API reports that the agent left with POST
// /v1/conversations/{id}/events; the session then ends through its
// on_agent_gone path.
func TestAgentDisconnectedEventThroughAPI(t *testing.T) {
	key, withKey := apiKey(t)
	s, _ := startStack(t, stackOptions{DataDir: t.TempDir(), FlowsFromDisk: true, Tune: func(c *config.Config) {
		withKey(c)
		c.Sessions.Flows = []string{"testdata/sessions"}
		c.Sessions.Actions = "../../examples/actions.yaml"
	}})
	from := "5511955550114"
	send, conv := startBySecureCommand(t, s, from, "/secure pin-check account=AC-14")
	waitFor(t, "the prompt", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "6-digit code") })
	var problem map[string]any
	if code := callAPI(t, s, key, http.MethodPost, "/v1/conversations/"+conv+"/events", map[string]any{"type": "agent_disconnected"}, &problem); code != http.StatusNoContent {
		t.Fatalf("event: %d %v", code, problem)
	}
	id := sessionOf(t, s, from)
	waitFor(t, "the session to learn the agent left", 20*time.Second, func() bool {
		var got map[string]any
		callAPI(t, s, key, http.MethodGet, "/v1/secure-sessions/"+id, nil, &got)
		return got["agent_present"] == false
	})
	send("482914")
	waitFor(t, "the confirmation", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "Use the code") })
	send("yes")
	waitFor(t, "the transfer message", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "transferring you") })
	if code := callAPI(t, s, key, http.MethodPost, "/v1/conversations/"+conv+"/events", map[string]any{"type": "agent_disconnected"}, &problem); code != http.StatusNotFound {
		t.Fatalf("an event for a conversation without a session: %d %v, want 404", code, problem)
	}
}
